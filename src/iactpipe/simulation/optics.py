"""Ray tracing of Cherenkov photons through the SST-1M Davies-Cotton optics.

The SST-1M dish (sim_telarray CTA prod4 configuration ``CTA-PROD4-SST-1M.cfg``, stored in
the history block of ``../shared/data/simtel/gamma_20deg_0deg_run102___cta-prod4-sst-1m
_desert-2150m-Paranal-sst-1m.simtel.zst``) is a Davies-Cotton reflector of 18 hexagonal
facets (``MIRROR_LIST mirror_DC4m_78cm_s2cm_f5.600_nocent.dat``: 78 cm flat-to-flat,
2 cm gaps, no central facet) on a sphere of radius 5.6 m (``FOCAL_LENGTH``,
``MIRROR_FOCAL_LENGTH``, ``DISH_SHAPE_LENGTH`` 560 cm), each facet a sphere of radius
2 x 5.6 m aimed at the point 2 f on the optical axis, with a random focal length of
4.9 cm r.m.s. (``RANDOM_FOCAL_LENGTH``). The flat camera sits 5.6 m from the dish centre;
its hexagonal body (``CAMERA_BODY_DIAMETER`` 97 cm, ``CAMERA_BODY_SHAPE 3``: two sides
parallel to x) shadows the dish. Masts and basket (``TELESCOPE_TRANSMISSION 0.82``) are a
constant transmission applied by the caller.

Frames: photons come in the ctapipe ground frame (x north, y west, z up); the telescope
frame has its z axis along the pointing, x along increasing azimuth (``fov_lon``) and y
along increasing altitude (``fov_lat``); camera coordinates follow ctapipe's
``CameraFrame`` as in `iactpipe.simulation.geometry` (``x = f * fov_lat``,
``y = f * fov_lon``), so a point source maps to the pixel ctapipe expects.
"""

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int
from numba import njit

__all__ = [
    "DaviesCottonOptics",
    "davies_cotton_facets",
    "inside_hexagon",
    "telescope_basis",
    "trace_photons",
]

C_M_PER_NS = 0.299792458


@njit(cache=True)
def inside_hexagon(dx: float, dy: float, flat_to_flat: float) -> bool:
    """True when (dx, dy) lies in a hexagon of that flat-to-flat size with two sides
    parallel to the x axis, centred at the origin."""
    half = 0.5 * flat_to_flat
    ax, ay = abs(dx), abs(dy)
    return ay <= half and 0.5 * np.sqrt(3.0) * ax + 0.5 * ay <= half


def davies_cotton_facets(
    focal_length_m: float, pitch_m: float, n_rings: int, central_facet: bool
) -> np.ndarray:
    """(n, 3) facet centres of a Davies-Cotton dish of hexagonal facets.

    Facets (flat sides parallel to x) on a hexagonal grid of ``pitch_m`` (flat-to-flat size
    plus gap), ``n_rings`` rings around the centre, lying on the sphere of radius
    ``focal_length_m`` through the dish centre (z along the optical axis).
    """
    centres = []
    # axial hex coordinates; neighbours across the flat sides at 30 + 60 k deg
    a1 = pitch_m * np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])
    a2 = pitch_m * np.array([0.0, 1.0])
    for i in range(-n_rings, n_rings + 1):
        for j in range(-n_rings, n_rings + 1):
            if abs(i) > n_rings or abs(j) > n_rings or abs(i + j) > n_rings:
                continue
            if i == 0 and j == 0 and not central_facet:
                continue
            centres.append(i * a1 + j * a2)
    xy = np.array(centres)
    r2 = (xy**2).sum(axis=1)
    z = focal_length_m - np.sqrt(focal_length_m**2 - r2)
    return np.column_stack([xy, z])


def telescope_basis(alt_rad: float, az_rad: float) -> np.ndarray:
    """(3, 3) rows: unit vectors (ground frame) of increasing azimuth (``fov_lon``),
    increasing altitude (``fov_lat``) and the pointing direction."""
    ca, sa = np.cos(alt_rad), np.sin(alt_rad)
    cz, sz = np.cos(az_rad), np.sin(az_rad)
    axis = np.array([ca * cz, -ca * sz, sa])
    e_lat = np.array([-sa * cz, sa * sz, ca])
    e_lon = np.array([-sz, -cz, 0.0])
    return np.array([e_lon, e_lat, axis])


