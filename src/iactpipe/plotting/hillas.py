"""Distributions of Hillas parameters for several DL1 samples in one figure."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

__all__ = ["HILLAS_PANELS", "plot_hillas_distributions"]

#: (column, axis label, bin edges, log-x)
HILLAS_PANELS = (
    ("hillas_intensity", "intensity [p.e.]", np.geomspace(10, 1e5, 41), True),
    ("hillas_width", "width [deg]", np.linspace(0, 0.5, 41), False),
    ("hillas_length", "length [deg]", np.linspace(0, 1.0, 41), False),
    ("hillas_r", "distance from camera centre [deg]", np.linspace(0, 5, 41), False),
    ("morphology_n_pixels", "pixels after cleaning", np.geomspace(1, 1296, 31), True),
    ("leakage_intensity_width_2", "leakage (2 outer rings)", np.linspace(0, 1, 21), False),
)


def plot_hillas_distributions(samples: Mapping[str, Table], density: bool = True) -> Figure:
    """
    One panel per Hillas parameter, one step histogram per sample.

    Parameters
    ----------
    samples : Mapping[str, astropy.table.Table]
        ``{label: DL1 parameter table}`` (columns as in ctapipe's DL1 data model).
    density : bool
        Normalise each histogram to unit area, to compare shapes of samples of
        different sizes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the histogram counts of each panel are in ``fig.hillas_counts``
        (``{(column, label): counts}``) for programmatic checks.
    """
    fig = Figure(figsize=(12, 7), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    fig.hillas_counts = {}
    for ax, (column, label, bins, log_x) in zip(axes, HILLAS_PANELS, strict=True):
        for name, table in samples.items():
            if column not in table.colnames:
                continue
            values = np.asarray(getattr(table[column], "value", table[column]), dtype=float)
            values = values[np.isfinite(values)]
            counts, _, _ = ax.hist(values, bins=bins, histtype="step", density=density, label=name)
            fig.hillas_counts[(column, name)] = counts
        ax.set_xlabel(label)
        if log_x:
            ax.set_xscale("log")
    axes[0].legend(fontsize="small")
    return fig
