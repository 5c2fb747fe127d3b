"""
`~iactpipe.calib.PedestalMonitor` driven by arrays instead of event containers.

The batch engine has no per-event containers; this subclass exposes the monitor's
two steps (statistics before calibration, window update after it) for one telescope
event given as arrays, and both for a telescope's rows of a chunk at once
(`ArrayPedestalMonitor.advance`: the state machine in the `advance_rows` kernel). The
windows, the record rows and the output tables are the parent's, so the state evolves
exactly as in the per-event path when the telescope events are fed in the same order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..calib.pedestal import PedestalMonitor, SlidingWindowStatistics
from .window_kernels import (
    median_radix,
    quiet_pixels,
    quiet_values,
    quiet_values_symmetric,
    relative_std_outliers,
    window_mean_std,
    window_statistics,
)

__all__ = [
    "ArrayPedestalMonitor",
    "advance_rows",
    "histogram_rows",
    # the window kernels, for their users here
    "median_radix",
    "quiet_pixels",
    "quiet_values",
    "quiet_values_symmetric",
    "relative_std_outliers",
    "window_mean_std",
    "window_statistics",
]


#: why `advance_rows` stopped: the next row needs statistics (Python computes or reuses
#: them), a monitoring row is due after the row just added, the rows are done
NEED_STATISTICS, RECORD, DONE = 0, 1, 2
#: `advance_rows`' state: entries added to the pedestal and the shower window, entries
#: since the last record, (n_added when computed) of each window's cleaning statistics,
#: the window and computation the current statistics version is of (-1: no window)
(
    PED_ADDED,
    SHOWER_ADDED,
    SINCE_RECORD,
    PED_FAST_AT,
    SHOWER_FAST_AT,
    VERSION_KIND,
    VERSION_FAST_AT,
    N_STATE,
) = range(8)
#: "never computed" (older than any refresh interval)
NEVER = -(2**62)


@njit(cache=True)
def _add_entry(values, event_ids, times_mjd, n_added, entry, event_id, time_mjd):
    """`SlidingWindowStatistics.add` on the window's arrays."""
    row = n_added % values.shape[0]
    values[row] = entry
    event_ids[row] = event_id
    times_mjd[row] = time_mjd if time_mjd > 0 else np.nan


@njit(cache=True)
def advance_rows(
    images,
    rows,
    first,
    is_pedestal,
    event_ids,
    times_mjd,
    pedestal_window,
    shower_window,
    state,
    settings,
    n_sigma,
    indptr,
    indices,
    symmetric,
    version,
    row_version,
):
    """
    The pedestal monitor's per-event state machine over the rows of one telescope.

    From ``rows[first]`` on, in order: which statistics the row sees (those of the
    current window: pedestal entries first, then shower entries, each once it holds
    ``min_events``; recomputed every ``refresh_interval_events`` entries), then the
    row's image added to the pedestal window (pedestal events) or, while the pedestal
    window is short, its quiet pixels to the shower window. ``row_version[k] =
    version`` while the statistics stay those of ``state[VERSION_*]``. It stops (and
    returns ``(k, reason)``) before a row that needs other statistics
    (`NEED_STATISTICS`: Python computes them with the parent's rules), after a row
    that completes a record interval (`RECORD`), or at the end (`DONE`).

    Parameters
    ----------
    images : np.ndarray
        float32 ``(n_rows, n_pixels)``: the extracted images of the chunk.
    rows : np.ndarray
        The telescope's row indices, in event order.
    is_pedestal, event_ids, times_mjd : np.ndarray
        Per chunk row.
    pedestal_window, shower_window : tuple
        ``(values, event_ids, times_mjd)`` arrays of the two sliding windows.
    state : np.ndarray
        int64 (`N_STATE`,), updated.
    settings : np.ndarray
        int64: use_shower_events, min_events, refresh_interval_events,
        record_interval_events.
    """
    use_shower, min_events, refresh, record_interval = settings
    size = pedestal_window[0].shape[0]
    for k in range(first, len(rows)):
        i = rows[k]
        n_pedestal = min(state[PED_ADDED], size)
        if n_pedestal >= min_events:
            kind, n_added, fast_at = 0, state[PED_ADDED], state[PED_FAST_AT]
        elif min(state[SHOWER_ADDED], size) >= min_events:
            kind, n_added, fast_at = 1, state[SHOWER_ADDED], state[SHOWER_FAST_AT]
        else:
            kind, n_added, fast_at = -1, 0, 0
        if kind != state[VERSION_KIND]:
            return k, NEED_STATISTICS
        if kind >= 0 and (
            n_added - fast_at >= max(refresh, 1) or fast_at != state[VERSION_FAST_AT]
        ):
            return k, NEED_STATISTICS
        row_version[k] = version
        if is_pedestal[i]:
            window = pedestal_window
            _add_entry(*window, state[PED_ADDED], images[i], event_ids[i], times_mjd[i])
            state[PED_ADDED] += 1
        elif use_shower and n_pedestal < min_events:
            if symmetric:
                values = quiet_values_symmetric(images[i], indptr, indices, n_sigma)
            else:
                values = quiet_values(images[i], indptr, indices, n_sigma)
            window = shower_window
            _add_entry(*window, state[SHOWER_ADDED], values, event_ids[i], times_mjd[i])
            state[SHOWER_ADDED] += 1
        else:
            continue
        state[SINCE_RECORD] += 1
        if state[SINCE_RECORD] >= record_interval:
            return k + 1, RECORD
    return len(rows), DONE


