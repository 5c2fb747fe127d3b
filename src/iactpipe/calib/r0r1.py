"""
R0 -> R1 calibration of DigiCam data: baseline subtraction, dc -> p.e., saturation
and bad-pixel flags, NSB voltage-drop correction.

R1 follows ctapipe's convention: waveforms in p.e. per sample, normalised so that the
integral of a one-p.e. pulse is 1 (ctapipe extractors with integration correction
then return the charge in p.e.)::

    R1 = (R0 - baseline) / (dc_to_pe * g * A)

``dc_to_pe`` is the pulse height of one p.e. in ADC (cross-talk included, as in the
SST-1M calibration files), ``A`` the area in samples of the unit-height reference pulse
of the camera readout, ``g`` the relative gain left after the NSB voltage drop (see
`iactpipe.calib.voltage_drop`).
"""

from __future__ import annotations

import astropy.units as u
import numba
import numpy as np
from ctapipe.containers import EventType, PixelStatus, R1CameraContainer
from ctapipe.core import TelescopeComponent
from ctapipe.core.traits import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    FloatTelescopeParameter,
    Int,
    List,
    Path,
    TelescopeParameter,
)

from .calibration_file import PixelCalibration, read_pixel_calibration
from .pedestal import SlidingWindowStatistics
from .voltage_drop import gain_factor_from_baseline_shift

__all__ = ["R0R1Calibrator", "calibrate_r0_chunk", "calibrate_waveforms", "pulse_area_ns"]

#: ``voltage_drop_correction`` as the code `calibrate_r0_chunk` takes
VOLTAGE_DROP_MODES = {"none": 0, "global": 1, "pixel": 2}


def pulse_area_ns(readout) -> float:
    """Area (ns) of the unit-height reference pulse of a `~ctapipe.instrument.CameraReadout`."""
    shape = np.asarray(readout.reference_pulse_shape[0], dtype=np.float64)
    width = readout.reference_pulse_sample_width.to_value(u.ns)
    return float(shape.sum() * width / shape.max())


def calibrate_waveforms(
    r0: np.ndarray, baseline: np.ndarray, dc_to_pe: np.ndarray, area_samples: float
) -> np.ndarray:
    """
    R1 waveforms (n_pixels, n_samples), float32, from R0 ADC samples.

    Parameters
    ----------
    r0 : np.ndarray
        ADC samples (n_pixels, n_samples).
    baseline : np.ndarray
        Baseline per pixel (ADC).
    dc_to_pe : np.ndarray
        Effective pulse height of one p.e. per pixel (ADC), voltage drop included.
    area_samples : float
        Area of the unit-height pulse, in samples.
    """
    scale = 1.0 / (np.asarray(dc_to_pe) * area_samples)
    return ((r0 - baseline[:, np.newaxis]) * scale[:, np.newaxis]).astype(np.float32)


@numba.njit(cache=True, nogil=True, inline="always")
def _calibrate_pixel(samples, start, out, out_start, n_samples, baseline, scale, good):
    """
    One pixel's R1 samples ``out[out_start:out_start + n_samples]``,
    float32((uint16 ADC - baseline) * scale), 0 when bad; returns the pixel's highest
    ADC value.
    """
    highest = 0
    for sample in range(n_samples):
        adc = np.int64(np.uint16(samples[start + sample]))
        highest = max(highest, adc)
        out[out_start + sample] = np.float32((np.float64(adc) - baseline) * scale)
    if not good:
        for sample in range(n_samples):
            out[out_start + sample] = np.float32(0.0)
    return highest


@numba.njit(cache=True, nogil=True)
def _row_work_arrays(n_pixels, good):
    """(baseline, shift, gain, good_shift) work arrays of `_row_baseline_gain`."""
    n_good = 0
    for pixel in range(n_pixels):
        n_good += good[pixel]
    return np.empty(n_pixels), np.empty(n_pixels), np.ones(n_pixels), np.empty(n_good)


