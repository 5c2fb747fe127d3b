"""The numba kernels of the semi-analytic Cherenkov model (`cherenkov`): the emitting
track length of a (sub-)shower and the render of its emission points into the images of
every telescope; their ``params`` array (`model_params`). Pure functions on plain floats
and arrays; `cherenkov.CherenkovImageModel` resolves the traits and calls them (they are
re-exported there). The render of single showers without a field of view and the
light-pool envelope tabulated with it are in `single_shower`.
"""

import numpy as np
from numba import njit

from .atmosphere import (
    N_EXCESS0,
    RHO0_G_CM3,
    SCALE_HEIGHT_M,
    X0_G_CM2,
    height_of_vertical_depth,
    mean_refractive_excess,
    vertical_depth,
)

__all__ = [
    "C_M_PER_NS",
    "CRITICAL_ENERGY_TEV",
    "MIN_DISTANCE_M",
    "PHOTONS_PER_RADIATION_LENGTH",
    "draw_and_render_subshowers",
    "model_params",
    "render_bunches",
    "render_subshowers",
    "subshower_track",
    "time_moments",
]

C_M_PER_NS = 0.299792458
#: light emitted closer than this to a telescope is ignored (tail of the cascade near the
#: ground; mostly outside the field of view, and a source of huge sampling variance)
MIN_DISTANCE_M = 1000.0
CRITICAL_ENERGY_TEV = 85e-6
#: Cherenkov photons (300-600 nm) per metre per particle at sea level, 2 pi alpha
#: sin^2(theta_c) (1/l1 - 1/l2); times X0 / rho gives photons per radiation length,
#: independent of height because n - 1 scales with density.
PHOTONS_PER_RADIATION_LENGTH = 44.0 * X0_G_CM2 / RHO0_G_CM3 / 100.0


def model_params(
    lateral_scale: float,
    electron_angle_deg: float,
    ring_width: float,
    extinction_depth_g_cm2: float,
    psf_sigma_deg: float,
    post_max_quench_per_x0: float,
    yield_energy_index: float,
) -> np.ndarray:
    """The ``params`` array of the kernels (`render_subshowers`) from the trait values of
    `CherenkovImageModel` (angles in deg converted to rad)."""
    return np.array(
        [
            lateral_scale,
            np.deg2rad(electron_angle_deg),
            ring_width,
            extinction_depth_g_cm2,
            np.deg2rad(psf_sigma_deg),
            post_max_quench_per_x0,
            yield_energy_index,
        ]
    )


@njit(cache=True)
def _perpendicular_basis(d):
    ref = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(d, ref)
    e1 /= np.sqrt(np.sum(e1**2))
    e2 = np.cross(d, e1)
    return e1, e2


@njit(cache=True)
def _interp(x, xp, fp):
    """``np.interp(x, xp, fp)`` of one float ``x`` (``xp`` increasing): the same index
    (the last ``j`` with ``xp[j] <= x``) and the same arithmetic as numba's (and NumPy's)
    implementation, so the same value, without its two array allocations per call."""
    n = xp.shape[0]
    if np.isnan(x):
        return x
    if x > xp[n - 1]:
        return fp[n - 1]
    if x < xp[0]:
        return fp[0]
    # branch-free bisection (a select, no mispredicted jumps): the last j with
    # xp[j] <= x, given xp[0] <= x
    j, length = 0, n
    while length > 1:
        half = length >> 1
        j = j + half if xp[j + half] <= x else j
        length -= half
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    value = slope * (x - xp[j]) + fp[j]
    if np.isnan(value):
        # NumPy's fallback for a non-finite slope: interpolate from the other end
        value = slope * (x - xp[j + 1]) + fp[j + 1]
        if np.isnan(value) and fp[j] == fp[j + 1]:
            value = fp[j]
    return value


@njit(cache=True)
def _greisen(b, t):
    s = 3 * t / (t + 2 * b)
    return 0.31 / np.sqrt(b) * np.exp(t * (1 - 1.5 * np.log(s)))


@njit(cache=True)
def _emitting(b, t, quench):
    """Greisen profile times the quench past its maximum (t_max = b = ln(E / E_c)):
    exp(-quench (t - b)) for t > b."""
    return _greisen(b, t) * np.exp(-quench * max(t - b, 0.0))


