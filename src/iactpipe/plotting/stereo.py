"""The summary figure of a coincidence matching run (``iactpipe-dl1-stereo``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_coincidence"]


def plot_coincidence(result, path: Path | str, title: str = "") -> Path:
    """
    Save a three-panel PNG: time differences of the pairs (offset removed), the offset
    scan (if any), and the matched fraction of each telescope's events.

    Parameters
    ----------
    result : iactpipe.stereo.MatchResult
        The pairs and diagnostics of a coincidence matcher.
    path : Path or str
        The PNG file to write.
    title : str
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    residual = (result.time_diff_ns - result.offset_ns) / 1e3
    ax = axes[0]
    if len(residual):
        ax.hist(residual, bins=100, histtype="step")
    ax.set_xlabel(r"$t_2 - t_1$ - offset / $\mu$s")
    ax.set_ylabel("pairs")
    ax.set_yscale("log")
    ax.set_title(f"{result.n_pairs} pairs, offset {result.offset_ns} ns")

    ax = axes[1]
    if result.scan_offsets_ns is not None:
        ax.plot(result.scan_offsets_ns / 1e6, result.scan_counts, lw=1)
        ax.axvline(result.offset_ns / 1e6, color="C1", ls="--", label="offset")
        ax.set_xlabel(r"offset $t_2 - t_1$ / ms")
        ax.set_ylabel("coincidences")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no offset scan", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()

    ax = axes[2]
    fractions = [result.matched_fraction_1, result.matched_fraction_2]
    ax.bar(["telescope 1", "telescope 2"], fractions, color=["C0", "C2"])
    for x, f, n in zip(range(2), fractions, (result.n_1, result.n_2), strict=True):
        ax.text(x, f, f"{f:.1%} of {n}", ha="center", va="bottom")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("matched fraction")
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return path