@numba.njit(cache=True, nogil=True, inline="always")
def _row_baseline_gain(
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
):
    """
    Baseline (ADC) and voltage-drop gain factor of each software pixel of one row
    into ``work[0]`` and ``work[2]`` (see `calibrate_r0_chunk`), in the per-event
    calibrator's float64 operations; returns the camera medians of the baseline
    shift and of the gain when ``with_medians`` (else NaN).
    """
    baseline, shift, gain, good_shift = work
    n_pixels = baseline.shape[0]
    k = 0
    for pixel in range(n_pixels):
        baseline[pixel] = stored_baselines[row, order[row, pixel]] / baseline_scale
        shift[pixel] = baseline[pixel] - dark_baseline[pixel]
        if good[pixel]:
            good_shift[k] = shift[pixel]
            k += 1
    shift_median = gain_median = np.nan
    if with_medians:
        shift_median = np.median(shift)
    if voltage_drop_mode == 1:
        common = np.median(good_shift)
        for pixel in range(n_pixels):
            shift[pixel] = common
    for pixel in range(n_pixels):
        if voltage_drop_mode != 0:
            g = 1.0 - shift[pixel] / full_drop[pixel]
            gain[pixel] = min(max(g, min_gain_factor), 1.0)
    if with_medians:
        gain_median = np.median(gain)
    return shift_median, gain_median


@numba.njit(cache=True, nogil=True)
def calibrate_r0_chunk(
    samples,
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
    adc_saturation,
    waveforms,
    saturated,
):
    """
    `R0R1Calibrator` (stored baselines) over a chunk of DigiCam events: the same
    float64 operations in the same order, so the same float32 R1 values.

    Parameters
    ----------
    samples : np.ndarray
        int16 ADC samples in readout order, (n_rows, n_pixels * n_samples); taken as
        uint16, as the event source does.
    order : np.ndarray
        int64 (n_rows, n_pixels): the readout position of each software pixel.
    stored_baselines : np.ndarray
        Baselines as stored (readout order), (n_rows, n_pixels).
    baseline_scale : float
        Divisor of the stored baselines (1 or 16).
    dc_to_pe, good, dark_baseline, full_drop : np.ndarray
        Per software pixel: pulse height of one p.e. (bad pixels: the good median),
        good-pixel mask, dark baseline (ADC), baseline shift of a full gain drop.
    voltage_drop_mode : int
        0 none, 1 global (median shift of the good pixels), 2 per pixel.
    min_gain_factor, area_samples : float
    adc_saturation : int
    waveforms : np.ndarray
        float32 (n_rows, n_pixels * n_samples) output: R1 in software order.
    saturated : np.ndarray
        bool (n_rows, n_pixels) output: a sample at or above ``adc_saturation``.

    Returns
    -------
    shift_median, gain_median : float
        Camera median of the baseline shift and of the gain of the last row (NaN
        without rows).
    """
    n_rows, n_pixels = order.shape
    n_samples = samples.shape[1] // n_pixels
    work = _row_work_arrays(n_pixels, good)
    baseline, gain = work[0], work[2]
    shift_median = gain_median = np.nan
    for row in range(n_rows):
        medians = _row_baseline_gain(
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
        )
        if row == n_rows - 1:
            shift_median, gain_median = medians
        row_samples, row_waveforms = samples[row], waveforms[row]
        for pixel in range(n_pixels):
            saturated[row, pixel] = adc_saturation <= _calibrate_pixel(
                row_samples,
                order[row, pixel] * n_samples,
                row_waveforms,
                pixel * n_samples,
                n_samples,
                baseline[pixel],
                1.0 / ((dc_to_pe[pixel] * gain[pixel]) * area_samples),
                good[pixel],
            )
    return shift_median, gain_median


