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
                "k^:",
                label=ref.meta.get("label", "reference"),
            )


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
    _energy_panel(ax_e, tables.get("ENERGY_RESOLUTION"), references)
    _direction_panel(ax_dir, tables.get("ANGULAR_RESOLUTION"), references)
    _area_panel(ax_aeff, tables.get("EFFECTIVE_AREA"))
    _auc_panel(ax_auc, tables.get("ROC_AUC"))
    _background_panel(ax_bkg, tables.get("BACKGROUND_RATE"))
    _sensitivity_panel(ax_sens, tables.get("SENSITIVITY"), references)
    if title:
        fig.suptitle(title)
    return fig


def _energy_panel(ax, t: QTable | None, references) -> None:
    if t is not None:
        ax.plot(_x(t, "true_energy"), t["resolution"], "o-", label="resolution")
        ax.plot(_x(t, "true_energy"), t["bias"], "s--", label="bias (median)")
        _overlay(ax, references, "energy_resolution", u.one)
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend()
    ax.set(xscale="log", xlabel="true energy [TeV]", ylabel="reco / true - 1")


def _direction_panel(ax, t: QTable | None, references) -> None:
    if t is not None:
        resolution = u.Quantity(t["angular_resolution_68"]).to_value(u.deg)
        ax.plot(_x(t, "true_energy"), resolution, "o-", label="this MC")
        _overlay(ax, references, "angular_resolution", u.deg)
        ax.legend()
    ax.set(xscale="log", xlabel="true energy [TeV]", ylabel="68 % containment [deg]")


def _area_panel(ax, t: QTable | None) -> None:
    if t is not None:
        stages = [c.removeprefix("effective_area_") for c in t.colnames]
        for name in [s for s, c in zip(stages, t.colnames, strict=True) if s != c]:
            area = u.Quantity(t[f"effective_area_{name}"]).to_value(u.m**2)
            ax.plot(_x(t, "true_energy"), area, "o-", label=name.replace("_", " + "))
        ax.legend()
    ax.set(xscale="log", yscale="log", xlabel="true energy [TeV]", ylabel="effective area [m$^2$]")


def _auc_panel(ax, t: QTable | None) -> None:
    if t is not None:
        ax.plot(_x(t, "reco_energy"), t["auc"], "o-")
        ax.set_title(f"all energies: AUC = {t.meta.get('AUC', np.nan):.3f}")
    ax.set(xscale="log", xlabel="reco energy [TeV]", ylabel="ROC AUC", ylim=(0.4, 1.02))


def _background_panel(ax, t: QTable | None) -> None:
    scale = "log"
    if t is not None:
        rate = u.Quantity(t["background_rate"])
        scale = "log" if np.any(rate.value > 0) else "linear"
        ax.plot(_x(t, "reco_energy"), rate.to_value(1 / u.s), "o-")
    ax.set(
        xscale="log",
        yscale=scale,
        xlabel="reco energy [TeV]",
        ylabel="background rate in the ON region [1/s]",
    )


def _sensitivity_panel(ax, t: QTable | None, references) -> None:
    if t is not None:
        unit = u.erg / (u.cm**2 * u.s)
        flux = u.Quantity(t["energy_flux_sensitivity"]).to_value(unit)
        ax.plot(_x(t, "reco_energy"), flux, "o-", label=f"this MC ({t.meta.get('OBSTIME', '')})")
        _overlay(ax, references, "sensitivity", unit)
        ax.legend()
        crab = ax.twinx()
        percent = u.Quantity(t["crab_percent"]).to_value(u.percent)
        crab.plot(_x(t, "reco_energy"), percent, alpha=0)
        _overlay(crab, references, "relative_sensitivity", u.percent)
        crab.set(yscale="log", ylabel="% Crab")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="reco energy [TeV]",
        ylabel="E$^2$ dN/dE [erg cm$^{-2}$ s$^{-1}$]",
    )
