"""Figures of the high-level analysis (`iactpipe.analysis`): theta², significance vs live
time, sky maps, SED with the fitted model, light curve."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "plot_light_curve",
    "plot_sed",
    "plot_significance_vs_livetime",
    "plot_skymaps",
    "plot_theta2",
]


def plot_theta2(table: Table, theta_cut: u.Quantity | None = None, title: str = "") -> Figure:
    """ON counts and alpha-scaled OFF counts vs theta², with the ON-region cut."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = np.asarray(table["theta2_min"]), np.asarray(table["theta2_max"])
    center, width = 0.5 * (lo + hi), hi - lo
    on = np.asarray(table["counts"], dtype=float)
    off = np.asarray(table["counts_off"], dtype=float) / max(table.meta.get("n_off_regions", 1), 1)
    ax.errorbar(center, on, yerr=np.sqrt(on), xerr=width / 2, fmt="o", color="k", label="ON")
    ax.bar(center, off, width=width, color="tab:blue", alpha=0.4, label="OFF (scaled)")
    if theta_cut is not None:
        ax.axvline(
            theta_cut.to_value(u.deg) ** 2,
            color="tab:red",
            ls="--",
            label=f"ON region ({theta_cut.to_value(u.deg):.2f} deg)",
        )
    ax.set_xlabel(r"$\theta^2$ [deg$^2$]")
    ax.set_ylabel("events")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_significance_vs_livetime(cumulative: Table, threshold: float = 5.0) -> Figure:
    """Li & Ma significance and excess as the runs accumulate."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if len(cumulative):
        hours = np.asarray(cumulative["livetime_s"]) / 3600
        ax.plot(hours, np.asarray(cumulative["significance"]), "o-", label="significance")
        scale = np.sqrt(hours / hours[-1]) * cumulative["significance"][-1]
        ax.plot(hours, scale, ":", color="gray", label=r"$\propto\sqrt{t}$")
    ax.axhline(threshold, color="tab:red", ls="--", label=f"{threshold:g} sigma")
    ax.set_xlabel("cumulative live time [h]")
    ax.set_ylabel(r"Li & Ma significance [$\sigma$]")
    ax.legend()
    return fig


def plot_skymaps(maps, target_name: str = "") -> Figure:
    """Counts, excess and significance maps (`iactpipe.analysis.skymaps.SkyMaps`)."""
    fig = Figure(figsize=(15, 4.8), layout="constrained")
    panels = [
        ("counts", maps.counts, "viridis"),
        ("excess", maps.excess, "viridis"),
        ("significance", maps.significance, "RdBu_r"),
    ]
    for i, (label, m, cmap) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 3, i, projection=m.geom.wcs)
        data = np.asarray(m.data, dtype=float)
        kwargs = {}
        if label == "significance":
            vmax = max(5.0, float(np.nanmax(np.abs(data)))) if np.isfinite(data).any() else 5.0
            kwargs = {"vmin": -vmax, "vmax": vmax}
        image = ax.imshow(data, origin="lower", cmap=cmap, **kwargs)
        ax.contour(
            np.asarray(maps.exclusion.data, dtype=float), levels=[0.5], colors="w", linewidths=0.8
        )
        ax.set_title(f"{target_name} {label}")
        ax.coords[0].set_axislabel("RA")
        ax.coords[1].set_axislabel("Dec")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_sed(flux_points, model=None, energy_range=None, reference_model=None) -> Figure:
    """E² dN/dE flux points (upper limits as arrows) with the fitted model and its band."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    kwargs = {"sed_type": "e2dnde", "energy_power": 0}
    if energy_range is not None and model is not None:
        model.plot(energy_bounds=energy_range, ax=ax, label="fit", **kwargs)
        try:
            model.plot_error(energy_bounds=energy_range, ax=ax, **kwargs)
        except (ValueError, np.linalg.LinAlgError):  # no covariance when the fit failed
            pass
    if reference_model is not None and energy_range is not None:
        reference_model.plot(
            energy_bounds=energy_range,
            ax=ax,
            ls=":",
            color="gray",
            label="Crab (MAGIC 2015)",
            **kwargs,
        )
    if flux_points is not None:
        flux_points.plot(ax=ax, sed_type="e2dnde", color="k", label="flux points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    # gammapy labels the axis with the sed type's name, in the unit it plotted
    ax.set_ylabel(ax.get_ylabel().replace("e2dnde", r"$E^2\,\mathrm{d}N/\mathrm{d}E$"))
    ax.legend()
    return fig


def _plain_log_ticks(axis) -> None:
    """Log-axis labels 1, 2, 5, 10, 20, ... as plain numbers (mantissa x 10^n labels of
    matplotlib's minor ticks overlap on a decade or two)."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_light_curve(table: Table, energy_range=None) -> Figure:
    """Integral flux per time bin; upper limits as downward arrows."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if len(table):
        t0 = np.floor(np.min(table["time_min"]))
        center = 0.5 * (np.asarray(table["time_min"]) + np.asarray(table["time_max"])) - t0
        half = 0.5 * (np.asarray(table["time_max"]) - np.asarray(table["time_min"]))
        flux = u.Quantity(table["flux"]).to_value("cm-2 s-1")
        err = u.Quantity(table["flux_err"]).to_value("cm-2 s-1")
        ul = u.Quantity(table["flux_ul"]).to_value("cm-2 s-1")
        is_ul = np.asarray(table["is_ul"], dtype=bool)
        points = ~is_ul & np.isfinite(flux) & np.isfinite(err)
        ax.errorbar(
            center[points],
            flux[points],
            yerr=np.abs(err[points]),
            xerr=half[points],
            fmt="o",
            color="k",
            label="flux",
        )
        is_ul &= np.isfinite(ul) & (ul > 0)
        if is_ul.any():
            ax.errorbar(
                center[is_ul],
                ul[is_ul],
                yerr=0.3 * ul[is_ul],
                xerr=half[is_ul],
                uplims=True,
                fmt="v",
                color="tab:red",
                label="upper limit",
            )
        ax.set_xlabel(f"MJD - {t0:.0f}")
    label = "flux"
    if energy_range is not None:
        label += f" {energy_range[0].to_value(u.TeV):.2g}-{energy_range[1].to_value(u.TeV):.3g} TeV"
    ax.set_ylabel(f"{label} [cm$^{{-2}}$ s$^{{-1}}$]")
    ax.legend()
    return fig