@njit(cache=True)
def subshower_track(energy_tev, quench=0.0):
    """(depth grid in X0, normalised cumulative emitting track length, total emitting track
    length in X0) of the Greisen profile quenched past its maximum by ``exp(-quench (t -
    t_max))`` (``quench`` per radiation length, 0: the plain Greisen track length)."""
    b = np.log(energy_tev / CRITICAL_ENERGY_TEV)
    t_grid = np.linspace(1e-3, 4 * b + 12, 160)
    cdf = np.zeros(160)
    prev = _emitting(b, t_grid[0], quench)
    for j in range(1, 160):
        cur = _emitting(b, t_grid[j], quench)
        cdf[j] = cdf[j - 1] + 0.5 * (cur + prev) * (t_grid[j] - t_grid[j - 1])
        prev = cur
    total = cdf[-1]
    return t_grid, cdf / total, total


@njit(cache=True)
def _axis_coordinates(pos, start, d):
    """(coordinate along ``d`` from ``start``, distance from the line) of ``pos``."""
    a = (pos[0] - start[0]) * d[0] + (pos[1] - start[1]) * d[1] + (pos[2] - start[2]) * d[2]
    q0 = pos[0] - start[0] - a * d[0]
    q1 = pos[1] - start[1] - a * d[1]
    q2 = pos[2] - start[2] - a * d[2]
    return a, np.sqrt(q0 * q0 + q1 * q1 + q2 * q2)


#: margin (rad) of `_ring_edge` over the ring's outer edge: rounding is 1e-15 rad
_EDGE_MARGIN_RAD = 1e-7


@njit(cache=True)
def _ring_edge(exp_h, ring_hi):
    """Upper bound (rad) of the outer edge of the Cherenkov ring that `render_bunches`
    accepts, ``theta_c (1 + 5 ring_w) + 1e-9``, at ``exp_h`` = exp(-h / H), without the
    arccos: ``theta_c <= sqrt(2.002 (n - 1))``, as ``1 - cos(theta) >= theta^2 / 2.002``
    for theta < 0.1 rad (inf beyond: no bound)."""
    excess = N_EXCESS0 * exp_h
    if excess > 0.004:
        return np.inf
    return np.sqrt(2.002 * excess) * ring_hi + 1e-9 + _EDGE_MARGIN_RAD


@njit(cache=True)
def _may_reach(alpha, along, r, edge, active, tel_along, tel_off_axis):
    """False when the emission point (``along`` the axis from its start, ``r`` off it,
    electron at ``alpha`` from the downward axis) sends its cone's ring (out to
    ``edge``, `_ring_edge`) past every active telescope: then `render_bunches` rejects
    it for each of them (``cos_psi < cos_lo``), and its other dozen transcendental
    functions need not be computed. A strict bound, so the same images: the telescope is
    seen at ``gamma <= tan(gamma) <= (off-axis distance + r) / (distance along the
    axis)`` from the axis, so ``psi >= alpha - gamma``."""
    if alpha > np.pi:
        return True
    for k in range(active.shape[0]):
        if not active[k]:
            continue
        below = along - tel_along[k]
        if below <= 0.0 or alpha - (tel_off_axis[k] + r) / below <= edge:
            return True
    return False


@njit(cache=True)
def render_subshowers(
    energy,
    x_start,
    start,
    d_sub,
    n_bunch,
    photons_per_track,
    d_main,
    core,
    rnd,
    gauss,
    active,
    tel_pos,
    obs_height,
    alt0,
    az0,
    focal,
    lut,
    lut_x0,
    lut_y0,
    lut_cell,
    params,
    pe,
    t_sum,
    t2_sum,
):
    """Add the light of electromagnetic (sub-)showers to the images (in place).

    Sub-shower ``s`` has ``n_bunch[s]`` emission points using consecutive rows of ``rnd``
    (uniform, 5 per point) and ``gauss`` (PSF, per telescope); only telescopes with
    ``active[k]`` are rendered (the others use no random numbers of their own, so the
    active ones do not depend on which are skipped).
    ``params`` = `model_params` (lateral scale / Moliere radius, electron angle scale
    (rad), relative Cherenkov ring width, extinction depth (g/cm^2), PSF sigma (rad),
    quench past the maximum (1/X0), energy index of the yield per TeV).
    """
    offset = 0
    for s in range(energy.shape[0]):
        t_grid, cdf, total = subshower_track(energy[s], params[5])
        n_b = n_bunch[s]
        # photons per TeV growing as E^index (from 1 TeV): see `CherenkovImageModel`
        yield_factor = energy[s] ** params[6]
        render_bunches(
            t_grid,
            cdf,
            total * photons_per_track * yield_factor / n_b,
            start[s],
            d_sub[s],
            x_start[s],
            core,
            d_main,
            rnd[offset : offset + n_b],
            gauss[:, offset : offset + n_b],
            active,
            tel_pos,
            obs_height,
            alt0,
            az0,
            focal,
            lut,
            lut_x0,
            lut_y0,
            lut_cell,
            params,
            pe,
            t_sum,
            t2_sum,
        )
        offset += n_b


