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
from numba import njit

from ..calib.pedestal import PedestalMonitor, SlidingWindowStatistics

__all__ = ["ArrayPedestalMonitor"]


@njit(cache=True)
def window_statistics(window):
    """
    Per-pixel NaN-ignoring mean, median and std (ddof=1) over the rows of ``window``:
    numpy's nanmean, nanmedian and nanstd without their per-call overhead. The mean
    and std are `window_mean_std`'s; for the medians the window is transposed once
    (each pixel's entries contiguous) and the medians are radix selections with 256
    bins, allocation-free (4x quicker than numba's np.median, and than sorting the
    window's many equal values).
    """
    n_entries, n_pixels = window.shape
    mean, std = window_mean_std(window)
    median = np.full(n_pixels, np.nan)
    columns = np.ascontiguousarray(window.T)
    values = np.empty(n_entries)
    keys = np.empty(n_entries, dtype=np.uint64)
    work = np.empty(n_entries, dtype=np.uint64)
    counts = np.empty(256, dtype=np.int64)
    for pix in range(n_pixels):
        n = 0
        for entry in range(n_entries):
            value = columns[pix, entry]
            values[n] = value
            n += value == value
        if n > 0:
            median[pix] = median_radix(values, n, keys, work, counts)
    return mean, median, std


@njit(cache=True)
def window_mean_std(window):
    """
    Per-pixel NaN-ignoring mean and std (ddof=1), row by row (cache friendly), the
    sums in entry order. Branch-free: a missing entry adds +0.0, which leaves every
    sum as it is (the sums start at +0.0 and never become -0.0), and the loops
    vectorise (3x quicker than testing each entry).
    """
    n_entries, n_pixels = window.shape
    total = np.zeros(n_pixels)
    count = np.zeros(n_pixels, dtype=np.int64)
    for entry in range(n_entries):
        row = window[entry]
        for pix in range(n_pixels):
            value = row[pix]
            present = value == value
            total[pix] += value if present else 0.0
            count[pix] += present
    mean = np.full(n_pixels, np.nan)
    for pix in range(n_pixels):
        if count[pix] > 0:
            mean[pix] = total[pix] / count[pix]
    squares = np.zeros(n_pixels)
    for entry in range(n_entries):
        row = window[entry]
        for pix in range(n_pixels):
            value = row[pix]
            deviation = value - mean[pix]
            squares[pix] += deviation * deviation if value == value else 0.0
    std = np.full(n_pixels, np.nan)
    for pix in range(n_pixels):
        if count[pix] > 1:
            std[pix] = np.sqrt(squares[pix] / (count[pix] - 1))
    return mean, std


@njit(cache=True)
def relative_std_outliers(std, min_relative, max_relative):
    """
    `iactpipe.calib.pedestal.std_outliers` (the camera median of the finite stds by
    radix selection: numpy's median, without its per-call overhead).
    """
    n_pixels = std.shape[0]
    finite = np.empty(n_pixels)
    n = 0
    for pix in range(n_pixels):
        if np.isfinite(std[pix]):
            finite[n] = std[pix]
            n += 1
    outliers = np.zeros(n_pixels, dtype=np.bool_)
    if n == 0:
        return outliers
    keys = np.empty(n, dtype=np.uint64)
    work = np.empty(n, dtype=np.uint64)
    counts = np.empty(_BINS, dtype=np.int64)
    median = median_radix(finite, n, keys, work, counts)
    for pix in range(n_pixels):
        value = std[pix]
        outliers[pix] = np.isfinite(value) and (
            value < min_relative * median or value > max_relative * median
        )
    return outliers


_BITS = 11
_BINS = 1 << _BITS


@njit(cache=True)
def _sortable_keys(values, n, keys):
    """uint64 keys ordered as the float64 values (no NaN): sign flipped, negatives inverted."""
    bits = values[:n].view(np.uint64)
    top = np.uint64(1) << np.uint64(63)
    for i in range(n):
        b = bits[i]
        mask = np.uint64(0) - (b >> np.uint64(63))
        keys[i] = b ^ (mask | top)


@njit(cache=True)
def _key_value(key):
    top = np.uint64(1) << np.uint64(63)
    mask = np.uint64(0) - (np.uint64(1) - (key >> np.uint64(63)))
    bits = np.empty(1, dtype=np.uint64)
    bits[0] = key ^ (mask | top)
    return bits.view(np.float64)[0]