class R0R1Calibrator(TelescopeComponent):
    """
    DigiCam R0 (ADC) -> R1 (p.e.) calibration with the NSB voltage-drop correction.

    Applied to every telescope with R0 and no R1 (or always with ``overwrite_r1``).
    Fills ``event.r1.tel[tel_id]`` (waveform, pixel status with the ``SATURATED`` bit
    and without the gain-stored bits for bad pixels, baseline as ``pedestal_intensity``)
    and ``event.monitoring.tel[tel_id].camera.coefficients.outlier_mask`` (bad pixels,
    interpolated by `~ctapipe.calib.CameraCalibrator`'s invalid-pixel handler).
    """

    dc_to_pe = FloatTelescopeParameter(
        default_value=23.6,
        help=(
            "Pulse height of one p.e. without NSB (ADC), optical cross-talk included; used"
            " when no calibration file is given (SST-1M 2023-2024 median: 23.6)"
        ),
    ).tag(config=True)
    calibration_file = TelescopeParameter(
        trait=Path(exists=True, directory_ok=False, allow_none=True),
        default_value=None,
        allow_none=True,
        help=(
            "Per-pixel calibration file (columns dc_to_pe, optional calib_flag,"
            " dark_baseline, pixel_id; see docs/calibration.rst)"
        ),
    ).tag(config=True)
    baseline_source = CaselessStrEnum(
        ["stored", "pedestal_events"],
        default_value="stored",
        help=(
            "Baseline to subtract: 'stored' (computed by DigiCam before each event),"
            " 'pedestal_events' (mean sample of interleaved pedestal events, sliding window;"
            " the stored one until enough pedestal events)"
        ),
    ).tag(config=True)
    pedestal_window_events = Int(
        50, help="Pedestal events in the sliding window of baseline_source='pedestal_events'"
    ).tag(config=True)
    adc_saturation = Int(4095, help="ADC value of a saturated sample (12-bit ADC)").tag(config=True)
    bad_pixels = Dict(
        key_trait=Int(),
        value_trait=List(Int()),
        default_value={},
        help=(
            "Static bad pixels per telescope id ({22: [12, 345]}, software ids), in addition"
            " to those flagged in the calibration file"
        ),
    ).tag(config=True)
    voltage_drop_correction = CaselessStrEnum(
        ["none", "global", "pixel"],
        default_value="global",
        help=(
            "NSB voltage-drop correction from the baseline shift: camera median ('global'),"
            " per pixel ('pixel') or none"
        ),
    ).tag(config=True)
    dark_baseline_adc = FloatTelescopeParameter(
        default_value=300.0,
        help=(
            "Baseline without NSB (ADC), the reference of the baseline shift; a"
            " dark_baseline column of the calibration file takes precedence"
        ),
    ).tag(config=True)
    voltage_drop_scale_mhz = FloatTelescopeParameter(
        default_value=2000.0,
        help=(
            "NSB + dark-count rate that halves the SiPM gain (MHz): g = 1 / (1 + f / f_s)."
            " 2000 as in iactpipe-simulate; digicampipe used 1 / (10 kOhm * 85 fF) = 1176"
        ),
    ).tag(config=True)
    min_gain_factor = Float(
        0.2, help="Lower limit of the voltage-drop gain factor (protects against bad baselines)"
    ).tag(config=True)
    overwrite_r1 = Bool(False, help="Recompute R1 from R0 even when the event has R1").tag(
        config=True
    )

    def __init__(self, subarray, config=None, parent=None, **kwargs):
        super().__init__(subarray=subarray, config=config, parent=parent, **kwargs)
        self._pixel_calibration: dict[int, PixelCalibration] = {}
        self._pedestal_windows: dict[int, SlidingWindowStatistics] = {}
        #: last voltage-drop gain factor (camera median) per telescope
        self.gain_factor: dict[int, float] = {}
        #: last camera-median baseline shift (ADC) per telescope
        self.baseline_shift_adc: dict[int, float] = {}

    def pixel_calibration(self, tel_id: int) -> PixelCalibration:
        """Per-pixel constants of ``tel_id`` (from the file, or the scalar defaults)."""
        if tel_id not in self._pixel_calibration:
            n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
            path = self.calibration_file.tel[tel_id]
            if path is not None:
                calib = read_pixel_calibration(path, n_pixels)
                self.log.info(
                    "telescope %d: calibration %s, %d bad pixels", tel_id, path, (~calib.good).sum()
                )
            else:
                calib = PixelCalibration(
                    dc_to_pe=np.full(n_pixels, self.dc_to_pe.tel[tel_id]),
                    good=np.ones(n_pixels, dtype=bool),
                )
            calib.dc_to_pe = np.where(
                calib.good, calib.dc_to_pe, np.nanmedian(calib.dc_to_pe[calib.good])
            )
            static = np.asarray(self.bad_pixels.get(tel_id, []), dtype=int)
            calib.good[static] = False
            if calib.dark_baseline is None:
                calib.dark_baseline = np.full(n_pixels, self.dark_baseline_adc.tel[tel_id])
            self._pixel_calibration[tel_id] = calib
        return self._pixel_calibration[tel_id]

    def chunk_constants(self, tel_id: int) -> tuple:
        """
        The per-telescope arguments of the chunk kernels (stored baselines only), in
        `calibrate_r0_chunk`'s order after ``baseline_scale``: ``dc_to_pe``, ``good``,
        ``dark_baseline``, ``full_drop`` (float64 / bool per software pixel), the
        voltage-drop mode, ``min_gain_factor``, ``area_samples``, then
        ``adc_saturation``.
        """
        if self.baseline_source != "stored":
            raise ValueError("the chunk kernels need R0R1Calibrator.baseline_source='stored'")
        calib = self.pixel_calibration(tel_id)
        readout = self.subarray.tel[tel_id].camera.readout
        area_ns = pulse_area_ns(readout)
        area_samples = area_ns * readout.sampling_rate.to_value(u.GHz)
        scale_ghz = self.voltage_drop_scale_mhz.tel[tel_id] * 1e-3
        # as gain_factor_from_baseline_shift computes it
        full_drop = scale_ghz * area_ns * np.asarray(calib.dc_to_pe, dtype=np.float64)
        return (
            np.asarray(calib.dc_to_pe, dtype=np.float64),
            np.asarray(calib.good, dtype=np.bool_),
            np.asarray(calib.dark_baseline, dtype=np.float64),
            full_drop,
            VOLTAGE_DROP_MODES[self.voltage_drop_correction],
            float(self.min_gain_factor),
            float(area_samples),
            int(self.adc_saturation),
        )

    def record_medians(self, tel_id: int, shift_median: float, gain_median: float) -> None:
        """Keep a chunk's last camera medians (``baseline_shift_adc``, ``gain_factor``)."""
        self.baseline_shift_adc[tel_id] = float(shift_median)
        self.gain_factor[tel_id] = float(gain_median)

    def calibrate_chunk(
        self, tel_id: int, samples: np.ndarray, order: np.ndarray, stored_baselines, scale: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """
        R1 of a chunk of events of ``tel_id`` with the stored baselines, as the
        per-event call gives it (`calibrate_r0_chunk`); updates ``gain_factor`` and
        ``baseline_shift_adc`` to the chunk's last event.

        Parameters
        ----------
        samples : np.ndarray
            int16 (n_rows, n_pixels * n_samples), readout pixel order.
        order : np.ndarray
            (n_rows, n_pixels): the readout position of each software pixel.
        stored_baselines : np.ndarray
            (n_rows, n_pixels) as stored, readout order.
        scale : float
            Divisor of the stored baselines.

        Returns
        -------
        waveforms : np.ndarray
            float32 (n_rows, n_pixels * n_samples), software order, bad pixels 0.
        saturated : np.ndarray
            bool (n_rows, n_pixels).
        """
        n_rows, n_pixels = order.shape
        waveforms = np.empty(samples.shape, dtype=np.float32)
        saturated = np.empty((n_rows, n_pixels), dtype=bool)
        shift_median, gain_median = calibrate_r0_chunk(
            samples,
            np.ascontiguousarray(order, dtype=np.int64),
            np.ascontiguousarray(stored_baselines),
            float(scale),
            *self.chunk_constants(tel_id),
            waveforms,
            saturated,
        )
        if n_rows:
            self.record_medians(tel_id, shift_median, gain_median)
        return waveforms, saturated

    def _baseline(self, event, tel_id: int, r0_waveform: np.ndarray) -> np.ndarray:
        r0 = event.r0.tel[tel_id]
        stored = getattr(r0, "baseline", None)
        if self.baseline_source == "pedestal_events":
            window = self._pedestal_windows.setdefault(
                tel_id,
                SlidingWindowStatistics(r0_waveform.shape[0], self.pedestal_window_events),
            )
            if event.trigger.event_type == EventType.SKY_PEDESTAL:
                window.add(r0_waveform.mean(axis=1))
            if window.n_entries > 0:
                return window.statistics()[0]
        if stored is not None:
            return np.asarray(stored, dtype=np.float64)
        # no stored baseline, no pedestal event yet: the lower half of the samples
        return np.median(np.sort(r0_waveform, axis=1)[:, : r0_waveform.shape[1] // 2], axis=1)

    def __call__(self, event) -> None:
        """Fill R1 of every telescope of ``event`` that has R0 (and no R1)."""
        for tel_id, r0 in event.r0.tel.items():
            if r0.waveform is None:
                continue
            r1 = event.r1.tel.get(tel_id) if tel_id in event.r1.tel else None
            if r1 is not None and r1.waveform is not None and not self.overwrite_r1:
                continue
            self._calibrate_telescope(event, tel_id)

    def _calibrate_telescope(self, event, tel_id: int) -> None:
        r0_waveform = np.asarray(event.r0.tel[tel_id].waveform[0], dtype=np.float64)
        calib = self.pixel_calibration(tel_id)
        readout = self.subarray.tel[tel_id].camera.readout
        area_ns = pulse_area_ns(readout)
        area_samples = area_ns * readout.sampling_rate.to_value(u.GHz)

        baseline = self._baseline(event, tel_id, r0_waveform)
        shift = baseline - calib.dark_baseline
        self.baseline_shift_adc[tel_id] = float(np.nanmedian(shift))
        gain = np.ones_like(shift)
        if self.voltage_drop_correction != "none":
            if self.voltage_drop_correction == "global":
                shift = np.full_like(shift, np.nanmedian(shift[calib.good]))
            gain = gain_factor_from_baseline_shift(
                shift,
                calib.dc_to_pe,
                area_ns,
                self.voltage_drop_scale_mhz.tel[tel_id],
                self.min_gain_factor,
            )
        self.gain_factor[tel_id] = float(np.median(gain))

        waveform = calibrate_waveforms(r0_waveform, baseline, calib.dc_to_pe * gain, area_samples)
        saturated = (r0_waveform >= self.adc_saturation).any(axis=1)
        bad = ~calib.good
        waveform[bad] = 0.0

        status = np.full(len(baseline), PixelStatus.HIGH_GAIN_STORED, dtype=np.uint8)
        status[bad] = 0
        status[saturated] |= np.uint8(PixelStatus.SATURATED)
        event.r1.tel[tel_id] = R1CameraContainer(
            event_type=event.trigger.event_type,
            event_time=event.trigger.time,
            waveform=waveform[np.newaxis],
            selected_gain_channel=np.zeros(len(baseline), dtype=np.int8),
            pixel_status=status,
            pedestal_intensity=baseline.astype(np.float32),
        )
        coefficients = event.monitoring.tel[tel_id].camera.coefficients
        previous = coefficients.outlier_mask
        coefficients.outlier_mask = bad[None] if previous is None else previous | bad[None]
