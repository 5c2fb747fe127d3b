"""
`~iactpipe.calib.PedestalMonitor` driven by arrays instead of event containers.

The batch engine has no per-event containers; this subclass exposes the monitor's
two steps (statistics before calibration, window update after it) for one telescope
event given as arrays. The windows, the record rows and the output tables are the
parent's, so the state evolves exactly as in the per-event path when the telescope
events are fed in the same order.
"""

from __future__ import annotations

import numpy as np

from ..calib.pedestal import PedestalMonitor, quiet_pixel_mask, std_outliers

__all__ = ["ArrayPedestalMonitor"]


class _MJDTime:
    """The one attribute chain (``.tai.mjd``) the sliding window reads from a time."""

    __slots__ = ("mjd",)

    def __init__(self, mjd: float):
        self.mjd = mjd

    @property
    def tai(self):
        return self


class ArrayPedestalMonitor(PedestalMonitor):
    """
    Pedestal monitor with array inputs (configured as ``PedestalMonitor``).

    Call `statistics` before the extracted image is final (it gives the pedestal
    statistics and dynamic bad pixels the event sees) and `add` afterwards.
    """

    def statistics(self, tel_id: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
        """
        Pedestal mean and std (p.e., or None without enough entries) and the
        dynamic bad pixels for the next event of ``tel_id`` (what `fill` writes).
        """
        window, _ = self.current(tel_id)
        if window is None:
            n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
            return None, None, np.zeros(n_pixels, dtype=bool)
        mean, _, std = window.statistics(max_age=self.refresh_interval_events)
        return mean, std, std_outliers(std, self.min_relative_std, self.max_relative_std)

    def add(
        self, tel_id: int, image: np.ndarray, is_pedestal: bool, event_id: int, time_mjd: float
    ) -> None:
        """Add one extracted image (what `update` does for one telescope event)."""
        image = np.asarray(image, dtype=np.float64)
        if is_pedestal:
            kind, values = "pedestal", image
        elif self.use_shower_events and (
            self._window(tel_id, "pedestal").n_entries < self.min_events
        ):
            neighbors = self.subarray.tel[tel_id].camera.geometry.neighbor_matrix_sparse
            quiet = quiet_pixel_mask(image, neighbors, self.quiet_pixel_n_sigma)
            kind, values = "shower", np.where(quiet, image, np.nan)
        else:
            return
        self._window(tel_id, kind).add(values, event_id, _MJDTime(time_mjd))
        self._since_record[tel_id] += 1
        if self._since_record[tel_id] >= self.record_interval_events:
            self._record(tel_id)
