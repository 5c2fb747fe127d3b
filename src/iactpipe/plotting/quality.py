"""Figures of the data-quality monitor: rates vs time, pedestal camera maps,
image-parameter distributions and the night summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table
from ctapipe.instrument import CameraGeometry
from ctapipe.visualization import CameraDisplay
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ..version import __version__

__all__ = [
    "plot_image_distributions",
    "plot_night_summary",
    "plot_pedestal_camera",
    "plot_rates",
    "write_night_pdf",
]


def plot_rates(elements, intervals: Sequence[tuple[float, float, float]] = ()) -> Figure:
    """
    Trigger rate and bright-image rate vs time, pedestal std (NSB level) vs time.

    Parameters
    ----------
    elements : iactpipe.quality.MonitorElements
    intervals : sequence of (start_s, end_s, relative_rate)
        Low-rate intervals to shade (from `iactpipe.quality.checks.low_rate_intervals`).
    """
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax_rate, ax_nsb = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    edges = np.asarray(elements.rate_bin_edges_s)
    trigger, bright = elements.rates_hz
    if len(edges) > 1:
        ax_rate.stairs(trigger, edges, label="physics triggers")
        ax_rate.stairs(bright, edges, label=f"intensity > {elements.bright_intensity_pe:.0f} p.e.")
    for start, end, ratio in intervals:
        ax_rate.axvspan(start, end, color="tab:red", alpha=0.2, label=f"low rate ({ratio:.2f})")
    ax_rate.set_ylabel("rate [Hz]")
    ax_rate.set_ylim(bottom=0)
    ax_rate.legend(loc="lower left", fontsize="small")
    ax_rate.set_title(f"run {elements.obs_id}, tel {elements.tel_id}")
    if elements.pedestal_time_s:
        ax_nsb.plot(elements.pedestal_time_s, elements.pedestal_median_std_pe, "o-")
    ax_nsb.set_ylabel("pedestal std [p.e.]")
    ax_nsb.set_xlabel("time since first event [s]")
    return fig


def plot_pedestal_camera(
    elements, geometry: CameraGeometry, dead: Sequence[int] = (), hot: Sequence[int] = ()
) -> Figure:
    """
    Camera maps of the interleaved-pedestal std and mean (p.e.); dead and hot pixels
    are outlined.
    """
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, values, label in (
        (axes[0], elements.pedestal_std_pe, "pedestal std [p.e.]"),
        (axes[1], elements.pedestal_mean_pe, "pedestal mean [p.e.]"),
    ):
        display = CameraDisplay(geometry, ax=ax, title=label)
        if len(values) == geometry.n_pixels:
            display.image = np.nan_to_num(np.asarray(values, dtype=float))
            display.add_colorbar(ax=ax)
        mask = np.zeros(geometry.n_pixels, dtype=bool)
        mask[list(dead)] = True
        mask[list(hot)] = True
        if mask.any():
            display.highlight_pixels(mask, color="red", linewidth=1.5)
    return fig


def plot_image_distributions(elements) -> Figure:
    """Distributions of log10(intensity), width, length and the image centre over the camera."""
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    labels = {
        "log10_intensity": "log10(intensity / p.e.)",
        "width": "width [deg]",
        "length": "length [deg]",
    }
    for ax, (name, label) in zip(axes[:3], labels.items(), strict=True):
        hist = elements.histograms.get(name)
        if hist:
            ax.stairs(hist["counts"], hist["edges"])
        ax.set_xlabel(label)
        ax.set_ylabel("images")
    cog = elements.histograms.get("cog")
    if cog:
        edges = np.asarray(cog["edges"])
        mesh = axes[3].pcolormesh(edges, edges, np.asarray(cog["counts"]).T)
        fig.colorbar(mesh, ax=axes[3], label="images")
    axes[3].set_xlabel("image centre fov_lon [deg]")
    axes[3].set_ylabel("image centre fov_lat [deg]")
    axes[3].set_aspect("equal")
    return fig


def plot_night_summary(elements: Sequence, good: Sequence[bool]) -> Figure:
    """
    Per run and telescope: trigger rate, bright-image rate, NSB level and zenith angle;
    bad runs in red.
    """
    fig = Figure(figsize=(10, 8), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    labels = [f"{e.obs_id}/{e.tel_id}" for e in elements]
    x = np.arange(len(elements))
    colors = ["tab:blue" if g else "tab:red" for g in good]
    panels = (
        ("mean_rate_hz", "trigger rate [Hz]"),
        ("bright_rate_hz", "bright rate [Hz]"),
        ("nsb_level_pe", "pedestal std [p.e.]"),
        ("zenith_deg", "zenith [deg]"),
    )
    for ax, (name, label) in zip(axes, panels, strict=True):
        ax.scatter(x, [getattr(e, name) for e in elements], c=colors)
        ax.set_ylabel(label)
    axes[-1].set_xticks(x, labels, rotation=60, fontsize="small")
    axes[-1].set_xlabel("run / telescope (red: bad)")
    return fig


def _cell(value, digits: int = 2) -> str:
    """A table cell: floats with ``digits`` decimals (``n/a`` if not finite), else text."""
    if isinstance(value, float | np.floating):
        return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def write_night_pdf(
    path: Path | str, night_tables: dict[str, Table], figures: dict[str, Figure]
) -> Path:
    """Night summary as PDF: one page with the run table per night, then the figures."""
    path = Path(path)
    with PdfPages(path) as pdf:
        for night, table in sorted(night_tables.items()):
            fig = Figure(figsize=(11.7, 8.3))
            ax = fig.add_subplot()
            ax.axis("off")
            ax.set_title(f"Night {night}: run quality")
            names = [
                "obs_id",
                "tel_id",
                "good",
                "source",
                "zenith",
                "livetime",
                "nsb_level",
                "reasons",
            ]
            cells = [
                [_cell(row[n].item() if hasattr(row[n], "item") else row[n])[:70] for n in names]
                for row in table
            ]
            if cells:
                tab = ax.table(cellText=cells, colLabels=names, loc="upper center")
                tab.auto_set_font_size(False)
                tab.set_fontsize(7)
            pdf.savefig(fig)
        for fig in figures.values():
            pdf.savefig(fig)
        info = pdf.infodict()
        info["Title"] = "iactpipe-dqm night summary"
        info["Creator"] = f"iactpipe {__version__}"
    return path
