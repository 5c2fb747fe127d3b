"""Performance of DL2 files of simulated events (stereo and per telescope), via TableLoader."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from ctapipe.io import TableLoader

from .metrics import angular_resolution, angular_separation_deg, energy_resolution, roc

__all__ = ["auc_of", "dl2_performance", "read_dl2"]


def read_dl2(path: Path | str) -> tuple[Table, dict[int, Table]]:
    """Array events and telescope events (by id) of a DL2 file, with the shower truth."""
    with TableLoader(path) as loader:
        events = loader.read_subarray_events(dl2=True, simulated=True)
        tel = loader.read_telescope_events_by_id(dl1_parameters=True, dl2=True, simulated=True)
    return events, tel


def dl2_performance(
    path: Path | str,
    energy_prefix: str,
    geometry_prefix: str,
    bins: u.Quantity,
    stereo_only: bool = True,
) -> dict[str, QTable]:
    """
    Energy bias/resolution and angular resolution per true-energy bin of the gammas of a
    DL2 file: ``stereo`` (array events with two valid telescopes if ``stereo_only``) and
    ``mono`` (every valid telescope event, direction from its own disp).
    """
    events, tel = read_dl2(path)
    out = {}
    n_valid = np.asarray(events[f"{geometry_prefix}_telescopes"]).sum(axis=1)
    stereo = (n_valid >= 2) if stereo_only else (n_valid >= 1)
    ev = events[stereo & np.asarray(events[f"{geometry_prefix}_is_valid"])]
    true_energy = u.Quantity(ev["true_energy"], u.TeV)
    separation = angular_separation_deg(
        ev[f"{geometry_prefix}_az"], ev[f"{geometry_prefix}_alt"], ev["true_az"], ev["true_alt"]
    )
    table = angular_resolution(true_energy, separation * u.deg, bins)
    e = energy_resolution(true_energy, u.Quantity(ev[f"{energy_prefix}_energy"], u.TeV), bins)
    table["energy_bias"], table["energy_resolution"] = e["energy_bias"], e["energy_resolution"]
    out["stereo"] = table
    mono = [t[np.asarray(t[f"{geometry_prefix}_tel_is_valid"], bool)] for t in tel.values()]
    mono = [t for t in mono if len(t)]
    if mono:
        true_energy = u.Quantity(np.concatenate([t["true_energy"] for t in mono]), u.TeV)
        sep = np.concatenate(
            [
                angular_separation_deg(
                    t[f"{geometry_prefix}_tel_az"],
                    t[f"{geometry_prefix}_tel_alt"],
                    t["true_az"],
                    t["true_alt"],
                )  # fmt: skip
                for t in mono
            ]
        )
        reco = u.Quantity(np.concatenate([t[f"{energy_prefix}_tel_energy"] for t in mono]), u.TeV)
        table = angular_resolution(true_energy, sep * u.deg, bins)
        e = energy_resolution(true_energy, reco, bins)
        table["energy_bias"], table["energy_resolution"] = e["energy_bias"], e["energy_resolution"]
        out["mono"] = table
    return out


def auc_of(gamma_path: Path | str, proton_path: Path | str, prefix: str) -> float:
    """AUC of the combined gammaness ``<prefix>_prediction`` on a gamma and a proton DL2 file."""
    scores, labels = [], []
    for path, label in ((gamma_path, True), (proton_path, False)):
        with TableLoader(path) as loader:
            events = loader.read_subarray_events(dl2=True, simulated=False)
        s = np.asarray(events[f"{prefix}_prediction"], dtype=float)
        scores.append(s)
        labels.append(np.full(len(s), label))
    return roc(np.concatenate(labels), np.concatenate(scores))[2]
