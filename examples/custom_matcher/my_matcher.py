"""
A user-defined coincidence matcher: correct a linear clock drift, then pair the closest.

Subclassing `iactpipe.stereo.CoincidenceMatcher` registers the class by name as soon as
this module is imported: ``DL1StereoTool.matcher_type: ClockDriftMatcher`` then selects it
and its traits are configured like any other component's.
"""

import numpy as np
from ctapipe.core.traits import Float, Int

from iactpipe.stereo import CoincidenceMatcher, pair_closest

__all__ = ["ClockDriftMatcher"]


class ClockDriftMatcher(CoincidenceMatcher):
    """Telescope 2's clock runs fast by ``drift_ppb`` (parts per 10^9): undo, then pair."""

    drift_ppb = Float(0.0, help="Clock-rate difference of telescope 2 (1e-9)").tag(config=True)
    max_time_diff_ns = Int(10_000, help="Largest |t_2 - t_1| of a pair (ns)").tag(config=True)

    def match(self, times_1, times_2, event_ids_1=None, event_ids_2=None):
        """Closest one-to-one pairs after the drift correction (relative to the first event)."""
        times_1 = np.asarray(times_1, dtype=np.int64)
        times_2 = np.asarray(times_2, dtype=np.int64)
        if len(times_2):
            t0 = times_2.min()
            corrected = times_2 - np.round((times_2 - t0) * self.drift_ppb * 1e-9).astype(np.int64)
        else:
            corrected = times_2
        order_1, order_2 = np.argsort(times_1), np.argsort(corrected)
        i1, i2 = pair_closest(times_1[order_1], corrected[order_2], self.max_time_diff_ns)
        return self._result(times_1, times_2, order_1[i1], order_2[i2])
