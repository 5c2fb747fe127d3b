"""Performance of DL2 files of simulated events (stereo and per telescope), via TableLoader."""

from __future__ import annotations

import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from ctapipe.io import TableLoader

from ..io.dataformat import SIMULATION_IMPACT_GROUP, SIMULATION_SHOWER_TABLE, tel_node
from .metrics import angular_resolution, angular_separation_deg, energy_resolution, roc

__all__ = ["auc_of", "dl2_performance", "read_dl2", "with_true_impact"]


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
                )
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


def with_true_impact(path: Path | str, output: Path | str) -> Path:
    """
    A copy of ``path`` at ``output`` whose simulated impact tables have
    ``true_impact_distance``: ctapipe's training tools require the column, which the toy
    simulator does not write. The ground distance of each telescope from the true core.

    Parameters
    ----------
    path : Path or str
        Simulated DL1 file (iactpipe-simulate, iactpipe-r0-dl1, iactpipe-dl1-stereo).
    output : Path or str
        The copy to write (replaced if it exists).

    Returns
    -------
    Path
        ``output``.
    """
    from ctapipe.instrument import SubarrayDescription
    from ctapipe.io import read_table, write_table

    output = Path(output)
    shutil.copyfile(path, output)
    subarray = SubarrayDescription.from_hdf(output)
    shower = read_table(output, SIMULATION_SHOWER_TABLE)
    ids = zip(shower["obs_id"], shower["event_id"], strict=True)
    keys = {(o, e): k for k, (o, e) in enumerate(ids)}
    for tel_id in subarray.tel_ids:
        node = tel_node(SIMULATION_IMPACT_GROUP, tel_id)
        impact = read_table(output, node)
        pairs = zip(impact["obs_id"], impact["event_id"], strict=True)
        rows = [keys[(o, e)] for o, e in pairs]
        position = subarray.positions[tel_id]
        dx = shower["true_core_x"][rows] - position[0]
        dy = shower["true_core_y"][rows] - position[1]
        impact["true_impact_distance"] = np.hypot(dx, dy).to(u.m)
        impact["true_impact_distance_uncert"] = np.nan * u.m
        write_table(impact, output, node, overwrite=True)
    return output


def ctapipe_peer_config(
    regressor_config: dict, classifier_config: dict, prefix: str = "ctapipe"
) -> dict:
    """
    Config of ctapipe's train/apply tools with iactpipe's default stereo features and
    training selection, for side-by-side comparisons on the same inputs.

    Parameters
    ----------
    regressor_config, classifier_config : dict
        scikit-learn keyword arguments of the forests (same on both sides).
    prefix : str
        Prefix of ctapipe's DL2 columns: ``<prefix>_energy``, ``<prefix>_gammaness``,
        ``<prefix>_disp``.
    """
    from .models import DEFAULT_FEATURES, STEREO_FEATURES, RecoEventSelection

    features = [*DEFAULT_FEATURES, *STEREO_FEATURES]
    selection = [list(c) for c in RecoEventSelection().quality_criteria]
    return {
        "MLQualityQuery": {"quality_criteria": selection},
        "EnergyRegressor": {
            "model_cls": "RandomForestRegressor",
            "model_config": regressor_config,
            "features": features,
            "log_target": True,
            "prefix": f"{prefix}_energy",
        },
        "ParticleClassifier": {
            "model_cls": "RandomForestClassifier",
            "model_config": classifier_config,
            "features": features,
            "prefix": f"{prefix}_gammaness",
        },
        "DispReconstructor": {
            "norm_cls": "RandomForestRegressor",
            "norm_config": regressor_config,
            "sign_cls": "RandomForestClassifier",
            "sign_config": classifier_config,
            "features": features,
            "prefix": f"{prefix}_disp",
        },
        "CrossValidator": {"n_cross_validations": 0},
        "TableLoader": {"dl2": True},
        "StereoMeanCombiner": {"weights": "intensity"},
    }
