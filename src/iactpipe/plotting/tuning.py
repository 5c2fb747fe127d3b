"""Figure of ``iactpipe-tune-mc``: data vs MC pedestal charges before and after tuning,
and the pedestal spread of the MC versus the added NSB rate."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_pixel_charge_overlay", "plot_pixel_charges", "plot_tuning"]


def plot_pixel_charges(ax, data_table, mc_table, column: str = "pedestal_counts") -> None:
    """Overlay two pixel charge histograms (``DL1_PIXEL_CHARGES_GROUP`` tables), normalised."""
    for table, label, style in ((data_table, "data", "-"), (mc_table, "MC", "--")):
        if table is None:
            continue
        counts = np.asarray(table[column], dtype=np.float64)
        if counts.sum() == 0:
            continue
        edges = np.append(np.asarray(table["charge_low"]), table["charge_high"][-1])
        ax.stairs(counts / counts.sum(), edges, label=f"{label} ({column})", linestyle=style)
    ax.set_xlabel("pixel charge (p.e.)")
    ax.set_yscale("log")
    ax.legend(fontsize="small")


def plot_pixel_charge_overlay(data_table, mc_table=None) -> Figure:
    """Pedestal-event and all-event pixel charge histograms of a run, with the MC's."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, column in zip(fig.subplots(1, 2), ("pedestal_counts", "all_counts"), strict=True):
        plot_pixel_charges(ax, data_table, mc_table, column)
        ax.set_title(column.replace("_counts", " events"), fontsize="medium")
    return fig


def plot_tuning(
    pairs: Mapping[int, int],
    results: Mapping,
    toys: Mapping[int, tuple[np.ndarray, np.ndarray]],
    data_histograms: Mapping,
) -> Figure:
    """
    Per telescope: the data's pedestal charge histogram with the toy MC pedestals before
    and after tuning; the MC's median pixel pedestal std vs added NSB rate.

    Parameters
    ----------
    pairs : mapping
        Data telescope id -> MC telescope id.
    results : mapping
        MC telescope id -> ``TuningResult``.
    toys : mapping
        MC telescope id -> (charges before, charges after), (n_events, n_pixels) each.
    data_histograms : mapping
        Data telescope id -> pixel charge histogram table (or None).
    """
    fig = Figure(figsize=(10, 4 * len(pairs)), layout="constrained")
    axes = fig.subplots(len(pairs), 2, squeeze=False)
    for (data_tel, mc_tel), (ax_hist, ax_curve) in zip(pairs.items(), axes, strict=True):
        result = results[mc_tel]
        table = data_histograms.get(data_tel)
        edges = np.linspace(-10, 30, 161)
        if table is not None and np.sum(table["pedestal_counts"]) > 0:
            edges = np.append(np.asarray(table["charge_low"]), table["charge_high"][-1])
            counts = np.asarray(table["pedestal_counts"], dtype=np.float64)
            ax_hist.stairs(counts / counts.sum(), edges, label=f"data tel {data_tel}", color="k")
        before, after = toys[mc_tel]
        for charges, label in (
            (before, f"MC before ({result.model_std_pe:.2f} p.e.)"),
            (after, f"MC tuned ({result.tuned_std_pe:.2f} p.e.)"),
        ):
            counts, _ = np.histogram(np.clip(charges.ravel(), edges[0], edges[-1]), edges)
            ax_hist.stairs(counts / counts.sum(), edges, label=label)
        ax_hist.set_xlim(-5, max(10, 6 * result.data_std_pe))
        ax_hist.set_yscale("log")
        ax_hist.set_xlabel("pedestal pixel charge (p.e.)")
        ax_hist.set_title(f"data std {result.data_std_pe:.2f} p.e.", fontsize="medium")
        ax_hist.legend(fontsize="small")
        ax_curve.plot(result.rates_mhz, result.stds_pe, "o-", label="MC model")
        ax_curve.axhline(result.data_std_pe, color="k", linestyle=":", label="data")
        ax_curve.axvline(result.extra_nsb_rate_mhz, color="C1", linestyle="--", label="tuned")
        ax_curve.set_xlabel("extra NSB rate (MHz)")
        ax_curve.set_ylabel("median pixel pedestal std (p.e.)")
        ax_curve.set_title(
            f"MC tel {mc_tel}: +{result.extra_nsb_rate_mhz:.0f} MHz, "
            f"efficiency {result.efficiency_factor:.3f}",
            fontsize="medium",
        )
        ax_curve.legend(fontsize="small")
    return fig
