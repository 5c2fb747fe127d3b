"""
DigiCam R0 -> charges and peak times in one pass (the batch engine on zfits input).

`~iactpipe.calib.r0r1.calibrate_r0_chunk` followed by
`~iactpipe.batch.extraction.extract_local_peak` materialises the float32 R1 waveforms
of a whole chunk (260 kB per event, written once and read back from beyond the
caches) only for ``LocalPeakWindowSum`` to keep the few samples of its window.
`extract_r0_chunk` gives the same charges and peak times bit for bit from the ADC
samples:

- the peak is searched on the ADC samples (uint16): R1 is ``float32((adc - baseline)
  * scale)`` with ``scale > 0``, and ADC values 1 apart stay distinct and in order
  after that rounding (their relative gap, at least 1 / 65535, is far above float32's
  2**-24), so the first maximum is the same sample;
- only the window's samples are calibrated, with the per-event calibrator's float64
  operations, and summed as ``extract_local_peak`` sums R1;
- bad pixels have R1 0: charge 0, peak time 0, as the window over zeros gives.

The samples' saturation flags, which `calibrate_r0_chunk` also returns, are not part
of the DL1 output; the waveform modifier of tuned simulations needs R1 waveforms and
keeps the general path (`BatchZFitsDL1Engine`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..calib.r0r1 import R0R1Calibrator, _row_baseline_gain, _row_work_arrays
from .extraction import _first_maximum, _window_time_charge
from .window_kernels import median_radix

__all__ = ["extract_r0_chunk", "extract_r0_rows", "flat_rows"]

#: `calibrate_r0_chunk`'s code of the global voltage-drop correction (one camera
#: median of the good pixels' baseline shifts)
_GLOBAL = 1


@njit(cache=True, nogil=True)
def _radix_scratch(n_pixels):
    """Scratch arrays of `median_radix` for up to ``n_pixels`` values."""
    keys = np.empty(n_pixels, dtype=np.uint64)
    return keys, np.empty(n_pixels, dtype=np.uint64), np.empty(2048, dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _row_gains(
    row,
    with_medians,
    order,
    stored_baselines,
    baseline_scale,
    good,
    dark_baseline,
    full_drop,
    voltage_drop_mode,
    min_gain_factor,
    work,
    scratch,
):
    """
    `_row_baseline_gain` with the global mode's camera median by radix selection:
    numba's ``np.median`` (quickselect) costs 16 us per event on the shifts of stored
    baselines, which are multiples of 1/16 ADC with many ties; `median_radix` 3 us,
    the same value (both exact: the middle value, or the mean of the two middle
    ones). With a NaN shift, or no good pixel, ``np.median`` keeps its own answer.
    """
    # the global mode runs as mode 0 ("none": the baselines and shifts only) and its
    # common shift and gains are set here; the other modes are `_row_baseline_gain`'s
    is_global = voltage_drop_mode == _GLOBAL
    medians = _row_baseline_gain(
        row,
        with_medians and not is_global,
        order,
        stored_baselines,
        baseline_scale,
        good,
        dark_baseline,
        full_drop,
        0 if is_global else voltage_drop_mode,
        min_gain_factor,
        work,
    )
    if not is_global:
        return medians
    shift, gain, good_shift = work[1], work[2], work[3]
    # before the common shift replaces the pixels' own (as `_row_baseline_gain`)
    shift_median = np.median(shift) if with_medians else np.nan
    n_good = good_shift.shape[0]
    if n_good == 0 or np.isnan(good_shift).any():
        common = np.median(good_shift)
    else:
        common = median_radix(good_shift, n_good, *scratch)
    for pixel in range(gain.shape[0]):
        shift[pixel] = common
        g = 1.0 - common / full_drop[pixel]
        gain[pixel] = min(max(g, min_gain_factor), 1.0)
    gain_median = np.median(gain) if with_medians else np.nan
    return shift_median, gain_median


@njit(cache=True, nogil=True)
def extract_r0_rows(
    samples,
    row_start,
    n_samples,
    order,
    stored_baselines,
    baseline_scale,
    dc_to_pe,
    good,
    dark_baseline,
    full_drop,
    voltage_drop_mode,
    min_gain_factor,
    area_samples,
    width,
    shift,
    sampling_rate_ghz,
    correction,
    charge,
    peak_time,
):
    """
    ``LocalPeakWindowSum`` charges and peak times of the R1 that `calibrate_r0_chunk`
    would give, from the ADC samples.

    Parameters
    ----------
    samples : np.ndarray
        uint16 ADC samples in readout order, 1-D: row ``i`` is the ``n_pixels *
        n_samples`` values from ``row_start[i]`` (the int16 samples of the file viewed
        as uint16, as the event source takes them). 1-D so that the rows of a decoded
        tile, each after its 4-byte length, are read in place (`flat_rows`): a 2-D
        strided view is not vectorised (three times the time) and a copy costs 12 us
        per event.
    row_start : np.ndarray
        int64 (n_rows,): where each row starts in ``samples``.
    n_samples : int
        Samples per pixel.
    order, stored_baselines, baseline_scale, dc_to_pe, good : np.ndarray or float
        As `~iactpipe.calib.r0r1.calibrate_r0_chunk` takes them.
    dark_baseline, full_drop, voltage_drop_mode, min_gain_factor, area_samples
        As `~iactpipe.calib.r0r1.calibrate_r0_chunk` takes them.
    width, shift, sampling_rate_ghz, correction : np.ndarray
        Per row, as `extract_local_peak` takes them.
    charge, peak_time : np.ndarray
        float32 (n_rows, n_pixels) outputs, software pixel order.

    Returns
    -------
    shift_median, gain_median : float
        Camera medians of the baseline shift and of the gain of the last row.
    """
    n_rows, n_pixels = order.shape
    work = _row_work_arrays(n_pixels, good)
    baseline, gain = work[0], work[2]
    scratch = _radix_scratch(n_pixels)
    scales = np.empty(n_pixels)
    software = np.empty(n_pixels, dtype=np.int64)
    shift_median = gain_median = np.nan
    for row in range(n_rows):
        medians = _row_gains(
            row,
            row == n_rows - 1,
            order,
            stored_baselines,
            baseline_scale,
            good,
            dark_baseline,
            full_drop,
            voltage_drop_mode,
            min_gain_factor,
            work,
            scratch,
        )
        if row == n_rows - 1:
            shift_median, gain_median = medians
        # the R1 scale of every pixel in one vectorised loop (a division per pixel)
        for pixel in range(n_pixels):
            scales[pixel] = 1.0 / ((dc_to_pe[pixel] * gain[pixel]) * area_samples)
        rate, factor = sampling_rate_ghz[row], correction[row]
        before, size = shift[row], width[row]
        # the pixels in readout order: the row's samples read front to back (in
        # software order, a jump per pixel: twice the time, waiting for memory)
        for pixel in range(n_pixels):
            software[order[row, pixel]] = pixel
        for position in range(n_pixels):
            pixel = software[position]
            if not good[pixel]:
                # R1 of zeros: an empty positive sum, the peak at sample 0
                charge[row, pixel], peak_time[row, pixel] = _window_time_charge(
                    0.0, 0.0, 0.0, 0, rate, factor
                )
                continue
            first = row_start[row] + position * n_samples
            wf = samples[first : first + n_samples]
            peak = _first_maximum(wf, n_samples)
            level, scale = baseline[pixel], scales[pixel]
            begin = max(0, peak - before)
            end = min(peak - before + size, n_samples)
            total = 0.0
            num = 0.0
            den = 0.0
            for s in range(begin, end):
                value = np.float64(np.float32((np.float64(wf[s]) - level) * scale))
                total += value
                positive = max(value, 0.0)
                num += positive * s
                den += positive
            charge[row, pixel], peak_time[row, pixel] = _window_time_charge(
                total, num, den, peak, rate, factor
            )
    return shift_median, gain_median


def flat_rows(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    A read-only 1-D view of a 2-D ``block`` whose rows are each contiguous (possibly
    apart, as in a decoded tile), from its first value to its last, and where each
    row starts in it; a copy when the rows themselves are not contiguous.
    """
    n_rows, width = block.shape
    item = block.itemsize
    row_stride, value_stride = block.strides
    if n_rows and (value_stride != item or row_stride % item or row_stride < width * item):
        block = np.ascontiguousarray(block)
        row_stride = width * item
    step = row_stride // item if n_rows > 1 else width
    size = (n_rows - 1) * step + width if n_rows else 0
    flat = np.lib.stride_tricks.as_strided(block, (size,), (item,), writeable=False)
    return flat, np.arange(n_rows, dtype=np.int64) * step


