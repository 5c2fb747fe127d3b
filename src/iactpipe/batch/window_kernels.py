"""
Numba statistics of the pedestal monitor's sliding windows and images: per-pixel
window mean, median and std, numpy's median by radix selection, the quiet pixels of
shower images, the dynamic bad pixels (see `iactpipe.batch.monitor`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "median_radix",
    "quiet_pixels",
    "quiet_values",
    "quiet_values_symmetric",
    "relative_std_outliers",
    "window_mean_std",
    "window_statistics",
]


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
