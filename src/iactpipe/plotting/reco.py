"""Figures of model performance: energy bias/resolution, ROC, angular resolution, importances."""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

__all__ = ["plot_cross_validation"]


def _centres(table: Table) -> np.ndarray:
    low = u.Quantity(table["true_energy_low"], u.TeV).value
    high = u.Quantity(table["true_energy_high"], u.TeV).value
    return np.sqrt(low * high)


def plot_cross_validation(tables: Mapping[str, Table], title: str = "") -> Figure:
    """
    Four panels: energy bias and resolution, ROC curve with its AUC, angular resolution
    (68 % containment) and the ten most important features of each model.

    Parameters
    ----------
    tables : Mapping[str, astropy.table.Table]
        The tables of a `~iactpipe.reco.report.CrossValidationReport` (missing ones
        leave their panel empty).
    title : str
        Figure title.
    """
    fig = Figure(figsize=(11, 8), layout="constrained")
    (ax_e, ax_roc), (ax_dir, ax_imp) = fig.subplots(2, 2)
    if "energy" in tables:
        t = tables["energy"]
        ax_e.plot(_centres(t), t["energy_resolution"], "o-", label="resolution (half 16-84 %)")
        ax_e.plot(_centres(t), t["energy_bias"], "s--", label="bias (median)")
        ax_e.axhline(0, color="gray", lw=0.5)
        ax_e.legend()
    ax_e.set(xscale="log", xlabel="true energy [TeV]", ylabel="reco / true - 1")
    if "roc" in tables:
        t = tables["roc"]
        ax_roc.plot(t["false_positive_rate"], t["true_positive_rate"])
        ax_roc.plot([0, 1], [0, 1], color="gray", lw=0.5)
        ax_roc.set_title(f"AUC = {t.meta.get('auc', np.nan):.3f}")
    ax_roc.set(xlabel="proton efficiency", ylabel="gamma efficiency")
    if "direction" in tables:
        t = tables["direction"]
        ax_dir.plot(_centres(t), u.Quantity(t["angular_resolution"], u.deg).value, "o-")
    ax_dir.set(xscale="log", xlabel="true energy [TeV]", ylabel="68 % containment [deg] (mono)")
    if "importances" in tables and len(tables["importances"]):
        t = tables["importances"]
        labels, values = [], []
        for model in np.unique(t["model"]):
            here = t[t["model"] == model]
            mean = {
                f: np.mean(here["importance"][here["feature"] == f])
                for f in np.unique(here["feature"])
            }
            for feature, value in sorted(mean.items(), key=lambda kv: -kv[1])[:5]:
                labels.append(f"{model}: {feature}")
                values.append(value)
        ax_imp.barh(np.arange(len(values)), values)
        ax_imp.set_yticks(np.arange(len(values)), labels, fontsize=7)
        ax_imp.invert_yaxis()
    ax_imp.set(xlabel="feature importance")
    if title:
        fig.suptitle(title)
    return fig