def _kernel_order(order: np.ndarray) -> np.ndarray:
    """
    ``order`` as the kernel takes it: int64, each row contiguous; one row repeated
    (a zero row stride: the same pixel indices in every event) is kept as it is, not
    made a 1 MB array per tile.
    """
    one_row = order.ndim == 2 and order.strides[0] == 0 and order.strides[1] == order.itemsize
    if one_row and order.dtype == np.int64:
        return order
    return np.ascontiguousarray(order, dtype=np.int64)


def extract_r0_chunk(
    calibrator: R0R1Calibrator,
    tel_id: int,
    samples: np.ndarray,
    order: np.ndarray,
    stored_baselines: np.ndarray,
    scale: float,
    extraction: tuple,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Charges and peak times of a chunk of DigiCam events of ``tel_id`` (`extract_r0_rows`
    with the calibrator's constants); updates the calibrator's ``gain_factor`` and
    ``baseline_shift_adc`` to the chunk's last event, as `R0R1Calibrator.calibrate_chunk`.

    Parameters
    ----------
    calibrator : R0R1Calibrator
        Stored baselines (``baseline_source='stored'``).
    tel_id : int
    samples : np.ndarray
        int16 (n_rows, n_pixels * n_samples), readout pixel order; the rows may be
        apart (a decoded tile: each row after its length), read in place.
    order : np.ndarray
        (n_rows, n_pixels): the readout position of each software pixel (a row
        broadcast to every event is read as it is).
    stored_baselines : np.ndarray
        (n_rows, n_pixels) as stored, readout order.
    scale : float
        Divisor of the stored baselines.
    extraction : tuple
        ``(width, shift, sampling_rate_ghz, correction)`` per row (int64, int64,
        float64 GHz, float64), as `extract_local_peak` takes them.

    Returns
    -------
    charge, peak_time : np.ndarray
        float32 (n_rows, n_pixels); peak time in ns.
    """
    n_rows, n_pixels = order.shape
    charge = np.empty((n_rows, n_pixels), dtype=np.float32)
    peak_time = np.empty_like(charge)
    *constants, _ = calibrator.chunk_constants(tel_id)  # no saturation flags here
    flat, row_start = flat_rows(samples.view(np.uint16))
    medians = extract_r0_rows(
        flat,
        row_start,
        samples.shape[1] // n_pixels,
        _kernel_order(order),
        np.ascontiguousarray(stored_baselines),
        float(scale),
        *constants,
        *extraction,
        charge,
        peak_time,
    )
    if n_rows:
        calibrator.record_medians(tel_id, *medians)
    return charge, peak_time