@njit(cache=True)
def _sphere_hit(px, py, pz, vx, vy, vz, cx, cy, cz, radius, near_x, near_y, near_z):
    """Path length to the intersection of a line with a sphere closest to ``near``."""
    wx, wy, wz = px - cx, py - cy, pz - cz
    b = wx * vx + wy * vy + wz * vz
    c = wx * wx + wy * wy + wz * wz - radius * radius
    disc = b * b - c
    if disc < 0.0:
        return np.nan
    root = np.sqrt(disc)
    best, best_d = np.nan, np.inf
    for s in (-b - root, -b + root):
        dx = px + s * vx - near_x
        dy = py + s * vy - near_y
        dz = pz + s * vz - near_z
        d = dx * dx + dy * dy + dz * dz
        if d < best_d:
            best, best_d = s, d
    return best


@njit(cache=True)
def trace_photons(
    x_m,
    y_m,
    cx,
    cy,
    time_ns,
    basis,
    facets,
    curvature_centres,
    curvature_radii,
    facet_flat_to_flat_m,
    dish_radius_m,
    camera_distance_m,
    camera_body_flat_to_flat_m,
):
    """Trace photons through the dish onto the camera plane.

    ``x_m``, ``y_m``: photon positions in the horizontal plane through the dish centre
    (ground frame, relative to the dish centre), ``cx``, ``cy``: direction cosines of
    the photon's travel (ground frame), ``time_ns``: its time at that position.
    Returns camera-frame x, y (m), arrival time at the camera (ns) and a status per
    photon (0 on the camera plane, 1 stopped by the camera body, 2 missed the facets).
    """
    n = x_m.shape[0]
    out_x = np.full(n, np.nan)
    out_y = np.full(n, np.nan)
    out_t = np.full(n, np.nan)
    status = np.zeros(n, np.int8)
    e0, e1, e2 = basis[0], basis[1], basis[2]
    half_body = 0.5 * camera_body_flat_to_flat_m
    for i in range(n):
        gx, gy = x_m[i], y_m[i]
        dx, dy = cx[i], cy[i]
        dz = -np.sqrt(max(0.0, 1.0 - dx * dx - dy * dy))
        px = gx * e0[0] + gy * e0[1]
        py = gx * e1[0] + gy * e1[1]
        pz = gx * e2[0] + gy * e2[1]
        vx = dx * e0[0] + dy * e0[1] + dz * e0[2]
        vy = dx * e1[0] + dy * e1[1] + dz * e1[2]
        vz = dx * e2[0] + dy * e2[1] + dz * e2[2]
        if vz >= 0.0:
            status[i] = 2
            continue
        # shadow of the camera body (its front face, in the camera plane)
        s_cam = (camera_distance_m - pz) / vz
        qx, qy = px + s_cam * vx, py + s_cam * vy
        if abs(qx) < half_body and abs(qy) < half_body:
            if inside_hexagon(qx, qy, camera_body_flat_to_flat_m):
                status[i] = 1
                continue
        # dish sphere (radius f, centre on the axis at f): which facet
        s_dish = _sphere_hit(
            px, py, pz, vx, vy, vz, 0.0, 0.0, dish_radius_m, dish_radius_m, 0.0, 0.0, 0.0
        )
        if np.isnan(s_dish):
            status[i] = 2
            continue
        hx, hy = px + s_dish * vx, py + s_dish * vy
        k_best, d_best = -1, np.inf
        for k in range(facets.shape[0]):
            d = (hx - facets[k, 0]) ** 2 + (hy - facets[k, 1]) ** 2
            if d < d_best:
                k_best, d_best = k, d
        fx, fy, fz = facets[k_best, 0], facets[k_best, 1], facets[k_best, 2]
        if not inside_hexagon(hx - fx, hy - fy, facet_flat_to_flat_m):
            status[i] = 2
            continue
        ccx, ccy, ccz = (
            curvature_centres[k_best, 0],
            curvature_centres[k_best, 1],
            curvature_centres[k_best, 2],
        )
        radius = curvature_radii[k_best]
        s_hit = _sphere_hit(px, py, pz, vx, vy, vz, ccx, ccy, ccz, radius, fx, fy, fz)
        if np.isnan(s_hit):
            status[i] = 2
            continue
        hx, hy, hz = px + s_hit * vx, py + s_hit * vy, pz + s_hit * vz
        nx, ny, nz = (ccx - hx) / radius, (ccy - hy) / radius, (ccz - hz) / radius
        dot = vx * nx + vy * ny + vz * nz
        rx, ry, rz = vx - 2 * dot * nx, vy - 2 * dot * ny, vz - 2 * dot * nz
        if rz <= 0.0:
            status[i] = 2
            continue
        s2 = (camera_distance_m - hz) / rz
        fpx, fpy = hx + s2 * rx, hy + s2 * ry
        # ctapipe CameraFrame: x = f * fov_lat, y = f * fov_lon (the image is inverted)
        out_x[i] = -fpy
        out_y[i] = -fpx
        out_t[i] = time_ns[i] + (s_hit + s2) / C_M_PER_NS
    return out_x, out_y, out_t, status


