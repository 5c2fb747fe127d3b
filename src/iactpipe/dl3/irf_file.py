"""
The parts of an ``iactpipe-irf`` file that a DL3 file needs: IRF HDUs, the gammaness and
theta cuts, the event-selection fingerprint and config (`read_irf_file`).

Read by the IRF choice (`iactpipe.dl3.irf_choice`) and the interpolation between library
nodes (`iactpipe.dl3.irf_interpolation`), which both depend on this module and not on
each other's internals.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.table import QTable, Table

from ..io import InputFileError
from ..io.dataformat import (
    GH_CUTS_HDU,
    GH_EFFICIENCY_HDU,
    PROVENANCE_HDU,
    SELECTION_FINGERPRINT_KEYWORD,
    THETA_CUTS_HDU,
)

__all__ = ["IRF_HDU_NAMES", "IRFFile", "read_irf_file"]

#: the IRF HDUs copied into a DL3 file (when present)
IRF_HDU_NAMES = ("EFFECTIVE AREA", "ENERGY DISPERSION", "PSF", "RAD_MAX", "BACKGROUND")


@dataclass
class IRFFile:
    """The parts of an ``iactpipe-irf`` file that a DL3 file needs."""

    path: Path
    hdus: list[fits.BinTableHDU]
    gh_cuts: QTable
    theta_cuts: QTable
    selection_fingerprint: str
    selection_config: dict
    irf_type: str
    primary_header: fits.Header
    #: the gammas' gammaness quantiles per bin of ``gh_cuts`` (``GH_EFFICIENCY``;
    #: `iactpipe.irf.cuts.efficiency_table`), None in files written before it
    gh_efficiency: QTable | None = None


def _parse_config(text: str) -> dict:
    """The repr of a config dict (``inf`` spelt as a Python float) -> dict."""
    try:
        return ast.literal_eval(re.sub(r"\binf\b", "1e999", text))
    except (ValueError, SyntaxError):
        return {}


def read_irf_file(path: Path | str) -> IRFFile:
    """
    Read the IRF HDUs, cuts (with their gamma-efficiency curves when stored) and
    selection fingerprint of an ``iactpipe-irf`` file.

    Raises
    ------
    InputFileError
        Missing file, missing ``GH_CUTS``/``THETA_CUTS`` or ``SELFP``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such IRF file")
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        missing = [n for n in (GH_CUTS_HDU, THETA_CUTS_HDU, "EFFECTIVE AREA") if n not in names]
        header = hdul[0].header.copy()
        if missing or SELECTION_FINGERPRINT_KEYWORD not in header:
            missing = missing or f"{SELECTION_FINGERPRINT_KEYWORD} keyword"
            raise InputFileError(f"{path}: not an iactpipe-irf file (missing {missing})")
        hdus = [
            fits.BinTableHDU(data=hdul[n].data.copy(), header=hdul[n].header.copy())
            for n in IRF_HDU_NAMES
            if n in names
        ]
        gh_cuts = QTable(Table.read(hdul[GH_CUTS_HDU]))
        theta_cuts = QTable(Table.read(hdul[THETA_CUTS_HDU]))
        efficiency = None
        if GH_EFFICIENCY_HDU in names:
            efficiency = QTable(Table.read(hdul[GH_EFFICIENCY_HDU]))
        provenance = {}
        if PROVENANCE_HDU in names:
            table = Table.read(hdul[PROVENANCE_HDU])
            provenance = dict(zip(table["key"], table["value"], strict=True))
    return IRFFile(
        path,
        hdus,
        gh_cuts,
        theta_cuts,
        str(header[SELECTION_FINGERPRINT_KEYWORD]),
        _parse_config(provenance.get("selection_config", "{}")),
        str(header.get("IRFTYPE", "")),
        header,
        efficiency,
    )
