"""
Stereo shower geometry for many events at once: ctapipe's HillasReconstructor math,
vectorised over events.

ctapipe's `~ctapipe.reco.HillasReconstructor` works event by event and spends most of
its time building astropy frames and transforming coordinates. The transforms it uses
are rotations (TelescopeFrame <-> AltAz, AltAz -> CameraFrame of the array pointing,
GroundFrame <-> TiltedGroundFrame), so here they are applied as (n_events, n_tel, 3, 3)
rotation matrices with numpy; the line intersections are batched 3x3 solves. The
results equal ctapipe's to floating-point precision (see tests/stereo/test_geometry.py).

`hillas_geometry` is the pure function; `BatchHillasReconstructor` resolves the quality
criteria (ctapipe's `~ctapipe.reco.StereoQualityQuery` defaults) and builds tables with
ctapipe's DL2 column names (``HillasReconstructor_alt`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from ctapipe.coordinates import TelescopeFrame
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int, Unicode
from ctapipe.instrument import SubarrayDescription

__all__ = [
    "BatchHillasReconstructor",
    "HillasGeometry",
    "camera_radius_deg",
    "hillas_geometry",
]


@dataclass
class HillasGeometry:
    """Per-event stereo geometry (plain arrays, SI units or radians)."""

    alt_rad: np.ndarray
    az_rad: np.ndarray
    direction_uncert_rad: np.ndarray
    core_x_m: np.ndarray
    core_y_m: np.ndarray
    core_tilted_x_m: np.ndarray
    core_tilted_y_m: np.ndarray
    #: height of shower maximum above the array reference height (m)
    h_max_rel_m: np.ndarray
    average_intensity: np.ndarray
    is_valid: np.ndarray
    #: telescopes used, (n_events, n_tel) boolean
    used: np.ndarray
    #: distance of each telescope to the shower axis (n_events, n_tel), m
    impact_m: np.ndarray


def _altaz_to_telescope_matrix(alt: np.ndarray, az: np.ndarray) -> np.ndarray:
    """ctapipe's AltAz -> TelescopeFrame rotation (Ry(-alt) @ Rz(az), astropy convention)."""
    ca, sa = np.cos(alt), np.sin(alt)
    cz, sz = np.cos(az), np.sin(az)
    zero = np.zeros_like(ca)
    # Ry(-alt) = [[ca, 0, sa], [0, 1, 0], [-sa, 0, ca]]
    # Rz(az) = [[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]]
    return np.stack(
        [
            np.stack([ca * cz, ca * sz, sa], axis=-1),
            np.stack([-sz, cz, zero], axis=-1),
            np.stack([-sa * cz, -sa * sz, ca], axis=-1),
        ],
        axis=-2,
    )


def _ground_to_tilted_matrix(alt: np.ndarray, az: np.ndarray) -> np.ndarray:
    """ctapipe's GroundFrame -> TiltedGroundFrame matrix (``_get_shower_trans_matrix``)."""
    cos_z, sin_z = np.sin(alt), np.cos(alt)
    cos_az, sin_az = np.cos(az), np.sin(az)
    return np.stack(
        [
            np.stack([cos_z * cos_az, -cos_z * sin_az, -sin_z], axis=-1),
            np.stack([sin_az, cos_az, np.zeros_like(sin_z)], axis=-1),
            np.stack([sin_z * cos_az, -sin_z * sin_az, cos_z], axis=-1),
        ],
        axis=-2,
    )


def _unit_vector(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    cl = np.cos(lat)
    return np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1)


def _line_intersection(directions: np.ndarray, origins: np.ndarray, used: np.ndarray):
    """Least-squares intersection of lines, batched (ctapipe ``line_line_intersection_3d``)."""
    outer = directions[..., :, None] * directions[..., None, :] - np.eye(3)
    outer = np.where(used[..., None, None], outer, 0.0)
    s = outer.sum(axis=-3)
    c = np.einsum("...kij,...kj->...i", outer, origins).reshape(s.shape[:-1])
    result = np.full(s.shape[:-1], np.nan)
    ok = np.abs(np.linalg.det(s)) > 0
    result[ok] = np.linalg.solve(s[ok], c[ok][..., None])[..., 0]
    return result


