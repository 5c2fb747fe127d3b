"""Direction conventions of the toy simulator, consistent with ctapipe frames.

Ground frame (ctapipe ``GroundFrame``): x towards north, y towards west, z up.
Horizontal directions (alt, az) use astropy's convention (azimuth from north
towards east). Telescope-frame offsets (``fov_lon``, ``fov_lat``) follow ctapipe's
``TelescopeFrame`` (a ``SkyOffsetFrame`` of ``AltAz`` centred on the pointing) and the
camera frame is ``x = f * fov_lat``, ``y = f * fov_lon`` (ctapipe ``CameraFrame``,
equidistant mapping, no rotation).
"""

import numpy as np
from numba import njit

__all__ = [
    "altaz_to_fov",
    "altaz_to_ground_vector",
    "altaz_vector_to_fov",
    "fov_to_altaz",
    "ground_vector_to_altaz",
]


@njit(cache=True)
def altaz_to_ground_vector(alt: float, az: float) -> np.ndarray:
    """Unit vector (ground frame) pointing towards the sky direction (alt, az) in rad."""
    ca = np.cos(alt)
    return np.array([ca * np.cos(az), -ca * np.sin(az), np.sin(alt)])


@njit(cache=True)
def ground_vector_to_altaz(vx: float, vy: float, vz: float) -> tuple[float, float]:
    """Inverse of `altaz_to_ground_vector` (returns alt, az in rad, az in [0, 2 pi))."""
    norm = np.sqrt(vx * vx + vy * vy + vz * vz)
    alt = np.arcsin(vz / norm)
    az = np.arctan2(-vy, vx) % (2.0 * np.pi)
    return alt, az


@njit(cache=True)
def altaz_to_fov(alt: float, az: float, alt0: float, az0: float) -> tuple[float, float]:
    """Offset (fov_lon, fov_lat) in rad of (alt, az) from the pointing (alt0, az0)."""
    ca = np.cos(alt)
    vx = ca * np.cos(az)
    vy = ca * np.sin(az)
    vz = np.sin(alt)
    return altaz_vector_to_fov(vx, vy, vz, alt0, az0)


@njit(cache=True)
def altaz_vector_to_fov(
    vx: float, vy: float, vz: float, alt0: float, az0: float
) -> tuple[float, float]:
    """Offset of an AltAz cartesian vector (x north, y east, z up) from the pointing."""
    c0, s0 = np.cos(az0), np.sin(az0)
    x1 = c0 * vx + s0 * vy
    y1 = -s0 * vx + c0 * vy
    ca0, sa0 = np.cos(alt0), np.sin(alt0)
    x2 = ca0 * x1 + sa0 * vz
    z2 = -sa0 * x1 + ca0 * vz
    norm = np.sqrt(x2 * x2 + y1 * y1 + z2 * z2)
    return np.arctan2(y1, x2), np.arcsin(z2 / norm)


@njit(cache=True)
def fov_to_altaz(lon: float, lat: float, alt0: float, az0: float) -> tuple[float, float]:
    """Sky direction (alt, az) in rad of the offset (fov_lon, fov_lat) from the pointing."""
    cl = np.cos(lat)
    x2 = cl * np.cos(lon)
    y1 = cl * np.sin(lon)
    z2 = np.sin(lat)
    ca0, sa0 = np.cos(alt0), np.sin(alt0)
    x1 = ca0 * x2 - sa0 * z2
    vz = sa0 * x2 + ca0 * z2
    c0, s0 = np.cos(az0), np.sin(az0)
    vx = c0 * x1 - s0 * y1
    vy = s0 * x1 + c0 * y1
    alt = np.arcsin(min(1.0, max(-1.0, vz)))
    az = np.arctan2(vy, vx) % (2.0 * np.pi)
    return alt, az
