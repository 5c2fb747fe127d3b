"""
Numba charge extraction over a chunk of waveforms: ctapipe's ``LocalPeakWindowSum``
(with its integration correction) and the ``NeighborAverage`` invalid-pixel handler.

The arithmetic follows ctapipe's own kernels step by step, including where ctapipe
rounds to float32, so the charges agree to float32 precision.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["extract_local_peak", "interpolate_invalid_pixels", "interpolate_invalid_rows"]


def extract_local_peak(
    samples,
    start,
    n_pixels,
    n_samples,
    offset,
    scale,
    width,
    shift,
    sampling_rate_ghz,
    correction,
    extremes=None,
):
    """
    Charge and peak time of every pixel of every row, ``LocalPeakWindowSum``.

    Parameters
    ----------
    samples : np.ndarray
        C-contiguous 2D array, one row per telescope event, whose columns
        ``start : start + n_pixels * n_samples`` hold the waveforms (one gain channel,
        pixel-major), of any numeric dtype. A table row read by pytables viewed as
        int16 is such an array: the waveforms are used in place, and the contiguous
        layout lets numba vectorise the peak search.
    start, n_pixels, n_samples : int
        Where the waveforms are in a row, and their shape.
    offset, scale : float
        The sample value is ``float32((stored - offset) / scale)``, as ctapipe's
        fixed-point column transform decodes it (0 and 1 for float waveforms).
    width, shift : np.ndarray
        int64 window width and shift (samples before the peak) per row.
    sampling_rate_ghz : np.ndarray
        float64 sampling rate per row, GHz.
    correction : np.ndarray
        float64 integration correction per row (1 when not applied).
    extremes : np.ndarray, optional
        For small integer samples: float64 array of 2 that receives the smallest and
        the largest stored sample (the special codes of the fixed-point coding are
        the type's extreme values), found in the same pass; NaN otherwise.

    Returns
    -------
    charge, peak_time : np.ndarray
        float32 arrays ``(n_rows, n_pixels)``; peak time in ns.
    """
    if n_samples >= 2**15:
        raise ValueError(f"{n_samples} samples per waveform: at most 32767 supported")
    if samples.dtype.kind in "iu" and samples.dtype.itemsize <= 2:
        table, base = decoding_table(samples.dtype, offset, scale)
        found = np.empty(2)
        result = _extract_table(
            samples,
            start,
            n_pixels,
            n_samples,
            table,
            base,
            width,
            shift,
            sampling_rate_ghz,
            correction,
            found,
        )
        if extremes is not None:
            extremes[:] = found
        return result
    if extremes is not None:
        extremes[:] = np.nan
    return _extract_direct(
        samples,
        start,
        n_pixels,
        n_samples,
        offset,
        scale,
        width,
        shift,
        sampling_rate_ghz,
        correction,
    )


_TABLES = {}


def decoding_table(dtype, offset: float, scale: float) -> tuple[np.ndarray, int]:
    """
    ``float32((stored - offset) / scale)`` for every value of a small integer type
    (as float64), and the index of stored value 0: decoding a sample is then one
    look-up instead of a division, with identical values.
    """
    dtype = np.dtype(dtype)
    key = (dtype.str, offset, scale)
    if key not in _TABLES:
        info = np.iinfo(dtype)
        stored = np.arange(info.min, info.max + 1, dtype=np.float64)
        table = ((stored - offset) / scale).astype(np.float32).astype(np.float64)
        _TABLES.clear()  # one coding per run in practice
        _TABLES[key] = (table, -int(info.min))
    return _TABLES[key]


@njit(cache=True, inline="always")
def _first_maximum(wf, n_samples):
    """
    Index of the first maximum of ``wf`` (numpy's argmax), in two vectorised passes:
    the maximum, then the smallest index holding it (an early-exit search costs a
    mispredicted branch per pixel, twice the time of both passes).
    """
    best = wf[0]
    for s in range(1, n_samples):
        best = max(best, wf[s])
    return _first_index(wf, n_samples, best)


@njit(cache=True, inline="always")
def _first_index(wf, n_samples, value):
    """The smallest index of ``wf`` holding ``value`` (present), vectorised."""
    # int16 candidates: more of them per vector register (n_samples < 2**15)
    peak = np.int16(n_samples)
    for s in range(n_samples):
        candidate = np.int16(s) if wf[s] == value else np.int16(n_samples)
        peak = min(peak, candidate)
    return np.int64(peak)


@njit(cache=True)
def _window_time_charge(total, num, den, peak, rate, correction):
    # ctapipe stores the time in a float32 output before dividing by the rate
    t = np.float32(num / den) if den > 0 else np.float32(peak)
    time = np.float32(np.float64(t) / rate)
    return np.float32(np.float64(np.float32(total)) * correction), time


@njit(cache=True)
def _extract_table(
    samples,
    start,
    n_pixels,
    n_samples,
    table,
    base,
    width,
    shift,
    sampling_rate_ghz,
    correction,
    extremes,
):
    """
    `extract_local_peak` for small integer samples decoded through ``table``; the
    smallest and largest stored sample into ``extremes``.
    """
    n_rows = samples.shape[0]
    lowest = np.int64(table.shape[0])
    highest = np.int64(-table.shape[0])
    charge = np.empty((n_rows, n_pixels), dtype=np.float32)
    peak_time = np.empty((n_rows, n_pixels), dtype=np.float32)
    for row in range(n_rows):
        rate = sampling_rate_ghz[row]
        factor = correction[row]
        for pix in range(n_pixels):
            first = start + pix * n_samples
            wf = samples[row, first : first + n_samples]
            # the decoding is increasing (scale > 0): the peak is found on the stored
            # values; the smallest sample in the same pass as the largest (a third pass
            # over the samples cost 6 us per event)
            best = low = wf[0]
            for s in range(1, n_samples):
                best = max(best, wf[s])
                low = min(low, wf[s])
            peak = _first_index(wf, n_samples, best)
            lowest = min(lowest, np.int64(low))
            highest = max(highest, np.int64(best))
            begin = max(0, peak - shift[row])
            end = min(peak - shift[row] + width[row], n_samples)
            total = 0.0
            num = 0.0
            den = 0.0
            for s in range(begin, end):
                value = table[np.int64(wf[s]) + base]
                total += value
                # the positive samples only, without a branch (adding 0.0 to the
                # positive sums changes nothing)
                positive = max(value, 0.0)
                num += positive * s
                den += positive
            charge[row, pix], peak_time[row, pix] = _window_time_charge(
                total, num, den, peak, rate, factor
            )
    extremes[0] = lowest
    extremes[1] = highest
    return charge, peak_time


@njit(cache=True)
def _extract_direct(
    samples, start, n_pixels, n_samples, offset, scale, width, shift, sampling_rate_ghz, correction
):
    """`extract_local_peak` decoding each window sample (float or wide samples)."""
    n_rows = samples.shape[0]
    charge = np.empty((n_rows, n_pixels), dtype=np.float32)
    peak_time = np.empty((n_rows, n_pixels), dtype=np.float32)
    for row in range(n_rows):
        for pix in range(n_pixels):
            first = start + pix * n_samples
            wf = samples[row, first : first + n_samples]
            peak = _first_maximum(wf, n_samples)
            begin = max(0, peak - shift[row])
            end = min(peak - shift[row] + width[row], n_samples)
            total = 0.0
            num = 0.0
            den = 0.0
            for s in range(begin, end):
                # HDF5EventSource decodes to float32 samples
                value = np.float64(np.float32((np.float64(wf[s]) - offset) / scale))
                total += value
                if value > 0:
                    num += value * s
                    den += value
            charge[row, pix], peak_time[row, pix] = _window_time_charge(
                total, num, den, peak, sampling_rate_ghz[row], correction[row]
            )
    return charge, peak_time


@njit(cache=True)
def interpolate_invalid_pixels(image, peak_time, invalid, indptr, indices):
    """
    Replace invalid pixels by the mean of their valid neighbours, in place
    (ctapipe's ``NeighborAverage``; 0 where no neighbour is valid).

    Parameters
    ----------
    image, peak_time : np.ndarray
        float32 arrays ``(n_pixels,)`` of one telescope event.
    invalid : np.ndarray
        Boolean mask of the pixels to replace.
    indptr, indices : np.ndarray
        Neighbour lists in CSR form (sorted neighbour indices).
    """
    n_pixels = image.shape[0]
    new_image = image.copy()
    new_time = peak_time.copy()
    for pix in range(n_pixels):
        if not invalid[pix]:
            continue
        count = 0
        sum_image = np.float32(0.0)
        sum_time = np.float32(0.0)
        for k in range(indptr[pix], indptr[pix + 1]):
            neighbor = indices[k]
            if invalid[neighbor]:
                continue
            count += 1
            sum_image += image[neighbor]
            sum_time += peak_time[neighbor]
        if count > 0:
            new_image[pix] = sum_image / np.float32(count)
            new_time[pix] = sum_time / np.float32(count)
        else:
            new_image[pix] = 0.0
            new_time[pix] = 0.0
    image[:] = new_image
    peak_time[:] = new_time


@njit(cache=True)
def interpolate_invalid_rows(charge, peak_time, rows, invalid, indptr, indices):
    """
    `interpolate_invalid_pixels` for ``charge[rows[k]]``, ``peak_time[rows[k]]`` with
    the mask ``invalid[k]``, skipping rows without invalid pixels.
    """
    for k in range(len(rows)):
        if invalid[k].any():
            i = rows[k]
            interpolate_invalid_pixels(charge[i], peak_time[i], invalid[k], indptr, indices)