@njit(cache=True)
def histogram_rows(images, rows, is_pedestal, min_charge, scale, counts):
    """
    `~iactpipe.calib.pixel_charges.PixelChargeHistograms.add` for many images:
    ``counts[1]`` all rows, ``counts[0]`` the pedestal rows (finite charges only,
    float64 bin positions truncated, out-of-range charges in the end bins).
    """
    n_bins = counts.shape[1]
    for i in rows:
        for value in images[i]:
            x = np.float64(value)
            if not np.isfinite(x):
                continue
            position = (x - min_charge) * scale
            if position < 1.0:
                index = 0
            elif position >= n_bins:
                index = n_bins - 1
            else:
                index = int(position)
            counts[1, index] += 1
            if is_pedestal[i]:
                counts[0, index] += 1


class _NumbaWindow(SlidingWindowStatistics):
    """
    The sliding window with numba statistics. Cleaning needs only the mean and std,
    refreshed as often as the parent refreshes its cache; the per-pixel median (the
    costly part) is computed only for the recorded monitoring rows.
    """

    _fast = None  # (n_added when computed, (mean, std))

    def statistics(self, max_age: int = 0):
        result = window_statistics(self.values[: self.n_entries])
        self._cached = (self.n_added, result)
        # a recorded row refreshes the statistics the parent's cleaning path then uses
        self._fast = (self.n_added, (result[0], result[2]))
        return result

    def mean_std(self, max_age: int) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) with the parent's caching rule (see `statistics`)."""
        fast = self._fast
        if fast is not None and self.n_added - fast[0] < max(max_age, 1):
            return fast[1]
        result = window_mean_std(self.values[: self.n_entries])
        self._fast = (self.n_added, result)
        return result


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

    def __init__(self, subarray, config=None, parent=None, **kwargs):
        super().__init__(subarray, config=config, parent=parent, **kwargs)
        self._outliers = {}  # tel_id: (std they were computed from, outlier mask)
        self._csr = {}
        self._no_outliers = {}  # tel_id: the (shared, read-only) empty mask
        # read once: a trait lookup costs about a microsecond, paid per telescope event
        self._settings = (
            self.use_shower_events,
            self.min_events,
            self.quiet_pixel_n_sigma,
            self.refresh_interval_events,
            self.record_interval_events,
        )

    def _window(self, tel_id: int, kind: str) -> SlidingWindowStatistics:
        key = (tel_id, kind)
        if key not in self._windows:
            n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
            self._windows[key] = _NumbaWindow(n_pixels, self.window_size)
        return self._windows[key]

    def _neighbors(self, tel_id: int) -> tuple:
        """CSR neighbour lists and the quiet-pixel kernel for them."""
        if tel_id not in self._csr:
            matrix = self.subarray.tel[tel_id].camera.geometry.neighbor_matrix_sparse.tocsr()
            symmetric = (matrix != matrix.T).nnz == 0
            self._csr[tel_id] = (
                matrix.indptr.astype(np.int64),
                matrix.indices.astype(np.int64),
                quiet_values_symmetric if symmetric else quiet_values,
            )
        return self._csr[tel_id]

    def statistics(self, tel_id: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
        """
        Pedestal mean and std (p.e., or None without enough entries) and the
        dynamic bad pixels for the next event of ``tel_id`` (what `fill` writes).
        """
        window, _ = self.current(tel_id)
        if window is None:
            if tel_id not in self._no_outliers:
                n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
                self._no_outliers[tel_id] = np.zeros(n_pixels, dtype=bool)
            return None, None, self._no_outliers[tel_id]
        mean, std = window.mean_std(max_age=self._settings[3])
        cached = self._outliers.get(tel_id)
        if cached is None or cached[0] is not std:
            outliers = relative_std_outliers(std, self.min_relative_std, self.max_relative_std)
            cached = self._outliers[tel_id] = (std, outliers)
        return mean, std, cached[1]

    def advance(
        self,
        tel_id: int,
        images: np.ndarray,
        rows: np.ndarray,
        is_pedestal: np.ndarray,
        event_ids: np.ndarray,
        times_mjd: np.ndarray,
    ) -> tuple[np.ndarray, list[tuple]]:
        """
        `statistics` then `add` for each of ``rows`` (one telescope, in event order),
        the state machine in a chunk kernel (`advance_rows`).

        Parameters
        ----------
        tel_id : int
        images : np.ndarray
            float32 ``(n_rows, n_pixels)``, the extracted images of a chunk.
        rows : np.ndarray
            The rows of ``tel_id`` to feed, in event order.
        is_pedestal, event_ids, times_mjd : np.ndarray
            Per row of ``images``.

        Returns
        -------
        row_version : np.ndarray
            Per entry of ``rows``, the index in ``versions`` of what `statistics`
            returned for it.
        versions : list of tuple
            ``(mean, std, outliers)`` as `statistics` returns them.
        """
        rows = np.asarray(rows, dtype=np.int64)
        self._histogram(tel_id, images, rows, is_pedestal)
        use_shower_events, min_events, n_sigma, refresh, record_interval = self._settings
        if min_events < 1:
            # an empty window counts: which windows exist then matters (the parent's)
            return self._advance_each(tel_id, images, rows, is_pedestal, event_ids, times_mjd)
        windows = [self._window(tel_id, kind) for kind in ("pedestal", "shower")]
        indptr, indices, quiet = self._neighbors(tel_id)
        settings = np.array([use_shower_events, min_events, refresh, record_interval], np.int64)
        state = np.zeros(N_STATE, dtype=np.int64)
        state[[PED_ADDED, SHOWER_ADDED]] = [w.n_added for w in windows]
        state[SINCE_RECORD] = self._since_record[tel_id]
        state[VERSION_KIND] = -2  # none yet
        row_version = np.empty(len(rows), dtype=np.int64)
        versions = []
        first, reason = 0, NEED_STATISTICS
        while reason != DONE:
            state[[PED_FAST_AT, SHOWER_FAST_AT]] = [
                NEVER if w._fast is None else w._fast[0] for w in windows
            ]
            first, reason = advance_rows(
                images,
                rows,
                first,
                is_pedestal,
                event_ids,
                times_mjd,
                (windows[0].values, windows[0].event_ids, windows[0].times_mjd),
                (windows[1].values, windows[1].event_ids, windows[1].times_mjd),
                state,
                settings,
                n_sigma,
                indptr,
                indices,
                quiet is quiet_values_symmetric,
                len(versions) - 1,
                row_version,
            )
            windows[0].n_added, windows[1].n_added = state[[PED_ADDED, SHOWER_ADDED]].tolist()
            self._since_record[tel_id] = int(state[SINCE_RECORD])
            if reason == RECORD:
                self._record(tel_id)
                state[SINCE_RECORD] = 0
            elif reason == NEED_STATISTICS:
                statistics = self.statistics(tel_id)
                window, _ = self.current(tel_id)
                if window is None:
                    state[VERSION_KIND], state[VERSION_FAST_AT] = -1, 0
                else:
                    state[VERSION_KIND] = windows.index(window)
                    state[VERSION_FAST_AT] = window._fast[0]
                if not versions or versions[-1][1] is not statistics[1]:
                    versions.append(statistics)
        return row_version, versions

    def _advance_each(self, tel_id, images, rows, is_pedestal, event_ids, times_mjd):
        """`advance` one row at a time (the parent's window handling)."""
        row_version = np.empty(len(rows), dtype=np.int64)
        versions = []
        for k, i in enumerate(rows):
            statistics = self.statistics(tel_id)
            if not versions or versions[-1][1] is not statistics[1]:
                versions.append(statistics)
            row_version[k] = len(versions) - 1
            self._add(tel_id, images[i], bool(is_pedestal[i]), event_ids[i], times_mjd[i])
        return row_version, versions

    def _histogram(self, tel_id, images, rows, is_pedestal) -> None:
        charges = self.pixel_charges
        if charges.enabled and len(rows):
            # the parent's bin width, computed as it does
            scale = charges.n_bins / (charges.max_charge_pe - charges.min_charge_pe)
            counts = charges.counts(tel_id)
            histogram_rows(images, rows, is_pedestal, charges.min_charge_pe, scale, counts)

    def add(
        self, tel_id: int, image: np.ndarray, is_pedestal: bool, event_id: int, time_mjd: float
    ) -> None:
        """Add one extracted image (what `update` does for one telescope event)."""
        self.pixel_charges.add(tel_id, image, is_pedestal)
        self._add(tel_id, image, is_pedestal, event_id, time_mjd)

    def _add(
        self, tel_id: int, image: np.ndarray, is_pedestal: bool, event_id: int, time_mjd: float
    ) -> None:
        use_shower_events, min_events, n_sigma, _, record_interval = self._settings
        if is_pedestal:
            kind, values = "pedestal", image
        elif use_shower_events and self._window(tel_id, "pedestal").n_entries < min_events:
            indptr, indices, quiet = self._neighbors(tel_id)
            kind = "shower"
            values = quiet(image, indptr, indices, n_sigma)
        else:
            return
        self._window(tel_id, kind).add(values, event_id, _MJDTime(time_mjd))
        self._since_record[tel_id] += 1
        if self._since_record[tel_id] >= record_interval:
            self._record(tel_id)
