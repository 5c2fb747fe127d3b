"""
GADF HDUs of a DL3 file: EVENTS, GTI, POINTING, the IRFs of the run, and the indexes.

Time: seconds since ``MJDREFI + MJDREFF`` (2001-01-01T00:00:00 UTC expressed in TT, the
CTAO reference epoch) in the TT scale (``TIMESYS = 'TT'``), at the observatory
(``TIMEREF = 'LOCAL'``). Directions ICRS (``RADESYS = 'ICRS'``, ``EQUINOX = 2000``).
References: https://gamma-astro-data-formats.readthedocs.io (v0.3).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time

from ..version import __version__

__all__ = [
    "MJDREF",
    "REQUIRED_EVENTS_COLUMNS",
    "REQUIRED_EVENTS_KEYWORDS",
    "common_cards",
    "events_hdu",
    "gti_hdu",
    "pointing_hdu",
    "time_to_seconds",
]

#: 2001-01-01T00:00:00 UTC in TT (the CTAO reference epoch)
MJDREF = Time("2001-01-01T00:00:00", scale="utc").tt
MJDREFI = int(MJDREF.mjd)
MJDREFF = float(MJDREF.mjd - MJDREFI)

REQUIRED_EVENTS_COLUMNS = {
    "EVENT_ID": None,
    "TIME": u.s,
    "RA": u.deg,
    "DEC": u.deg,
    "ENERGY": u.TeV,
}
REQUIRED_EVENTS_KEYWORDS = (
    "HDUCLASS",
    "HDUDOC",
    "HDUVERS",
    "HDUCLAS1",
    "OBS_ID",
    "TSTART",
    "TSTOP",
    "ONTIME",
    "LIVETIME",
    "DEADC",
    "RA_PNT",
    "DEC_PNT",
    "EQUINOX",
    "RADECSYS",
    "ORIGIN",
    "TELESCOP",
    "INSTRUME",
    "CREATOR",
    "MJDREFI",
    "MJDREFF",
    "TIMEUNIT",
    "TIMESYS",
    "TIMEREF",
    "OBS_MODE",
    "DATE-OBS",
    "DATE-END",
    "ALT_PNT",
    "AZ_PNT",
    "GEOLON",
    "GEOLAT",
    "ALTITUDE",
    "OBJECT",
)


def time_to_seconds(time: Time) -> np.ndarray:
    """Seconds since the reference epoch (TT)."""
    return (time.tt - MJDREF).to_value(u.s)


def common_cards(
    obs_id: int,
    location: EarthLocation,
    telescop: str = "SST-1M",
    instrume: str = "SST-1M Ondrejov",
) -> list[tuple]:
    """Keywords that every HDU of a run carries."""
    lon, lat, height = location.geodetic[:3]
    return [
        ("HDUCLASS", "GADF", "Gamma-ray data format"),
        ("HDUDOC", "https://gamma-astro-data-formats.readthedocs.io", ""),
        ("HDUVERS", "0.3", "GADF version"),
        ("OBS_ID", int(obs_id), "observation (run) id"),
        ("TELESCOP", telescop, ""),
        ("INSTRUME", instrume, ""),
        ("ORIGIN", "iactpipe", ""),
        ("CREATOR", f"iactpipe {__version__}", ""),
        ("MJDREFI", MJDREFI, "[d] integer MJD of the time reference (TT)"),
        ("MJDREFF", MJDREFF, "[d] fractional MJD of the time reference (TT)"),
        ("TIMEUNIT", "s", ""),
        ("TIMESYS", "TT", ""),
        ("TIMEREF", "LOCAL", "times at the observatory"),
        ("GEOLON", float(lon.to_value(u.deg)), "[deg] observatory longitude"),
        ("GEOLAT", float(lat.to_value(u.deg)), "[deg] observatory latitude"),
        ("ALTITUDE", float(height.to_value(u.m)), "[m] observatory altitude"),
    ]


def _hdu(table: QTable, name: str, cards: list[tuple]) -> fits.BinTableHDU:
    hdu = fits.table_to_hdu(table)
    hdu.name = name
    for key, value, comment in cards:
        hdu.header[key] = (value, comment)
    return hdu


def events_hdu(events: QTable, cards: list[tuple]) -> fits.BinTableHDU:
    """
    EVENTS HDU.

    Parameters
    ----------
    events : QTable
        ``EVENT_ID``, ``TIME`` (astropy Time), ``RA``, ``DEC``, ``ENERGY`` and optional
        columns (``GAMMANESS``, ``MULTIP``, ``ALT``, ``AZ``), with units.
    cards : list of (key, value, comment)
        Header cards (common, observation, live time, IRF choice).
    """
    table = QTable()
    table["EVENT_ID"] = np.asarray(events["EVENT_ID"], dtype=np.int64)
    table["TIME"] = time_to_seconds(events["TIME"]) * u.s
    for name, unit in (("RA", u.deg), ("DEC", u.deg), ("ENERGY", u.TeV)):
        table[name] = u.Quantity(events[name]).to(unit).astype(np.float32)
    for name in events.colnames:
        if name not in table.colnames:
            column = events[name]
            table[name] = column.astype(np.float32) if column.dtype.kind == "f" else column
    return _hdu(table, "EVENTS", [("HDUCLAS1", "EVENTS", ""), *cards])


def gti_hdu(start: Time, stop: Time, cards: list[tuple]) -> fits.BinTableHDU:
    """GTI HDU with one or more intervals."""
    table = QTable(
        {
            "START": np.atleast_1d(time_to_seconds(start)) * u.s,
            "STOP": np.atleast_1d(time_to_seconds(stop)) * u.s,
        }
    )
    return _hdu(table, "GTI", [("HDUCLAS1", "GTI", ""), *cards])


def pointing_hdu(
    time: Time, ra: u.Quantity, dec: u.Quantity, alt: u.Quantity, az: u.Quantity, cards: list[tuple]
) -> fits.BinTableHDU:
    """POINTING HDU (pointing samples during the run)."""
    table = QTable(
        {
            "TIME": time_to_seconds(time) * u.s,
            "RA_PNT": ra.to(u.deg),
            "DEC_PNT": dec.to(u.deg),
            "ALT_PNT": alt.to(u.deg),
            "AZ_PNT": az.to(u.deg),
        }
    )
    return _hdu(table, "POINTING", [("HDUCLAS1", "POINTING", ""), *cards])