class DaviesCottonOptics(Component):
    """The SST-1M Davies-Cotton dish and camera plane, from the sim_telarray prod4 model.

    Defaults are the values of ``CTA-PROD4-SST-1M.cfg`` (see the module docstring).
    """

    focal_length_m = Float(
        5.6, help="Dish (Davies-Cotton sphere) radius = camera distance (m)"
    ).tag(config=True)
    facet_flat_to_flat_m = Float(0.78, help="Flat-to-flat size of a hexagonal facet (m)").tag(
        config=True
    )
    facet_gap_m = Float(0.02, help="Gap between neighbouring facets (m)").tag(config=True)
    n_facet_rings = Int(2, min=1, help="Rings of facets around the dish centre").tag(config=True)
    random_focal_length_m = Float(
        0.049, min=0.0, help="R.m.s. spread of the facets' focal lengths (m)"
    ).tag(config=True)
    camera_body_flat_to_flat_m = Float(
        0.97, min=0.0, help="Flat-to-flat size of the hexagonal camera body (shadow) (m)"
    ).tag(config=True)
    facet_seed = Int(1, help="Seed of the facets' random focal lengths").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        pitch = self.facet_flat_to_flat_m + self.facet_gap_m
        self.facets = davies_cotton_facets(self.focal_length_m, pitch, self.n_facet_rings, False)
        rng = np.random.default_rng(self.facet_seed)
        focal = self.focal_length_m + self.random_focal_length_m * rng.standard_normal(
            len(self.facets)
        )
        aim = np.array([0.0, 0.0, 2 * self.focal_length_m])
        normals = aim - self.facets
        normals /= np.linalg.norm(normals, axis=1)[:, np.newaxis]
        self.curvature_radii = 2 * focal
        self.curvature_centres = self.facets + self.curvature_radii[:, np.newaxis] * normals

    @property
    def n_facets(self) -> int:
        """Number of mirror facets."""
        return len(self.facets)

    @property
    def mirror_area_m2(self) -> float:
        """Total facet area (m^2), without shadowing."""
        return self.n_facets * np.sqrt(3) / 2 * self.facet_flat_to_flat_m**2

    def __call__(self, x_m, y_m, cx, cy, time_ns, alt_rad: float, az_rad: float):
        """Trace photons (see `trace_photons`) for a telescope pointing at (alt, az)."""
        return trace_photons(
            np.asarray(x_m, np.float64),
            np.asarray(y_m, np.float64),
            np.asarray(cx, np.float64),
            np.asarray(cy, np.float64),
            np.asarray(time_ns, np.float64),
            telescope_basis(alt_rad, az_rad),
            self.facets,
            self.curvature_centres,
            self.curvature_radii,
            self.facet_flat_to_flat_m,
            self.focal_length_m,
            self.focal_length_m,
            self.camera_body_flat_to_flat_m,
        )
