"""Figure of the performance tables of `iactpipe.irf.performance`, with reference curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable
from matplotlib.figure import Figure

__all__ = ["plot_performance"]


def _x(table: QTable, key: str) -> np.ndarray:
    return u.Quantity(table[f"{key}_center"]).to_value(u.TeV)


def _overlay(ax, references: Sequence[QTable], column: str, unit) -> None:
    for ref in references:
        if column in ref.colnames:
            ax.plot(
                u.Quantity(ref["energy"]).to_value(u.TeV),
                u.Quantity(ref[column]).to_value(unit),
                "k^:", label=ref.meta.get("label", "reference"),
            )  # fmt: skip


def plot_performance(
    tables: Mapping[str, QTable], references: Sequence[QTable] = (), title: str = ""
) -> Figure:
    """
    Six panels: energy bias and resolution, angular resolution (68 %), effective area
    after each selection stage, AUC per energy bin, background rate and differential
    sensitivity (E^2 dN/dE, with % Crab on the right axis).

    Parameters
    ----------
    tables : Mapping[str, QTable]
        The tables of a `~iactpipe.irf.performance.PerformanceResult` (missing ones leave
        their panel empty).
    references : sequence of QTable
        Reference curves from `~iactpipe.irf.performance.read_reference_curves`, drawn
        in the panels whose column they have.
    title : str
        Figure title.
    """
    fig = Figure(figsize=(15, 8.5), layout="constrained")
    (ax_e, ax_dir, ax_aeff), (ax_auc, ax_bkg, ax_sens) = fig.subplots(2, 3)
    if "ENERGY_RESOLUTION" in tables:
        t = tables["ENERGY_RESOLUTION"]
        ax_e.plot(_x(t, "true_energy"), t["resolution"], "o-", label="resolution")
        ax_e.plot(_x(t, "true_energy"), t["bias"], "s--", label="bias (median)")
        _overlay(ax_e, references, "energy_resolution", u.one)
        ax_e.axhline(0, color="gray", lw=0.5)
        ax_e.legend()
    ax_e.set(xscale="log", xlabel="true energy [TeV]", ylabel="reco / true - 1")
    if "ANGULAR_RESOLUTION" in tables:
        t = tables["ANGULAR_RESOLUTION"]
        ax_dir.plot(_x(t, "true_energy"), u.Quantity(t["angular_resolution_68"]).to_value(u.deg),
                    "o-", label="this MC")  # fmt: skip
        _overlay(ax_dir, references, "angular_resolution", u.deg)
        ax_dir.legend()
    ax_dir.set(xscale="log", xlabel="true energy [TeV]", ylabel="68 % containment [deg]")
    if "EFFECTIVE_AREA" in tables:
        t = tables["EFFECTIVE_AREA"]
        for name in [c.removeprefix("effective_area_") for c in t.colnames
                     if c.startswith("effective_area_")]:  # fmt: skip
            ax_aeff.plot(_x(t, "true_energy"),
                         u.Quantity(t[f"effective_area_{name}"]).to_value(u.m**2), "o-",
                         label=name.replace("_", " + "))  # fmt: skip
        ax_aeff.legend()
    ax_aeff.set(xscale="log", yscale="log", xlabel="true energy [TeV]",
                ylabel="effective area [m$^2$]")  # fmt: skip
    if "ROC_AUC" in tables:
        t = tables["ROC_AUC"]
        ax_auc.plot(_x(t, "reco_energy"), t["auc"], "o-")
        ax_auc.set_title(f"all energies: AUC = {t.meta.get('AUC', np.nan):.3f}")
    ax_auc.set(xscale="log", xlabel="reco energy [TeV]", ylabel="ROC AUC", ylim=(0.4, 1.02))
    bkg_scale = "log"
    if "BACKGROUND_RATE" in tables:
        t = tables["BACKGROUND_RATE"]
        bkg_scale = "log" if np.any(u.Quantity(t["background_rate"]).value > 0) else "linear"
        ax_bkg.plot(_x(t, "reco_energy"), u.Quantity(t["background_rate"]).to_value(1 / u.s),
                    "o-")  # fmt: skip
    ax_bkg.set(xscale="log", yscale=bkg_scale, xlabel="reco energy [TeV]",
               ylabel="background rate in the ON region [1/s]")  # fmt: skip
    if "SENSITIVITY" in tables:
        t = tables["SENSITIVITY"]
        unit = u.erg / (u.cm**2 * u.s)
        ax_sens.plot(_x(t, "reco_energy"), u.Quantity(t["energy_flux_sensitivity"]).to_value(unit),
                     "o-", label=f"this MC ({t.meta.get('OBSTIME', '')})")  # fmt: skip
        _overlay(ax_sens, references, "sensitivity", unit)
        ax_sens.legend()
        crab = ax_sens.twinx()
        crab.plot(_x(t, "reco_energy"), u.Quantity(t["crab_percent"]).to_value(u.percent),
                  alpha=0)  # fmt: skip
        _overlay(crab, references, "relative_sensitivity", u.percent)
        crab.set(yscale="log", ylabel="% Crab")
    ax_sens.set(xscale="log", yscale="log", xlabel="reco energy [TeV]",
                ylabel="E$^2$ dN/dE [erg cm$^{-2}$ s$^{-1}$]")  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig
