"""
Per-pixel calibration files of the SST-1M cameras.

Accepted formats (one row per pixel, in software pixel order or with a ``pixel_id``
column):

- any table astropy reads (ECSV, FITS, or HDF5 written by astropy) with the columns
  ``dc_to_pe`` (pulse height of one p.e. in ADC, cross-talk included; required),
  ``calib_flag`` (1 = good; optional), ``dark_baseline`` (baseline without NSB in ADC;
  optional), ``pixel_id`` (optional);
- the pandas HDF5 files of sst1mpipe (``averaged_calib_param_v2_*.h5``, key ``param``,
  ``fixed`` format), read with PyTables without pandas: the same column names.

In the sst1mpipe files ``dc_to_pe`` is the mean pulse height per p.e. including
optical cross-talk: ``dc_to_pe = 1.011 * gain * (1 + true_Xtalk)`` for every pixel
(about 23.6 ADC for a single-p.e. ``gain`` of 21.1 ADC and 10.5 % cross-talk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tables
from astropy.table import Table

__all__ = ["PixelCalibration", "read_pixel_calibration"]


@dataclass
class PixelCalibration:
    """Per-pixel calibration constants (software pixel order)."""

    dc_to_pe: np.ndarray
    good: np.ndarray
    dark_baseline: np.ndarray | None = None


def _read_pandas_fixed(path: Path, key: str = "param") -> dict[str, np.ndarray] | None:
    """Columns of a pandas ``fixed``-format DataFrame in an HDF5 file, or None."""
    with tables.open_file(path) as h5:
        if f"/{key}" not in h5:
            return None
        group = h5.get_node(f"/{key}")
        columns: dict[str, np.ndarray] = {}
        block = 0
        while f"block{block}_items" in group:
            items = group[f"block{block}_items"].read()
            values = group[f"block{block}_values"].read()
            for i, name in enumerate(items):
                name = name.decode() if isinstance(name, bytes) else str(name)
                columns[name] = np.asarray(values[:, i])
            block += 1
        return columns or None


def read_pixel_calibration(path: str | Path, n_pixels: int) -> PixelCalibration:
    """
    Read a per-pixel calibration file (see the module docstring for the formats).

    Raises
    ------
    ValueError
        If the file has no ``dc_to_pe`` column or not ``n_pixels`` rows.
    """
    path = Path(path)
    columns = None
    if path.suffix in (".h5", ".hdf5") and tables.is_hdf5_file(path):
        columns = _read_pandas_fixed(path)
    if columns is None:
        table = Table.read(path)
        columns = {name: np.asarray(table[name]) for name in table.colnames}
    if "dc_to_pe" not in columns:
        raise ValueError(f"{path}: calibration file without a dc_to_pe column")
    order = np.arange(len(columns["dc_to_pe"]))
    if "pixel_id" in columns:
        order = np.argsort(columns["pixel_id"])
    if len(order) != n_pixels:
        raise ValueError(f"{path}: {len(order)} pixels, the camera has {n_pixels}")
    dc_to_pe = np.asarray(columns["dc_to_pe"], dtype=np.float64)[order]
    good = np.isfinite(dc_to_pe) & (dc_to_pe > 0)
    if "calib_flag" in columns:
        good &= np.asarray(columns["calib_flag"])[order] == 1
    dark = columns.get("dark_baseline")
    return PixelCalibration(
        dc_to_pe=dc_to_pe,
        good=good,
        dark_baseline=None if dark is None else np.asarray(dark, dtype=np.float64)[order],
    )