def hillas_geometry(
    fov_lon_deg: np.ndarray,
    fov_lat_deg: np.ndarray,
    psi_deg: np.ndarray,
    weight: np.ndarray,
    intensity: np.ndarray,
    used: np.ndarray,
    tel_alt_rad: np.ndarray,
    tel_az_rad: np.ndarray,
    array_alt_rad: np.ndarray,
    array_az_rad: np.ndarray,
    tel_positions_m: np.ndarray,
    cam_radius_deg: np.ndarray,
) -> HillasGeometry:
    """
    ctapipe's HillasReconstructor for many events at once.

    Parameters
    ----------
    fov_lon_deg, fov_lat_deg, psi_deg : np.ndarray
        Hillas centroid and orientation in the TelescopeFrame, shape (n_events, n_tel).
    weight : np.ndarray
        ``intensity * length / width`` per telescope event, (n_events, n_tel).
    intensity : np.ndarray
        Hillas intensity (p.e.), (n_events, n_tel).
    used : np.ndarray
        Telescope events entering the reconstruction (quality passed), (n_events, n_tel).
    tel_alt_rad, tel_az_rad : np.ndarray
        Telescope pointing, (n_events, n_tel).
    array_alt_rad, array_az_rad : np.ndarray
        Array pointing, (n_events,).
    tel_positions_m : np.ndarray
        Telescope positions in the GroundFrame, (n_tel, 3).
    cam_radius_deg : np.ndarray
        Camera radius in the TelescopeFrame, (n_tel,).

    Returns
    -------
    HillasGeometry
        Events with fewer than two used telescopes are invalid (NaN values).
    """
    used = np.asarray(used, dtype=bool)
    n_events, n_tel = used.shape
    valid = used.sum(axis=1) >= 2
    used = used & valid[:, None]
    psi = np.deg2rad(psi_deg)
    lon1, lat1 = fov_lon_deg, fov_lat_deg
    lon2 = lon1 + 0.1 * cam_radius_deg * np.cos(psi)
    lat2 = lat1 + 0.1 * cam_radius_deg * np.sin(psi)

    # TelescopeFrame -> AltAz (astropy's left-handed cartesian): transpose of the rotation
    to_tel = _altaz_to_telescope_matrix(tel_alt_rad, tel_az_rad)
    cog_altaz = np.einsum("...ji,...j->...i", to_tel, _unit_vector(*np.deg2rad([lon1, lat1])))
    p2_altaz = np.einsum("...ji,...j->...i", to_tel, _unit_vector(*np.deg2rad([lon2, lat2])))
    flip = np.array([1.0, -1.0, 1.0])  # right-handed cartesian: az -> -az
    cog_cart, p2_cart = cog_altaz * flip, p2_altaz * flip
    norm = np.cross(cog_cart, p2_cart)

    # direction: weighted mean of the pairwise plane crossings
    crossings, pair_weights = [], []
    for a, b in combinations(range(n_tel), 2):
        cross = np.cross(norm[:, a], norm[:, b])
        cross = np.where(cross[:, 2:3] < 0, -cross, cross)
        crossings.append(cross)
        pair_weights.append(np.where(used[:, a] & used[:, b], weight[:, a] * weight[:, b], 0.0))
    crossings = np.stack(crossings, axis=1)  # (n_events, n_pairs, 3)
    pair_weights = np.nan_to_num(np.stack(pair_weights, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = np.nansum(crossings * pair_weights[..., None], axis=1)
        direction = weighted / np.linalg.norm(weighted, axis=-1, keepdims=True)
        cos_off = np.sum(direction[:, None] * crossings, axis=-1) / (
            np.linalg.norm(direction, axis=-1)[:, None] * np.linalg.norm(crossings, axis=-1)
        )
        off = np.arccos(np.clip(cos_off, -1, 1))
        pair_used = pair_weights > 0
        uncert = np.where(pair_used, off, 0).sum(axis=1) / pair_used.sum(axis=1)
    alt = np.arctan2(direction[:, 2], np.hypot(direction[:, 0], direction[:, 1]))
    az = np.mod(-np.arctan2(direction[:, 1], direction[:, 0]), 2 * np.pi)

    # psi in the camera frame of the array pointing (focal length cancels)
    to_array = _altaz_to_telescope_matrix(array_alt_rad, array_az_rad)[:, None]
    cog_arr = np.einsum("...ij,...j->...i", to_array, cog_altaz)
    p2_arr = np.einsum("...ij,...j->...i", to_array, p2_altaz)
    # camera x ~ fov_lat, camera y ~ fov_lon
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.arcsin(np.clip(cog_arr[..., 2], -1, 1)) - np.arcsin(np.clip(p2_arr[..., 2], -1, 1))
        dy = np.arctan2(cog_arr[..., 1], cog_arr[..., 0]) - np.arctan2(
            p2_arr[..., 1], p2_arr[..., 0]
        )
        corrected_psi = np.arctan(dy / dx)

    # core: intersection of the major axes in the tilted frame of the array pointing
    to_tilted = _ground_to_tilted_matrix(array_alt_rad, array_az_rad)  # (n_events, 3, 3)
    pos_tilted = np.einsum("eij,tj->eti", to_tilted, tel_positions_m)
    axes = np.stack(
        [np.cos(corrected_psi), np.sin(corrected_psi), np.zeros_like(corrected_psi)], axis=-1
    )
    axes = np.nan_to_num(axes)
    core_tilted = _line_intersection(axes, pos_tilted, used)
    core_tilted[:, 2] = 0.0
    core_ground = np.einsum("eji,ej->ei", to_tilted, core_tilted)
    core_x = core_ground[:, 0] - to_tilted[:, 2, 0] * core_ground[:, 2] / to_tilted[:, 2, 2]
    core_y = core_ground[:, 1] - to_tilted[:, 2, 1] * core_ground[:, 2] / to_tilted[:, 2, 2]

    # h_max: intersection of the centroid directions from the telescope positions
    positions = np.broadcast_to(tel_positions_m, (n_events, n_tel, 3))
    h_max = _line_intersection(np.nan_to_num(cog_cart), positions, used)[:, 2]

    # impact distance of every telescope to the reconstructed axis
    core = np.stack([core_x, core_y, np.zeros(n_events)], axis=-1)
    axis = np.stack([np.cos(alt) * np.cos(-az), np.cos(alt) * np.sin(-az), np.sin(alt)], axis=-1)
    impact = np.linalg.norm(np.cross(tel_positions_m[None] - core[:, None], axis[:, None]), axis=-1)

    with np.errstate(invalid="ignore"):
        average_intensity = np.nansum(np.where(used, intensity, 0), axis=1) / used.sum(axis=1)

    def invalid_nan(values):
        values = np.array(values, dtype=float)
        values[~valid] = np.nan
        return values

    return HillasGeometry(
        alt_rad=invalid_nan(alt),
        az_rad=invalid_nan(az),
        direction_uncert_rad=invalid_nan(uncert),
        core_x_m=invalid_nan(core_x),
        core_y_m=invalid_nan(core_y),
        core_tilted_x_m=invalid_nan(core_tilted[:, 0]),
        core_tilted_y_m=invalid_nan(core_tilted[:, 1]),
        h_max_rel_m=invalid_nan(h_max),
        average_intensity=invalid_nan(average_intensity),
        is_valid=valid,
        used=used,
        impact_m=invalid_nan(impact),
    )


def camera_radius_deg(subarray: SubarrayDescription) -> dict[int, float]:
    """Camera radius in the TelescopeFrame per telescope, as ctapipe's HillasReconstructor."""
    radius = {}
    for tel_id, tel in subarray.tel.items():
        geometry = tel.camera.geometry
        radius_m = geometry.guess_radius().to_value(u.m)
        point = SkyCoord(0, radius_m, unit=u.m, frame=geometry.frame)
        radius[tel_id] = point.transform_to(TelescopeFrame()).fov_lon.to_value(u.deg)
    return radius


class BatchHillasReconstructor(Component):
    """
    Stereo direction, core and h_max for many events at once, with the math and the
    quality criteria of ctapipe's `~ctapipe.reco.HillasReconstructor` (its
    `~ctapipe.reco.StereoQualityQuery` defaults: intensity > 50 p.e., width > 0,
    more than 3 pixels).
    """

    min_intensity_pe = Float(
        50.0, min=0.0, help="A telescope event enters if its Hillas intensity is larger (p.e.)"
    ).tag(config=True)
    min_n_pixels = Int(
        3, min=0, help="A telescope event enters if it has more pixels after cleaning"
    ).tag(config=True)
    prefix = Unicode(
        "HillasReconstructor", help="Column prefix and table name of the DL2 geometry"
    ).tag(config=True)

    def __init__(self, subarray: SubarrayDescription, **kwargs):
        super().__init__(**kwargs)
        self.subarray = subarray
        self.tel_ids = list(subarray.tel_ids)
        radius = camera_radius_deg(subarray)
        self._cam_radius_deg = np.array([radius[t] for t in self.tel_ids])
        self._positions_m = subarray.tel_coords.cartesian.xyz.to_value(u.m).T

    def quality(self, parameters: Table) -> np.ndarray:
        """Telescope events passing the quality criteria (boolean per row)."""
        intensity = np.asarray(parameters["hillas_intensity"], dtype=float)
        width = u.Quantity(parameters["hillas_width"]).value
        n_pixels = np.asarray(parameters["morphology_n_pixels"])
        with np.errstate(invalid="ignore"):
            return (
                (intensity > self.min_intensity_pe) & (width > 0) & (n_pixels > self.min_n_pixels)
            )

    def __call__(
        self,
        parameters: dict[int, Table],
        pointing: dict[int, tuple[u.Quantity, u.Quantity]],
        array_pointing: tuple[u.Quantity, u.Quantity],
    ) -> tuple[Table, dict[int, Table]]:
        """
        Reconstruct the geometry of ``n_events`` stereo events.

        Parameters
        ----------
        parameters : dict[int, Table]
            Per telescope, DL1 parameters aligned on the events (``n_events`` rows;
            rows of absent telescopes NaN), with ``hillas_*`` and ``morphology_n_pixels``.
        pointing : dict[int, tuple[Quantity, Quantity]]
            Per telescope, (altitude, azimuth) at each event.
        array_pointing : tuple[Quantity, Quantity]
            Array (altitude, azimuth) at each event.

        Returns
        -------
        geometry : Table
            One row per event, columns as ctapipe's ``ReconstructedGeometryContainer``
            with ``prefix``.
        impact : dict[int, Table]
            Per telescope, ``<prefix>_tel_impact_distance`` for each event.
        """
        n_events = len(next(iter(parameters.values())))
        n_tel = len(self.tel_ids)
        shape = (n_events, n_tel)
        arrays = {k: np.full(shape, np.nan) for k in ("lon", "lat", "psi", "w", "i", "alt", "az")}
        used = np.zeros(shape, dtype=bool)
        for k, tel_id in enumerate(self.tel_ids):
            if tel_id not in parameters:
                continue
            table = parameters[tel_id]
            arrays["lon"][:, k] = u.Quantity(table["hillas_fov_lon"], u.deg).value
            arrays["lat"][:, k] = u.Quantity(table["hillas_fov_lat"], u.deg).value
            arrays["psi"][:, k] = u.Quantity(table["hillas_psi"], u.deg).value
            arrays["i"][:, k] = np.asarray(table["hillas_intensity"], dtype=float)
            length = u.Quantity(table["hillas_length"]).value
            width = u.Quantity(table["hillas_width"]).value
            with np.errstate(invalid="ignore", divide="ignore"):
                arrays["w"][:, k] = arrays["i"][:, k] * length / width
            used[:, k] = self.quality(table)
            alt, az = pointing[tel_id]
            arrays["alt"][:, k] = u.Quantity(alt, u.rad).value
            arrays["az"][:, k] = u.Quantity(az, u.rad).value
        geometry = hillas_geometry(
            arrays["lon"],
            arrays["lat"],
            arrays["psi"],
            arrays["w"],
            arrays["i"],
            used,
            arrays["alt"],
            arrays["az"],
            np.broadcast_to(u.Quantity(array_pointing[0], u.rad).value, n_events),
            np.broadcast_to(u.Quantity(array_pointing[1], u.rad).value, n_events),
            self._positions_m,
            self._cam_radius_deg,
        )
        return self._geometry_table(geometry), self._impact_tables(geometry, parameters)

    def _geometry_table(self, g: HillasGeometry) -> Table:
        p = self.prefix
        n = len(g.alt_rad)
        nan_deg, nan_m = np.full(n, np.nan) * u.deg, np.full(n, np.nan) * u.m
        h_ref = self.subarray.reference_location.geodetic.height.to_value(u.m)
        uncert = np.rad2deg(g.direction_uncert_rad) * u.deg
        columns = {
            "alt": np.rad2deg(g.alt_rad) * u.deg,
            "alt_uncert": uncert,
            "az": np.rad2deg(g.az_rad) * u.deg,
            "az_uncert": uncert,
            "ang_distance_uncert": nan_deg,
            "core_x": g.core_x_m * u.m,
            "core_y": g.core_y_m * u.m,
            "core_uncert_x": nan_m,
            "core_uncert_y": nan_m,
            "core_tilted_x": g.core_tilted_x_m * u.m,
            "core_tilted_y": g.core_tilted_y_m * u.m,
            "core_tilted_uncert_x": nan_m,
            "core_tilted_uncert_y": nan_m,
            "h_max": (g.h_max_rel_m + h_ref) * u.m,
            "h_max_uncert": nan_m,
            "is_valid": g.is_valid,
            "average_intensity": g.average_intensity,
            "goodness_of_fit": np.full(n, np.nan),
            "telescopes": g.used,
        }
        return Table({f"{p}_{name}": value for name, value in columns.items()})

    def _impact_tables(self, g: HillasGeometry, parameters: dict[int, Table]) -> dict[int, Table]:
        p = self.prefix
        tables = {}
        for k, tel_id in enumerate(self.tel_ids):
            if tel_id not in parameters:
                continue
            n = len(g.impact_m)
            tables[tel_id] = Table(
                {
                    f"{p}_tel_impact_distance": g.impact_m[:, k] * u.m,
                    f"{p}_tel_impact_distance_uncert": np.full(n, np.nan) * u.m,
                }
            )
        return tables