@njit(cache=True)
def draw_and_render_subshowers(
    rng,
    energy,
    x_start,
    start,
    d_sub,
    n_bunch,
    photons_per_track,
    d_main,
    core,
    active,
    tel_pos,
    obs_height,
    alt0,
    az0,
    focal,
    lut,
    lut_x0,
    lut_y0,
    lut_cell,
    params,
    pe,
    t_sum,
    t2_sum,
):
    """`render_subshowers` with its random numbers drawn here from the
    ``numpy.random.Generator`` ``rng``: ``rnd = rng.uniform(1e-12, 1.0, (n_total, 5))``
    then ``gauss = rng.standard_normal((n_tel, n_total, 2))`` (``n_total`` the sum of
    ``n_bunch``). numba runs NumPy's algorithms on ``rng``'s own bit generator, so these
    are the numbers, and ``rng`` is left in the state, of the two NumPy calls (tested),
    at half their cost (no per-number call through NumPy's generic loop)."""
    n_total = 0
    for s in range(n_bunch.shape[0]):
        n_total += n_bunch[s]
    rnd = rng.uniform(1e-12, 1.0, (n_total, 5))
    gauss = rng.standard_normal((tel_pos.shape[0], n_total, 2))
    render_subshowers(
        energy,
        x_start,
        start,
        d_sub,
        n_bunch,
        photons_per_track,
        d_main,
        core,
        rnd,
        gauss,
        active,
        tel_pos,
        obs_height,
        alt0,
        az0,
        focal,
        lut,
        lut_x0,
        lut_y0,
        lut_cell,
        params,
        pe,
        t_sum,
        t2_sum,
    )


@njit(cache=True)
def _telescope_geometry(tel_pos, obs_height, start, d):
    """Loop invariants of `render_bunches` per telescope: its height, the vertical depth
    above it, exp(-h / H) (`mean_refractive_excess`), its coordinate along the axis
    ``d`` from ``start`` and its distance from that axis."""
    n_tel = tel_pos.shape[0]
    h_tel = np.empty(n_tel)
    xv_tel = np.empty(n_tel)
    exp_tel = np.empty(n_tel)
    tel_along = np.empty(n_tel)
    tel_off_axis = np.empty(n_tel)
    for k in range(n_tel):
        h_tel[k] = obs_height + tel_pos[k, 2]
        xv_tel[k] = vertical_depth(h_tel[k])
        exp_tel[k] = np.exp(-h_tel[k] / SCALE_HEIGHT_M)
        tel_along[k], tel_off_axis[k] = _axis_coordinates(tel_pos[k], start, d)
    return h_tel, xv_tel, exp_tel, tel_along, tel_off_axis


@njit(cache=True)
def _emission_point(start, d, e1, e2, along, r, phi):
    """The point ``along`` the axis ``d`` from ``start``, ``r`` off it at azimuth ``phi``
    in the basis ``e1``, ``e2`` (scalar arithmetic: no temporary arrays)."""
    cp, sp = np.cos(phi), np.sin(phi)
    p0 = start[0] + along * d[0] + r * (cp * e1[0] + sp * e2[0])
    p1 = start[1] + along * d[1] + r * (cp * e1[1] + sp * e2[1])
    p2 = start[2] + along * d[2] + r * (cp * e1[2] + sp * e2[2])
    return p0, p1, p2


@njit(cache=True)
def _electron_direction(d, e1, e2, alpha, beta):
    """The electron's direction, ``alpha`` from the downward axis ``-d``, azimuth ``beta``."""
    ca, sa = np.cos(alpha), np.sin(alpha)
    cb, sb = np.cos(beta), np.sin(beta)
    ed0 = -ca * d[0] + sa * (cb * e1[0] + sb * e2[0])
    ed1 = -ca * d[1] + sa * (cb * e1[1] + sb * e2[1])
    ed2 = -ca * d[2] + sa * (cb * e1[2] + sb * e2[2])
    return ed0, ed1, ed2


