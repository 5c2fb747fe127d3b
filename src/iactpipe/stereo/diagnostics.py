"""Coincidence diagnostics of a matching run: the offset-scan table and the time residuals
(the figure is `iactpipe.plotting.stereo.plot_coincidence`)."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from .matching import MatchResult

__all__ = ["residual_std_ns", "scan_table"]


def scan_table(result: MatchResult) -> Table | None:
    """The offset scan (offset, coincidences per offset) or None if there was no scan."""
    if result.scan_offsets_ns is None:
        return None
    return Table(
        {"offset_ns": result.scan_offsets_ns, "n_coincidences": result.scan_counts},
        meta={"offset_ns": int(result.offset_ns)},
    )


def residual_std_ns(result: MatchResult) -> float:
    """Standard deviation of the pairs' time differences around the offset (ns)."""
    if result.n_pairs < 2:
        return float("nan")
    return float(np.std(result.time_diff_ns - result.offset_ns))
