"""
The IRF library: one directory per (zenith, azimuth, NSB level, event class, gamma
efficiency) node, and an index (``irf_index.ecsv``) that the DL3 step queries.

Layout::

    <library>/
      irf_index.ecsv
      zd20_az000/nsb_dark/<event_class>/geff0.70/
          irf_full_enclosure.fits.gz
          irf_point_like.fits.gz

`produce_node` builds the IRF files of one node; it takes only picklable arguments so
that several gamma efficiencies run in parallel processes.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack
from traitlets.config import Config

from ..io import AtomicOutputFile, InputFileError, config_fingerprint
from ..io.dataformat import (
    CUTS_FINGERPRINT_KEYWORD,
    GH_CUTS_HDU,
    GH_EFFICIENCY_HDU,
    MODEL_LIBRARY_KEYWORD,
    PROVENANCE_HDU,
    SELECTION_FINGERPRINT_KEYWORD,
    THETA_CUTS_HDU,
    VERSION_KEYWORD,
)
from ..version import __version__
from .cuts import EFFICIENCY_QUANTILES, GammaCuts, efficiency_table
from .events import LoadedEvents
from .irfs import IRFMaker

__all__ = [
    "INDEX_NAME",
    "IRF_FILE_NAMES",
    "NodeJob",
    "node_directory",
    "produce_node",
    "read_index",
    "select_irf",
    "update_index",
]

INDEX_NAME = "irf_index.ecsv"
IRF_FILE_NAMES = {
    "full-enclosure": "irf_full_enclosure.fits.gz",
    "point-like": "irf_point_like.fits.gz",
}
INDEX_KEYS = ("zenith", "azimuth", "nsb_level", "event_class", "gamma_efficiency", "irf_type")


def node_directory(
    zenith: u.Quantity,
    azimuth: u.Quantity,
    nsb_level: str,
    event_class: str,
    gamma_efficiency: float,
) -> Path:
    """Relative directory of a library node."""
    # rounded to 0.001 deg first: a pointing stored as float32 radians (27.4999988 deg)
    # gets the name of the pointing simulated (27.5 deg -> zd28)
    zd = round(round(float(zenith.to_value(u.deg)), 3))
    az = round(round(float(azimuth.to_value(u.deg)), 3)) % 360
    return (
        Path(f"zd{zd:02d}_az{az:03d}")
        / f"nsb_{nsb_level}"
        / event_class
        / (f"geff{gamma_efficiency:.2f}")
    )


@dataclass
class NodeJob:
    """Everything one library node needs (picklable): the ``IRFMaker`` config and the
    node's cuts, computed by the Tool's ``EventCuts`` (``cut_config``: its config)."""

    config: dict
    gamma_efficiency: float
    library: Path
    nsb_level: str
    event_class: str
    cut_gammas: LoadedEvents
    point_gammas: LoadedEvents | None
    diffuse_gammas: LoadedEvents | None
    backgrounds: list[LoadedEvents]
    provenance: dict
    overwrite: bool
    cuts: GammaCuts
    cut_config: dict


def _provenance_hdu(provenance: dict, cuts: GammaCuts, cut_config: dict) -> fits.BinTableHDU:
    rows = {
        **provenance,
        "cuts_config": json.dumps(cut_config, sort_keys=True, default=str),
        "cuts_fingerprint": config_fingerprint(cut_config),
        "cuts_method": cuts.method,
    }
    table = Table({"key": list(rows), "value": [str(v) for v in rows.values()]})
    hdu = fits.table_to_hdu(table)
    hdu.name = PROVENANCE_HDU
    return hdu


def _cut_hdus(cuts: GammaCuts, gammas: LoadedEvents) -> list[fits.BinTableHDU]:
    hdu = fits.table_to_hdu(cuts.gh_cuts)
    hdu.name = GH_CUTS_HDU
    theta = fits.table_to_hdu(cuts.theta_cuts)
    theta.name = THETA_CUTS_HDU
    # the gammas that made the gh cut: DL3 compares scores between nodes by their
    # gamma efficiency at each node (iactpipe.dl3.node_cuts)
    events = gammas.events
    table = efficiency_table(
        events["gh_score"], events["reco_energy"], cuts.gh_cuts, EFFICIENCY_QUANTILES
    )
    efficiency = fits.table_to_hdu(table)
    efficiency.name = GH_EFFICIENCY_HDU
    return [hdu, theta, efficiency]


def _valid_energy(cuts: GammaCuts) -> tuple[float, float]:
    valid = np.asarray(cuts.gh_cuts["cut"]) < 1.0
    if not valid.any():
        return np.nan, np.nan
    low = u.Quantity(cuts.gh_cuts["low"][valid]).to_value(u.TeV)
    high = u.Quantity(cuts.gh_cuts["high"][valid]).to_value(u.TeV)
    return float(low.min()), float(high.max())


def produce_node(job: NodeJob) -> list[dict]:
    """
    Write the full-enclosure and point-like IRF files of one node with the cuts at
    ``job.gamma_efficiency``; return their index rows.
    """
    maker = IRFMaker(config=Config(job.config))
    cuts, cut_config = job.cuts, job.cut_config
    zenith, azimuth = job.cut_gammas.pointing
    directory = node_directory(
        zenith, azimuth, job.nsb_level, job.event_class, job.gamma_efficiency
    )
    (job.library / directory).mkdir(parents=True, exist_ok=True)
    e_low, e_high = _valid_energy(cuts)
    rows = []
    for irf_type, gammas in (
        ("full-enclosure", job.diffuse_gammas or job.point_gammas or job.cut_gammas),
        ("point-like", job.point_gammas or job.diffuse_gammas or job.cut_gammas),
    ):
        point_like = irf_type == "point-like"
        hdus = maker(gammas, cuts, point_like, job.backgrounds)
        header = fits.Header()
        header["CREATOR"] = "iactpipe-irf"
        header[VERSION_KEYWORD] = __version__
        header["ZENITH"] = (float(zenith.to_value(u.deg)), "pointing zenith (deg)")
        header["AZIMUTH"] = (float(azimuth.to_value(u.deg)), "pointing azimuth (deg)")
        header["NSBLEVEL"] = job.nsb_level
        header["EVCLASS"] = job.event_class
        header["GAMMAEFF"] = job.gamma_efficiency
        if np.isfinite(cuts.theta_containment):
            header["THETACNT"] = cuts.theta_containment
        header["IRFTYPE"] = irf_type
        header[SELECTION_FINGERPRINT_KEYWORD] = (
            job.provenance["selection_fingerprint"],
            "DL2EventSelection",
        )
        header[CUTS_FINGERPRINT_KEYWORD] = (config_fingerprint(cut_config), "EventCuts")
        if job.provenance.get("model_library_fingerprint"):
            header[MODEL_LIBRARY_KEYWORD] = (
                job.provenance["model_library_fingerprint"],
                "model library of the DL2 inputs",
            )
        for hdu in hdus:
            if hdu.name == "EFFECTIVE AREA" and np.isfinite(e_low):
                hdu.header["LO_THRES"] = (e_low, "TeV, lowest energy with a defined cut")
                hdu.header["HI_THRES"] = (e_high, "TeV, highest energy with a defined cut")
        hdul = fits.HDUList(
            [
                fits.PrimaryHDU(header=header),
                *hdus,
                *_cut_hdus(cuts, job.cut_gammas),
                _provenance_hdu(job.provenance, cuts, cut_config),
            ]
        )
        relative = directory / IRF_FILE_NAMES[irf_type]
        with AtomicOutputFile(job.library / relative, overwrite=job.overwrite) as out:
            with gzip.open(out.temporary_path, "wb") as stream:
                hdul.writeto(stream)
        rows.append(
            {
                "zenith": float(zenith.to_value(u.deg)),
                "azimuth": float(azimuth.to_value(u.deg)),
                "nsb_level": job.nsb_level,
                "event_class": job.event_class,
                "gamma_efficiency": job.gamma_efficiency,
                "theta_containment": cuts.theta_containment,
                "irf_type": irf_type,
                "cuts_method": cuts.method,
                "energy_min": e_low,
                "energy_max": e_high,
                "selection_fingerprint": job.provenance["selection_fingerprint"],
                "path": str(relative),
            }
        )
    return rows


def read_index(library: Path | str) -> Table:
    """The index of a library (an empty table if there is none)."""
    path = Path(library) / INDEX_NAME
    if not path.is_file():
        raise InputFileError(f"{library}: no IRF library index {INDEX_NAME}")
    return Table.read(path, format="ascii.ecsv")


def update_index(library: Path | str, rows: list[dict]) -> Path:
    """Add ``rows`` to the library index, replacing rows with the same node keys."""
    library = Path(library)
    new = Table(rows=rows)
    path = library / INDEX_NAME
    if path.is_file():
        old = Table.read(path, format="ascii.ecsv")
        keys = {tuple(str(r[k]) for k in INDEX_KEYS) for r in new}
        keep = [tuple(str(r[k]) for k in INDEX_KEYS) not in keys for r in old]
        new = vstack([old[keep], new], metadata_conflicts="silent")
    new.sort(list(INDEX_KEYS))
    new.meta["description"] = "iactpipe IRF library index; paths relative to this file"
    with AtomicOutputFile(path, overwrite=True) as out:
        new.write(out.temporary_path, format="ascii.ecsv")
    return path


def select_irf(
    library: Path | str,
    zenith: u.Quantity,
    azimuth: u.Quantity,
    nsb_level: str,
    gamma_efficiency: float,
    irf_type: str = "point-like",
    event_class: str | None = None,
) -> Path:
    """
    The IRF file for a run: same NSB level, event class, efficiency and type, nearest
    node in cos(zenith) then azimuth.

    Raises
    ------
    InputFileError
        If no node matches.
    """
    index = read_index(library)
    mask = (index["nsb_level"] == nsb_level) & (index["irf_type"] == irf_type)
    mask &= np.isclose(index["gamma_efficiency"], gamma_efficiency)
    if event_class is not None:
        mask &= index["event_class"] == event_class
    if not mask.any():
        raise InputFileError(
            f"{library}: no {irf_type} IRF for NSB {nsb_level!r}, gamma efficiency "
            f"{gamma_efficiency}, event class {event_class!r}"
        )
    rows = index[mask]
    cos = np.cos(np.deg2rad(rows["zenith"]))
    dz = np.abs(cos - np.cos(zenith.to_value(u.rad)))
    daz = np.abs((rows["azimuth"] - azimuth.to_value(u.deg) + 180) % 360 - 180)
    best = np.lexsort((daz, np.round(dz, 6)))[0]
    return Path(library) / rows["path"][best]
