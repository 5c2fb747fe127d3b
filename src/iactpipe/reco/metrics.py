"""Performance figures of reconstructed events: energy bias/resolution (pyirf's), AUC,
angular resolution."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import QTable
from pyirf.benchmarks import energy_bias_resolution
from sklearn.metrics import roc_auc_score, roc_curve

__all__ = [
    "angular_resolution",
    "angular_separation_deg",
    "binned_auc",
    "energy_resolution",
    "roc",
]

#: the fraction of events inside the "68 %" containment
CONTAINMENT = 0.6827


def _bin_index(true_energy: u.Quantity, bins: u.Quantity) -> np.ndarray:
    return np.digitize(true_energy.to_value(u.TeV), bins.to_value(u.TeV)) - 1


def energy_resolution(
    true_energy: u.Quantity, reco_energy: u.Quantity, bins: u.Quantity, min_events: int = 10
) -> QTable:
    """
    Energy bias and resolution per bin of true energy, as pyirf defines them.

    This is `pyirf.benchmarks.energy_bias_resolution` (the one definition iactpipe uses,
    also in ``iactpipe-performance``) on the events with a finite reconstructed energy:
    the bias is the median of ``reco / true - 1``, the resolution half the distance
    between its 15.87 % and 84.13 % quantiles. Bins with fewer than ``min_events``
    events give NaN.

    Returns
    -------
    QTable
        ``true_energy_low``, ``true_energy_high``, ``n_events``, ``energy_bias``,
        ``energy_resolution``.
    """
    true_energy, reco_energy = u.Quantity(true_energy, u.TeV), u.Quantity(reco_energy, u.TeV)
    finite = np.isfinite(true_energy) & np.isfinite(reco_energy)
    events = QTable({"true_energy": true_energy[finite], "reco_energy": reco_energy[finite]})
    peer = energy_bias_resolution(events, u.Quantity(bins, u.TeV), energy_type="true")
    few = np.asarray(peer["n_events"]) < min_events
    return QTable(
        {
            "true_energy_low": bins[:-1],
            "true_energy_high": bins[1:],
            "n_events": np.asarray(peer["n_events"], dtype=int),
            "energy_bias": np.where(few, np.nan, peer["bias"]),
            "energy_resolution": np.where(few, np.nan, peer["resolution"]),
        }
    )


def angular_separation_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle separation (deg) of two (lon, lat) positions given as angles."""
    lon1, lat1, lon2, lat2 = (u.Quantity(x).to_value(u.rad) for x in (lon1, lat1, lon2, lat2))
    s = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return np.rad2deg(2 * np.arcsin(np.sqrt(np.clip(s, 0, 1))))


def angular_resolution(
    true_energy: u.Quantity, separation: u.Quantity, bins: u.Quantity, min_events: int = 10
) -> QTable:
    """68.27 % containment radius of ``separation`` per bin of true energy (NaN: too few)."""
    sep = u.Quantity(separation, u.deg).to_value(u.deg)
    index = _bin_index(true_energy, bins)
    n_bins = len(bins) - 1
    res, n = np.full(n_bins, np.nan), np.zeros(n_bins, int)
    for k in range(n_bins):
        values = sep[(index == k) & np.isfinite(sep)]
        n[k] = len(values)
        if len(values) >= min_events:
            res[k] = np.quantile(values, CONTAINMENT)
    return QTable(
        {
            "true_energy_low": bins[:-1],
            "true_energy_high": bins[1:],
            "n_events": n,
            "angular_resolution": res * u.deg,
        }
    )


def roc(is_gamma: np.ndarray, gammaness: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve (false positive rate, true positive rate) and its AUC on finite scores."""
    ok = np.isfinite(gammaness)
    fpr, tpr, _ = roc_curve(is_gamma[ok], gammaness[ok])
    return fpr, tpr, float(roc_auc_score(is_gamma[ok], gammaness[ok]))


def binned_auc(
    reco_energy: u.Quantity,
    is_gamma: np.ndarray,
    gammaness: np.ndarray,
    bins: u.Quantity,
    min_events: int = 10,
) -> QTable:
    """AUC per bin of (reconstructed) energy (NaN where one class has too few events)."""
    index = _bin_index(reco_energy, bins)
    auc = np.full(len(bins) - 1, np.nan)
    for k in range(len(auc)):
        here = (index == k) & np.isfinite(gammaness)
        if min(is_gamma[here].sum(), (~is_gamma[here]).sum()) >= min_events:
            auc[k] = roc_auc_score(is_gamma[here], gammaness[here])
    return QTable({"reco_energy_low": bins[:-1], "reco_energy_high": bins[1:], "auc": auc})
