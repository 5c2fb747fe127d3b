"""
HDU and observation indexes (``hdu-index.fits.gz``, ``obs-index.fits.gz``) for a set of
DL3 files, as ``gammapy.data.DataStore.from_dir`` reads them.

Each HDU's ``HDU_TYPE``/``HDU_CLASS`` comes from its own GADF header (``HDUCLAS2`` and
``HDUCLAS4``): ``psf_table``, ``bkg_2d`` or ``bkg_3d``, ``rad_max_2d`` as written, not the
``psf_3gauss``/``bkg_3d`` that gammapy's ``DataStore.from_events_files`` assumes
(gammapy#6498).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ..io import AtomicOutputFile, InputFileError
from .gadf import MJDREFF, MJDREFI
from .writer import write_fits_gz

__all__ = [
    "HDU_INDEX_NAME",
    "OBS_INDEX_NAME",
    "hdu_type_and_class",
    "make_index_tables",
    "write_index_files",
]

HDU_INDEX_NAME = "hdu-index.fits.gz"
OBS_INDEX_NAME = "obs-index.fits.gz"
_BY_CLAS1 = {
    "EVENTS": ("events", "events"),
    "GTI": ("gti", "gti"),
    "POINTING": ("pointing", "pointing"),
}
_BY_EXTNAME = {
    "GTI": "GTI",
    "POINTING": "POINTING",
    "EFFECTIVE AREA": "EFF_AREA",
    "ENERGY DISPERSION": "EDISP",
    "PSF": "PSF",
    "POINT SPREAD FUNCTION": "PSF",
    "BACKGROUND": "BKG",
    "RAD_MAX": "RAD_MAX",
}
_BY_CLAS2 = {"EFF_AREA": "aeff", "EDISP": "edisp", "PSF": "psf", "BKG": "bkg", "RAD_MAX": "rad_max"}
_CLASSES = {
    "aeff_2d",
    "edisp_2d",
    "psf_table",
    "psf_3gauss",
    "psf_king",
    "bkg_2d",
    "bkg_3d",
    "rad_max_2d",
}
OBS_COLUMNS = {
    "RA_PNT": u.deg,
    "DEC_PNT": u.deg,
    "ALT_PNT": u.deg,
    "AZ_PNT": u.deg,
    "ONTIME": u.s,
    "LIVETIME": u.s,
    "DEADC": None,
    "TSTART": u.s,
    "TSTOP": u.s,
}


def hdu_type_and_class(hdu: fits.hdu.base.ExtensionHDU) -> tuple[str, str] | None:
    """
    (HDU_TYPE, HDU_CLASS) of a GADF HDU, or None for HDUs gammapy does not index.

    Classes come from ``HDUCLAS1/2/4``; where a writer left them out (gammapy 2.1 writes
    IRFs without ``HDUCLAS4`` and the GTI without any), from the extension name and the
    table's columns.
    """
    header = hdu.header
    extname = str(header.get("EXTNAME", "")).upper()
    extname = "PSF" if extname.startswith("PSF") else extname  # gammapy: PSF_2D_GAUSS
    if header.get("HDUCLASS") != "GADF" and extname not in _BY_EXTNAME:
        return None
    clas1 = str(header.get("HDUCLAS1", "")).upper() or extname
    if clas1 in _BY_CLAS1:
        return _BY_CLAS1[clas1]
    clas2 = str(header.get("HDUCLAS2", "")).upper() or _BY_EXTNAME.get(extname, "")
    hdu_type = _BY_CLAS2.get(clas2)
    if hdu_type is None:
        return None
    hdu_class = str(header.get("HDUCLAS4", "")).lower()
    if hdu_class not in _CLASSES:
        hdu_class = _class_from_columns(hdu_type, hdu)
    return (hdu_type, hdu_class) if hdu_class in _CLASSES else None


def _class_from_columns(hdu_type: str, hdu) -> str:
    """The GADF class of an IRF HDU without ``HDUCLAS4``, from its columns."""
    columns = {c.upper() for c in getattr(hdu, "columns", fits.ColDefs([])).names}
    if hdu_type == "psf":
        found = [
            c
            for col, c in (("RPSF", "psf_table"), ("SIGMA_1", "psf_3gauss"), ("GAMMA", "psf_king"))
            if col in columns
        ]
        return found[0] if found else ""
    if hdu_type == "bkg":
        return "bkg_3d" if {"DETX_LO", "DETX"} & columns else "bkg_2d"
    return f"{hdu_type}_2d"


def _header_number(header: fits.Header, key: str, default: float) -> float:
    """A numeric keyword, ``default`` when absent or blank (gammapy writes a blank N_TELS)."""
    try:
        return float(header.get(key, default))
    except (TypeError, ValueError):
        return default


def make_index_tables(files: Iterable[Path], base_dir: Path) -> tuple[Table, Table]:
    """
    Build the HDU and observation index tables.

    Parameters
    ----------
    files : iterable of Path
        DL3 files (one observation each).
    base_dir : Path
        Directory of the index files; ``FILE_DIR`` is relative to it.

    Raises
    ------
    InputFileError
        A file without EVENTS HDU, or two files with the same OBS_ID.
    """
    hdu_rows, obs_rows, seen = [], [], {}
    for path in sorted(Path(f) for f in files):
        with fits.open(path) as hdul:
            if "EVENTS" not in hdul:
                raise InputFileError(f"{path}: no EVENTS HDU (not a DL3 file)")
            events = hdul["EVENTS"].header
            obs_id = int(events["OBS_ID"])
            if obs_id in seen:
                raise InputFileError(f"{path}: OBS_ID {obs_id} also in {seen[obs_id]}")
            seen[obs_id] = path
            directory = os.path.relpath(path.parent, base_dir)
            for hdu in hdul[1:]:
                kind = hdu_type_and_class(hdu)
                if kind is None:
                    continue
                hdu_rows.append(
                    {
                        "OBS_ID": obs_id,
                        "HDU_TYPE": kind[0],
                        "HDU_CLASS": kind[1],
                        "FILE_DIR": directory,
                        "FILE_NAME": path.name,
                        "HDU_NAME": hdu.name,
                        "SIZE": path.stat().st_size,
                    }
                )
            row = {"OBS_ID": obs_id}
            for key in OBS_COLUMNS:
                row[key] = _header_number(events, key, np.nan)
            row["ZEN_PNT"] = 90.0 - row["ALT_PNT"]
            for key in ("DATE-OBS", "DATE-END", "OBJECT", "OBS_MODE", "TELLIST"):
                row[key] = str(events.get(key, ""))
            row["N_TELS"] = int(_header_number(events, "N_TELS", 0))
            row["EVENT_COUNT"] = int(hdul["EVENTS"].header.get("NAXIS2", 0))
            obs_rows.append(row)
    if not obs_rows:
        raise InputFileError(f"{base_dir}: no DL3 file")
    hdu_table = Table(rows=hdu_rows)
    obs_table = Table(rows=obs_rows)
    for key, unit in {**OBS_COLUMNS, "ZEN_PNT": u.deg}.items():
        obs_table[key].unit = unit
    for table, clas2 in ((hdu_table, "HDU"), (obs_table, "OBS")):
        table.meta.update(
            {
                "HDUCLASS": "GADF",
                "HDUDOC": "https://gamma-astro-data-formats.readthedocs.io",
                "HDUVERS": "0.3",
                "HDUCLAS1": "INDEX",
                "HDUCLAS2": clas2,
                "MJDREFI": MJDREFI,
                "MJDREFF": MJDREFF,
                "TIMEUNIT": "s",
                "TIMESYS": "TT",
                "TIMEREF": "LOCAL",
            }
        )
    first = fits.getheader(next(iter(seen.values())), "EVENTS")
    for key in ("GEOLON", "GEOLAT", "ALTITUDE", "TELESCOP", "INSTRUME"):
        obs_table.meta[key] = first.get(key)
    return hdu_table, obs_table


def write_index_files(
    directory: Path, hdu_table: Table, obs_table: Table, overwrite: bool = False
) -> tuple[Path, Path]:
    """Write both indexes into ``directory`` (atomically)."""
    paths = []
    for table, name, ext in (
        (hdu_table, HDU_INDEX_NAME, "HDU_INDEX"),
        (obs_table, OBS_INDEX_NAME, "OBS_INDEX"),
    ):
        hdu = fits.table_to_hdu(table)
        hdu.name = ext
        with AtomicOutputFile(Path(directory) / name, overwrite=overwrite) as out:
            write_fits_gz(
                fits.HDUList([fits.PrimaryHDU(), hdu]), out.temporary_path, output_verify="fix"
            )
        paths.append(Path(directory) / name)
    return paths[0], paths[1]
