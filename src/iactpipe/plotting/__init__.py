"""Matplotlib figures shared by tools, examples and reports."""

from .hillas import HILLAS_PANELS, plot_hillas_distributions

__all__ = ["HILLAS_PANELS", "plot_hillas_distributions"]
