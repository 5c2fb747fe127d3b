"""The SST-1M subarray at Ondřejov (Czech Republic): two telescopes."""

from collections.abc import Sequence

import astropy.units as u
from astropy.coordinates import Angle, EarthLocation
from ctapipe.instrument import SubarrayDescription

from .telescope import sst1m_telescope

__all__ = ["ONDREJOV_HEIGHT_M", "ONDREJOV_LOCATION", "SST1M_POSITIONS", "sst1m_subarray"]

#: Height (m) of the array reference point above the WGS84 ellipsoid, as given (the
#: height of `ONDREJOV_LOCATION` comes back from geocentric coordinates, 3e-10 m off)
ONDREJOV_HEIGHT_M = 511.195

#: Array reference point at Ondřejov, the origin of the ground frame of the positions
#: below (WGS84 geodetic coordinates of the SST-1M array description).
ONDREJOV_LOCATION = EarthLocation.from_geodetic(
    lon=Angle("14d46m57.005s"),
    lat=Angle("49d54m44.79s"),
    height=ONDREJOV_HEIGHT_M * u.m,
)

#: Ground-frame positions (x north, y west, z up) of the first and second telescope,
#: i.e. of tel 21 and tel 22 in data.
SST1M_POSITIONS = (
    u.Quantity([-71.38, -30.43, -1.43], u.m),
    u.Quantity([71.38, 30.43, 1.42], u.m),
)


def sst1m_subarray(
    tel_ids: Sequence[int] = (21, 22), name: str = "SST1M_Ondrejov"
) -> SubarrayDescription:
    """The two SST-1M telescopes at Ondřejov.

    Parameters
    ----------
    tel_ids : Sequence[int]
        Ids of the first and second telescope: ``(21, 22)`` for data (default),
        ``MC_TEL_IDS = (1, 2)`` for simulations.
    name : str
        Name of the subarray.

    Returns
    -------
    ctapipe.instrument.SubarrayDescription
        Both telescopes share one `~ctapipe.instrument.TelescopeDescription` object.
    """
    tel_ids = tuple(int(tel_id) for tel_id in tel_ids)
    if len(tel_ids) != len(SST1M_POSITIONS) or len(set(tel_ids)) != len(tel_ids):
        raise ValueError(f"Expected {len(SST1M_POSITIONS)} distinct telescope ids, got {tel_ids}")

    telescope = sst1m_telescope()
    return SubarrayDescription(
        name=name,
        tel_positions={
            tel_id: pos.copy() for tel_id, pos in zip(tel_ids, SST1M_POSITIONS, strict=True)
        },
        tel_descriptions=dict.fromkeys(tel_ids, telescope),
        reference_location=ONDREJOV_LOCATION,
    )