@njit(cache=True)
def _cherenkov_ring(exp_h, ring_w):
    """The ring of an emission point at exp(-h / H) = ``exp_h``: (Cherenkov angle, its
    sigma, the norm of its Gaussian profile, the vertical depth of the point, the cosines
    of the ring's outer and inner 5 sigma (+ margin) edges for a cheap rejection before
    the arccos)."""
    theta_c = np.arccos(1.0 / (1.0 + N_EXCESS0 * exp_h))
    sigma = ring_w * theta_c
    norm = 1.0 / ((2 * np.pi) ** 1.5 * sigma * np.sin(theta_c))
    xv = RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M * exp_h
    cos_lo = np.cos(min(theta_c + 5.0 * sigma + 1e-9, np.pi))
    cos_hi = np.cos(max(theta_c - 5.0 * sigma - 1e-9, 0.0))
    return theta_c, sigma, norm, xv, cos_lo, cos_hi


@njit(cache=True)
def _camera_pixel(u0, u1, u2, rot, cam, g0, g1):
    """Pixel (-1: none) where light arriving along ``-u`` lands: `altaz_vector_to_fov`
    of ``(-u0, u1, -u2)`` with ``rot`` = (cos, sin of the pointing azimuth, cos, sin of
    its altitude), blurred by the PSF (standard normal ``g0``, ``g1``), through the
    pixel look-up table; ``cam`` = (focal length, PSF sigma (rad), ``lut``, ``lut_x0``,
    ``lut_y0``, ``lut_cell``) of `render_subshowers`."""
    c0, s0, ca0, sa0 = rot
    focal, psf, lut, lut_x0, lut_y0, lut_cell = cam
    x1 = c0 * -u0 + s0 * u1
    y1 = -s0 * -u0 + c0 * u1
    x2 = ca0 * x1 + sa0 * -u2
    z2 = -sa0 * x1 + ca0 * -u2
    lon = np.arctan2(y1, x2)
    lat = np.arcsin(z2 / np.sqrt(x2 * x2 + y1 * y1 + z2 * z2))
    cx = focal * (lat + psf * g0)
    cy = focal * (lon + psf * g1)
    ix = int((cx - lut_x0) / lut_cell)
    iy = int((cy - lut_y0) / lut_cell)
    if ix < 0 or iy < 0 or ix >= lut.shape[0] or iy >= lut.shape[1]:
        return -1
    return lut[ix, iy]


@njit(cache=True)
def _travel_time(dist, h, h_tel, exp_tel, exp_h):
    """Time (ns) light takes over ``dist`` from height ``h`` down to a telescope at
    ``h_tel``, with the mean refractive excess in between."""
    dh = h - h_tel
    if abs(dh) < 1.0:
        excess = mean_refractive_excess(h_tel, h)
    else:
        excess = N_EXCESS0 * SCALE_HEIGHT_M * (exp_tel - exp_h) / dh
    return dist * (1.0 + excess) / C_M_PER_NS


@njit(cache=True)
def _front_time(p0, p1, p2, core, d_main):
    """Time (ns) of the shower front (the plane through ``core`` perpendicular to the
    axis ``d_main``, there at 0) at the point ``(p0, p1, p2)``."""
    return (
        -((p0 - core[0]) * d_main[0] + (p1 - core[1]) * d_main[1] + (p2 - core[2]) * d_main[2])
        / C_M_PER_NS
    )


@njit(cache=True)
def _deposit(pe, t_sum, t2_sum, k, pix, amp, arrival):
    """Add ``amp`` p.e. arriving at ``arrival`` to pixel ``pix`` of telescope ``k``: to
    the image ``pe`` and its time moments ``t_sum``, ``t2_sum``."""
    pe[k, pix] += amp
    t_sum[k, pix] += amp * arrival
    t2_sum[k, pix] += amp * arrival * arrival


