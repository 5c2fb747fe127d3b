"""The numba kernels of the semi-analytic Cherenkov model (`cherenkov`): the emitting
track length of a (sub-)shower and the render of its emission points into the images of
every telescope; their ``params`` array (`model_params`). Pure functions on plain floats
and arrays; `cherenkov.CherenkovImageModel` resolves the traits and calls them (they are
re-exported there). Their random numbers and the sampling of the emitting track are in
`render_sampling`; the render of single showers without a field of view and the
light-pool envelope tabulated with it in `single_shower`.
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
from .render_sampling import (
    CRITICAL_ENERGY_TEV,
    MAX_PSF_NORMAL,
    UNIFORMS_PER_POINT,
    _interp_guide,
    _interp_guided,
    _normal_pair,
    _track_cdf,
    _uniform,
    draw_keys,
    subshower_track,
)

__all__ = [
    "C_M_PER_NS",
    "CRITICAL_ENERGY_TEV",
    "MIN_DISTANCE_M",
    "PHOTONS_PER_RADIATION_LENGTH",
    "MAX_PSF_NORMAL",
    "UNIFORMS_PER_POINT",
    "draw_and_render_subshowers",
    "draw_keys",
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


#: 1 / the vertical depth at sea level (g/cm^2) of the isothermal atmosphere
_INV_X_SEA = 1.0 / (RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M)


@njit(cache=True)
def _perpendicular_basis(d):
    ref = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(d, ref)
    e1 /= np.sqrt(np.sum(e1**2))
    e2 = np.cross(d, e1)
    return e1, e2


@njit(cache=True)
def _basis_tuples(d):
    """`_perpendicular_basis` of ``d`` as two 3-tuples: the same arithmetic without its
    four small arrays (a proton renders about a hundred sub-showers)."""
    if abs(d[2]) < 0.9:
        r0, r1, r2 = 0.0, 0.0, 1.0
    else:
        r0, r1, r2 = 1.0, 0.0, 0.0
    a0 = d[1] * r2 - d[2] * r1
    a1 = d[2] * r0 - d[0] * r2
    a2 = d[0] * r1 - d[1] * r0
    norm = np.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
    a0, a1, a2 = a0 / norm, a1 / norm, a2 / norm
    e2 = (d[1] * a2 - d[2] * a1, d[2] * a0 - d[0] * a2, d[0] * a1 - d[1] * a0)
    return (a0, a1, a2), e2


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
    keys,
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

    Sub-shower ``s`` has ``n_bunch[s]`` emission points, numbered on from those of the
    sub-showers before it; point ``j`` takes its `UNIFORMS_PER_POINT` uniforms from the
    counter-based stream ``keys[0]`` (numbers ``5 j`` to ``5 j + 4``, `_uniform`) and its
    PSF normals in telescope ``k`` from the stream ``keys[1 + k]`` (number ``j``,
    `_normal_pair`), computed only where they are used: a point's numbers do not depend
    on which other points or telescopes are rendered, so only telescopes with
    ``active[k]`` are rendered and the active ones do not depend on which are skipped.
    ``params`` = `model_params` (lateral scale / Moliere radius, electron angle scale
    (rad), relative Cherenkov ring width, extinction depth (g/cm^2), PSF sigma (rad; 0:
    no PSF, no normals), quench past the maximum (1/X0), energy index of the yield per
    TeV).
    """
    first = 0
    for s in range(energy.shape[0]):
        t_grid, cdf, total = _track_cdf(energy[s], params[5])
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
            n_b,
            first,
            keys,
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
        first += n_b


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
    """`render_subshowers` with its stream seeds drawn from the ``numpy.random.Generator``
    ``rng`` (`draw_keys`: ``n_tel + 1`` numbers of ``rng``, whatever the number of
    emission points)."""
    render_subshowers(
        energy,
        x_start,
        start,
        d_sub,
        n_bunch,
        photons_per_track,
        d_main,
        core,
        draw_keys(rng, tel_pos.shape[0]),
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
    # one allocation (a proton renders about a hundred sub-showers)
    table = np.empty((5, n_tel))
    h_tel, xv_tel, exp_tel, tel_along, tel_off_axis = (
        table[0],
        table[1],
        table[2],
        table[3],
        table[4],
    )
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
    # single precision: 1e-7 of ``r`` (tens of metres) is far below anything resolved
    cp, sp = np.cos(np.float32(phi)), np.sin(np.float32(phi))
    p0 = start[0] + along * d[0] + r * (cp * e1[0] + sp * e2[0])
    p1 = start[1] + along * d[1] + r * (cp * e1[1] + sp * e2[1])
    p2 = start[2] + along * d[2] + r * (cp * e1[2] + sp * e2[2])
    return p0, p1, p2


@njit(cache=True)
def _electron_direction(d, e1, e2, alpha, beta):
    """The electron's direction, ``alpha`` from the downward axis ``-d``, azimuth ``beta``."""
    # single precision: 1e-7 rad, far below the ring's width (a few mrad)
    ca, sa = np.cos(np.float32(alpha)), np.sin(np.float32(alpha))
    cb, sb = np.cos(np.float32(beta)), np.sin(np.float32(beta))
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
def _camera_pixel(u0, u1, u2, rot, cam, key, counter):
    """Pixel (-1: none) where light arriving along ``-u`` lands: `altaz_vector_to_fov`
    of ``(-u0, u1, -u2)`` with ``rot`` = (cos, sin of the pointing azimuth, cos, sin of
    its altitude), blurred by the PSF (the normals `_normal_pair` number ``counter`` of
    stream ``key``), through the pixel look-up table; ``cam`` = (focal length, PSF sigma
    (rad), ``lut``, ``lut_x0``, ``lut_y0``, ``lut_cell``) of `render_subshowers`. The
    normals are computed only when the PSF may carry the light onto the table: their
    largest value `MAX_PSF_NORMAL` from its edge, or nearer (the same pixel as with
    them always computed)."""
    c0, s0, ca0, sa0 = rot
    focal, psf, lut, lut_x0, lut_y0, lut_cell = cam
    x1 = c0 * -u0 + s0 * u1
    y1 = -s0 * -u0 + c0 * u1
    x2 = ca0 * x1 + sa0 * -u2
    z2 = -sa0 * x1 + ca0 * -u2
    # single precision: 1e-7 rad (a micrometre on the camera)
    lon = np.float64(np.arctan2(np.float32(y1), np.float32(x2)))
    lat = np.float64(np.arcsin(np.float32(z2 / np.sqrt(x2 * x2 + y1 * y1 + z2 * z2))))
    if psf > 0.0:
        # beyond the table by more than the largest blur (and a cell for the truncation
        # toward 0 of int()): no pixel, whatever the normals
        margin = focal * psf * MAX_PSF_NORMAL + 2.0 * lut_cell
        fx, fy = focal * lat, focal * lon
        if (
            fx < lut_x0 - margin
            or fy < lut_y0 - margin
            or fx > lut_x0 + lut.shape[0] * lut_cell + margin
            or fy > lut_y0 + lut.shape[1] * lut_cell + margin
        ):
            return -1
        g0, g1 = _normal_pair(key, counter)
        lat += psf * g0
        lon += psf * g1
    cx = focal * lat
    cy = focal * lon
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
    n_b,
    first,
    keys,
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

    ``n_b`` emission points, numbered from ``first`` in the streams ``keys`` (see
    `render_subshowers`, as ``params``, the first five of which are used here). Per
    emission point: its height (rejected below 5 m above the ground) and the strict early
    rejection `_may_reach`, then its position, electron direction and shower-front time;
    per telescope: the ring (`_cherenkov_ring`, once per point), the pixel hit
    (`_camera_pixel`), the arrival time (`_travel_time`) and the deposit. The loop over
    telescopes stays here: as a function of its own (numba-inlined or not) it made the
    kernel 20-40 % slower; the steps in helpers cost nothing measurable.
    """
    lat_scale, theta_e, ring_w = params[0], params[1], params[2]
    ext_depth, psf = params[3], params[4]
    cz = d[2]
    e1, e2 = _basis_tuples(d)
    h_start = height_of_vertical_depth(x_start * cz)
    n_tel = tel_pos.shape[0]
    # loop invariants: the pointing rotation (`altaz_vector_to_fov`), `_telescope_geometry`
    rot = (np.cos(az0), np.sin(az0), np.cos(alt0), np.sin(alt0))
    cam = (focal, psf, lut, lut_x0, lut_y0, lut_cell)
    h_tel, xv_tel, exp_tel, tel_along, tel_off_axis = _telescope_geometry(
        tel_pos, obs_height, start, d
    )
    ring_hi = 1.0 + 5.0 * ring_w
    key = keys[0]
    guide = _interp_guide(cdf)
    for i in range(n_b):
        j = first + i
        # the point's uniforms 0, 1, 3 decide `_may_reach`; 2 and 4 only after it
        n0 = UNIFORMS_PER_POINT * j
        t = _interp_guided(_uniform(key, n0), cdf, t_grid, guide)
        # exp(-h / H) of the isothermal atmosphere is the vertical depth over sea level's
        # (`height_of_vertical_depth`); single-precision logarithms here: 1e-7 relative
        # (millimetres of height, micro-radians), far below the model's resolution
        exp_h = max((x_start + t * X0_G_CM2) * cz, 1e-3) * _INV_X_SEA
        h = -SCALE_HEIGHT_M * np.float64(np.log(np.float32(exp_h)))
        if h < obs_height + 5.0:
            continue
        along = (h - h_start) / cz
        r_m = 9.6 / (RHO0_G_CM3 * exp_h) / 100.0
        spread = np.float32(_uniform(key, n0 + 1)) ** np.float32(-1.0 / 2.5) - np.float32(1.0)
        r = min(lat_scale * r_m * spread, 4.0 * r_m)
        alpha = -theta_e * np.float64(np.log(np.float32(_uniform(key, n0 + 3))))
        edge = _ring_edge(exp_h, ring_hi)
        if not _may_reach(alpha, along, r, edge, active, tel_along, tel_off_axis):
            continue
        p0, p1, p2 = _emission_point(start, d, e1, e2, along, r, 2 * np.pi * _uniform(key, n0 + 2))
        ed0, ed1, ed2 = _electron_direction(d, e1, e2, alpha, 2 * np.pi * _uniform(key, n0 + 4))
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
            # single precision (relative 1e-7) for the two attenuations
            trans = np.exp(np.float32(-(xv_tel[k] - xv) / ext_depth / max(-u2, 0.05)))
            amp = weight * norm * np.exp(np.float32(-0.5 * z * z)) / (dist * dist) * trans
            pix = _camera_pixel(u0, u1, u2, rot, cam, keys[1 + k], j)
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