@njit(cache=True)
def _radix_select(keys, n, k, work, counts):
    """
    The k-th smallest of ``keys[:n]``: a histogram of the next bits of the candidates
    (as many as ``counts`` has bins: a power of two), then only the candidates in the
    bucket holding rank k are kept.
    """
    n_bins = counts.shape[0]
    bits = 0
    while (1 << bits) < n_bins:
        bits += 1
    digit_mask = np.uint64(n_bins - 1)
    shift = 64 - bits
    m = n
    source = keys
    while True:
        counts[:] = 0
        s = np.uint64(max(shift, 0))
        for i in range(m):
            counts[(source[i] >> s) & digit_mask] += 1
        below = 0
        bucket = 0
        while below + counts[bucket] <= k:
            below += counts[bucket]
            bucket += 1
        k -= below
        digit = np.uint64(bucket)
        new_m = 0
        for i in range(m):
            key = source[i]
            work[new_m] = key
            new_m += ((key >> s) & digit_mask) == digit
        m = new_m
        source = work
        if shift <= 0 or m == 1:
            # one key left, or all remaining keys are equal (every digit compared)
            return source[0]
        if m <= 16:
            small = np.sort(source[:m])
            return small[k]
        shift -= bits


@njit(cache=True)
def median_radix(values, n, keys, work, counts):
    """
    Median of ``values[:n]`` (float64, no NaN) as numpy computes it (the mean of the
    two middle values for even ``n``), by radix selection on the values' bit patterns:
    a few branch-free passes instead of quickselect, whose mispredicted comparisons
    cost twice the time on the (never repeating) images. ``keys`` and ``work`` are
    uint64 scratch arrays of at least ``n`` entries, ``counts`` int64 with a power of
    two of bins (``2**11`` for a camera image, ``2**8`` for a hundred values: clearing
    the histogram is part of each pass).
    """
    _sortable_keys(values, n, keys)
    k = n // 2
    upper = _radix_select(keys, n, k, work, counts)
    if n % 2 == 1:
        return _key_value(upper)
    # the largest key below the upper middle one, branch-free (half the keys are
    # below it, in no order: a branch would mispredict every other key)
    n_below = 0
    lower = np.uint64(0)
    for i in range(n):
        key = keys[i]
        is_below = key < upper
        n_below += is_below
        lower = max(lower, key if is_below else np.uint64(0))
    if n_below < k:
        lower = upper
    return (_key_value(lower) + _key_value(upper)) / 2


@njit(cache=True)
def quiet_values(image, indptr, indices, n_sigma):
    """The image (float64) with NaN where `quiet_pixels` is False: a window entry."""
    values = image.astype(np.float64)
    quiet = quiet_pixels(values, indptr, indices, n_sigma)
    for pix in range(values.shape[0]):
        if not quiet[pix]:
            values[pix] = np.nan
    return values


@njit(cache=True)
def quiet_values_symmetric(image, indptr, indices, n_sigma):
    """
    `quiet_values` for a symmetric neighbour relation (camera geometries): the
    neighbours of the few bright pixels are blanked, instead of testing every
    pixel's neighbours (20 instead of 30 us per DigiCam image).
    """
    values = image.astype(np.float64)
    n_pixels = values.shape[0]
    if np.isnan(values).any():
        return quiet_values(image, indptr, indices, n_sigma)
    keys = np.empty(n_pixels, dtype=np.uint64)
    work = np.empty(n_pixels, dtype=np.uint64)
    counts = np.empty(_BINS, dtype=np.int64)
    median = median_radix(values, n_pixels, keys, work, counts)
    deviation = np.empty(n_pixels)
    for pix in range(n_pixels):
        deviation[pix] = abs(values[pix] - median)
    sigma = 1.4826 * median_radix(deviation, n_pixels, keys, work, counts)
    bright = values > median + n_sigma * max(sigma, 1e-3)
    for pix in range(n_pixels):
        if bright[pix]:
            values[pix] = np.nan
            for k in range(indptr[pix], indptr[pix + 1]):
                values[indices[k]] = np.nan
    return values


@njit(cache=True)
def quiet_pixels(image, indptr, indices, n_sigma):
    """`iactpipe.calib.pedestal.quiet_pixel_mask` with CSR neighbour lists."""
    n_pixels = image.shape[0]
    if np.isnan(image).any():
        # numpy's median is NaN then: its own code keeps that behaviour
        median = np.median(image)
        sigma = 1.4826 * np.median(np.abs(image - median))
    else:
        values = image.astype(np.float64)
        keys = np.empty(n_pixels, dtype=np.uint64)
        work = np.empty(n_pixels, dtype=np.uint64)
        counts = np.empty(_BINS, dtype=np.int64)
        median = median_radix(values, n_pixels, keys, work, counts)
        for pix in range(n_pixels):
            values[pix] = abs(values[pix] - median)
        sigma = 1.4826 * median_radix(values, n_pixels, keys, work, counts)
    bright = image > median + n_sigma * max(sigma, 1e-3)
    quiet = ~bright
    for pix in range(n_pixels):
        for k in range(indptr[pix], indptr[pix + 1]):
            if bright[indices[k]]:
                quiet[pix] = False
    return quiet


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