@njit(cache=True)
def render_bunches(
    t_grid,
    cdf,
    weight,
    start,
    d,
    x_start,
    core,
    d_main,
    rnd,
    gauss,
    active,
    tel_pos,
    obs_height,
    alt0,
    az0,
    focal,
    lut,
    lut_x0,
    lut_y0,
    lut_cell,
    params,
    pe,
    t_sum,
    t2_sum,
):
    """Add the light of one electromagnetic (sub-)shower to the images (in place).

    ``params``: see `render_subshowers` (the first five are used here). Per emission
    point: its height (rejected below 5 m above the ground) and the strict early
    rejection `_may_reach`, then its position, electron direction and shower-front time;
    per telescope: the ring (`_cherenkov_ring`, once per point), the pixel hit
    (`_camera_pixel`), the arrival time (`_travel_time`) and the deposit. The loop over
    telescopes stays here: as a function of its own (numba-inlined or not) it made the
    kernel 20-40 % slower; the steps in helpers cost nothing measurable.
    """
    lat_scale, theta_e, ring_w = params[0], params[1], params[2]
    ext_depth, psf = params[3], params[4]
    cz = d[2]
    e1, e2 = _perpendicular_basis(d)
    h_start = height_of_vertical_depth(x_start * cz)
    n_b = rnd.shape[0]
    n_tel = tel_pos.shape[0]
    # loop invariants: the pointing rotation (`altaz_vector_to_fov`), `_telescope_geometry`
    rot = (np.cos(az0), np.sin(az0), np.cos(alt0), np.sin(alt0))
    cam = (focal, psf, lut, lut_x0, lut_y0, lut_cell)
    h_tel, xv_tel, exp_tel, tel_along, tel_off_axis = _telescope_geometry(
        tel_pos, obs_height, start, d
    )
    ring_hi = 1.0 + 5.0 * ring_w
    for i in range(n_b):
        t = _interp(rnd[i, 0], cdf, t_grid)
        h = height_of_vertical_depth((x_start + t * X0_G_CM2) * cz)
        if h < obs_height + 5.0:
            continue
        along = (h - h_start) / cz
        exp_h = np.exp(-h / SCALE_HEIGHT_M)
        r_m = 9.6 / (RHO0_G_CM3 * exp_h) / 100.0
        r = min(lat_scale * r_m * (rnd[i, 1] ** (-1.0 / 2.5) - 1.0), 4.0 * r_m)
        alpha = -theta_e * np.log(rnd[i, 3])
        edge = _ring_edge(exp_h, ring_hi)
        if not _may_reach(alpha, along, r, edge, active, tel_along, tel_off_axis):
            continue
        p0, p1, p2 = _emission_point(start, d, e1, e2, along, r, 2 * np.pi * rnd[i, 2])
        ed0, ed1, ed2 = _electron_direction(d, e1, e2, alpha, 2 * np.pi * rnd[i, 4])
        t_p = _front_time(p0, p1, p2, core, d_main)
        # cos(edge) >= 1 - edge^2 / 2: a cos(psi) below that is outside the ring
        cos_edge = 1.0 - 0.5 * edge * edge - 1e-12
        ring = False
        for k in range(n_tel):
            if not active[k]:
                continue
            v0 = tel_pos[k, 0] - p0
            v1 = tel_pos[k, 1] - p1
            v2 = tel_pos[k, 2] - p2
            dist = np.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
            if dist < MIN_DISTANCE_M:
                continue
            u0, u1, u2 = v0 / dist, v1 / dist, v2 / dist
            cos_psi = ed0 * u0 + ed1 * u1 + ed2 * u2
            if cos_psi < cos_edge:
                continue
            if not ring:
                # the ring of this point, once a telescope may be on it
                ring = True
                theta_c, sigma, norm, xv, cos_lo, cos_hi = _cherenkov_ring(exp_h, ring_w)
            if cos_psi < cos_lo or cos_psi > cos_hi:
                continue
            psi = np.arccos(min(1.0, max(-1.0, cos_psi)))
            z = (psi - theta_c) / sigma
            if abs(z) > 5.0:
                continue
            trans = np.exp(-(xv_tel[k] - xv) / ext_depth / max(-u2, 0.05))
            amp = weight * norm * np.exp(-0.5 * z * z) / (dist * dist) * trans
            pix = _camera_pixel(u0, u1, u2, rot, cam, gauss[k, i, 0], gauss[k, i, 1])
            if pix < 0:
                continue
            arrival = t_p + _travel_time(dist, h, h_tel[k], exp_tel[k], exp_h)
            _deposit(pe, t_sum, t2_sum, k, pix, amp, arrival)


@njit(cache=True)
def time_moments(pe, t_sum, t2_sum, mean, spread):
    """Light-weighted mean arrival time and its RMS per pixel (in place, ``mean`` and
    ``spread``; 0 where ``pe`` is 0) from the moments ``t_sum``, ``t2_sum`` of one pass
    of rendering: the float64 operations of ``np.where(pe > 0, t_sum / pe, 0)`` and
    ``sqrt(clip(t2_sum / pe - mean ** 2, 0))``, so the same values."""
    for k in range(pe.shape[0]):
        for j in range(pe.shape[1]):
            if pe[k, j] > 0:
                m = t_sum[k, j] / pe[k, j]
                var = t2_sum[k, j] / pe[k, j] - m * m
            else:
                m = 0.0
                var = 0.0
            mean[k, j] = m
            spread[k, j] = np.sqrt(max(var, 0.0))
