"""
Chunked DigiCam zfits input of the batch engine (`BatchZFitsDL1Engine`).

- `R0R1Calibrator.calibrate_chunk` against the per-event calibrator on R0 events with
  a raised baseline (voltage drop, all three modes), bad pixels, saturated samples
  and 1/16 ADC baselines: the same float32 R1 (exact), saturation and gain medians;
- the chunk reader against the event source on the real 10-event file.
The engine's tables are compared with the per-event engine's in ``test_engine.py``.
"""

from pathlib import Path

import numpy as np
import pytest
from ctapipe.containers import ArrayEventContainer, EventType, PixelStatus

from iactpipe.batch.extraction import extract_local_peak
from iactpipe.batch.r0_extraction import _radix_scratch, _row_gains, extract_r0_chunk
from iactpipe.batch.zfits import ZFitsChunkReader
from iactpipe.calib import R0R1Calibrator
from iactpipe.calib.r0r1 import _row_baseline_gain, _row_work_arrays
from iactpipe.instrument import sst1m_subarray
from iactpipe.io.digicam import SST1MEventSource
from iactpipe.io.digicam.containers import DigiCamR0CameraContainer

ZFITS = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "r0_zfits"
).resolve() / "example_10_evts.000.fits.fz"
TEL_ID = 21


def _raw_chunk(rng, n_events, n_pixels, n_samples):
    """Readout-order int16 samples, a readout permutation, baselines in 1/16 ADC."""
    readout = rng.permutation(n_pixels)  # software id of each readout position
    order = np.argsort(readout)
    baseline = rng.uniform(330, 360, (n_events, n_pixels))  # NSB: above the dark 300
    samples = np.round(baseline[..., None] + rng.normal(0, 3, (n_events, n_pixels, n_samples)))
    samples[0, 5, 20] = 4095  # saturated (software pixel readout[5])
    samples[1, 7, 10:15] = 4200
    stored = np.round(baseline * 16).astype(np.int16)
    samples = samples.astype(np.int16).reshape(n_events, -1)
    return samples, np.tile(order, (n_events, 1)), stored


@pytest.mark.parametrize("mode", ["global", "pixel", "none"])
def test_calibrate_chunk_equals_per_event(mode):
    subarray = sst1m_subarray()
    n_pixels = subarray.tel[TEL_ID].camera.geometry.n_pixels
    n_events, n_samples = 3, 50
    samples, order, stored = _raw_chunk(np.random.default_rng(4), n_events, n_pixels, n_samples)
    options = dict(subarray=subarray, voltage_drop_correction=mode, bad_pixels={TEL_ID: [3, 700]})
    chunked = R0R1Calibrator(**options)
    waveforms, saturated = chunked.calibrate_chunk(TEL_ID, samples, order, stored, 16)
    per_event = R0R1Calibrator(**options)
    for i in range(n_events):
        event = ArrayEventContainer()
        event.trigger.event_type = EventType.SUBARRAY
        r0 = samples[i].reshape(n_pixels, n_samples)[order[i]].astype(np.uint16)
        event.r0.tel[TEL_ID] = DigiCamR0CameraContainer(
            waveform=r0[None], baseline=stored[i][order[i]] / 16
        )
        per_event(event)
        r1 = event.r1.tel[TEL_ID]
        np.testing.assert_array_equal(waveforms[i], r1.waveform[0].reshape(-1))
        expected = (r1.pixel_status & PixelStatus.SATURATED) > 0
        np.testing.assert_array_equal(saturated[i], expected)
        assert saturated[i].sum() == (1 if i < 2 else 0)
    assert chunked.gain_factor == per_event.gain_factor
    assert chunked.baseline_shift_adc == per_event.baseline_shift_adc
    if mode != "none":
        assert chunked.gain_factor[TEL_ID] < 0.99  # the voltage drop is exercised
    assert np.all(waveforms.reshape(n_events, n_pixels, -1)[:, [3, 700]] == 0)


@pytest.mark.parametrize("mode", ["global", "pixel", "none"])
def test_extract_r0_equals_calibrate_then_extract(mode):
    """
    Charges and peak times straight from R0 equal R1 waveforms then
    ``LocalPeakWindowSum`` bit for bit: showers (pulses, peaks at the window's
    edges), bad pixels, saturated samples, every voltage-drop mode.
    """
    subarray = sst1m_subarray()
    n_pixels = subarray.tel[TEL_ID].camera.geometry.n_pixels
    n_events, n_samples = 4, 50
    rng = np.random.default_rng(7)
    samples, order, stored = _raw_chunk(rng, n_events, n_pixels, n_samples)
    pulses = samples.reshape(n_events, n_pixels, n_samples)
    pulses[:, :, 0] += rng.integers(0, 60, (n_events, n_pixels)).astype(np.int16)
    pulses[:, :, 49] += rng.integers(0, 60, (n_events, n_pixels)).astype(np.int16)
    pulses[:, ::3, 20:24] += rng.integers(0, 400, (n_events, 432, 4)).astype(np.int16)
    options = dict(subarray=subarray, voltage_drop_correction=mode, bad_pixels={TEL_ID: [3, 700]})
    reference, fused = R0R1Calibrator(**options), R0R1Calibrator(**options)
    waveforms, _ = reference.calibrate_chunk(TEL_ID, samples, order, stored, 16)
    width = np.full(n_events, 7, dtype=np.int64)
    shift = np.full(n_events, 3, dtype=np.int64)
    rate, correction = np.full(n_events, 0.25), np.full(n_events, 1.37)
    expected = extract_local_peak(
        waveforms, 0, n_pixels, n_samples, 0.0, 1.0, width, shift, rate, correction
    )
    extraction = (width, shift, rate, correction)
    got = extract_r0_chunk(fused, TEL_ID, samples, order, stored, 16, extraction)
    for values, wanted in zip(got, expected, strict=True):
        np.testing.assert_array_equal(values, wanted)
    # the layout of a decoded tile (each row after its 4-byte length), read in place
    tile = np.zeros((n_events, 2 + samples.shape[1]), dtype=np.int16)
    tile[:, 2:] = samples
    fresh = R0R1Calibrator(**options)
    in_place = extract_r0_chunk(fresh, TEL_ID, tile[:, 2:], order, stored, 16, extraction)
    for values, wanted in zip(in_place, expected, strict=True):
        np.testing.assert_array_equal(values, wanted)
    assert np.all(got[0][:, [3, 700]] == 0) and np.all(got[1][:, [3, 700]] == 0)
    assert 0.2 < (got[0] > 3).mean() < 0.4  # the pulses of a third of the pixels count
    assert fused.gain_factor == reference.gain_factor
    assert fused.baseline_shift_adc == reference.baseline_shift_adc


@pytest.fixture(scope="module")
def zfits_path():
    if not ZFITS.exists():
        pytest.skip(f"{ZFITS} not present: real external test data lives in ../shared/data")
    return ZFITS


def test_reader_matches_the_event_source(zfits_path):
    """Event ids, times, types and the readout order, chunks of 4 over 10 events."""
    chunks = list(ZFitsChunkReader([zfits_path], chunk_size=4))
    assert [len(c.event_id) for c in chunks] == [4, 4, 2]
    with SST1MEventSource(zfits_path, calibrate_r1=False) as source:
        events = list(source)
    event_id = np.concatenate([c.event_id for c in chunks])
    assert event_id.tolist() == [e.index.event_id for e in events]
    time_ns = np.concatenate([c.time_ns for c in chunks])
    expected = [e.trigger.time.unix_tai for e in events]
    np.testing.assert_allclose(time_ns * 1e-9, expected, rtol=0, atol=1e-6)
    first = chunks[0]
    n_pixels = first.order.shape[1]
    r0 = first.samples[0].reshape(n_pixels, -1)[first.order[0]]
    np.testing.assert_array_equal(r0, events[0].r0.tel[TEL_ID].waveform[0])
    assert len(list(ZFitsChunkReader([zfits_path], chunk_size=4, max_events=5))) == 2


@pytest.mark.parametrize("case", ["ties", "nan", "no good pixel"])
def test_row_gains_equal_row_baseline_gain(case):
    """
    The fused kernel's global voltage-drop median (radix selection) gives
    `_row_baseline_gain`'s values bit for bit: stored baselines in 1/16 ADC (many
    equal shifts), a NaN dark baseline, no good pixel (numba's median then).
    """
    rng = np.random.default_rng(11)
    n_rows, n_pixels = 3, 1296
    order = np.tile(rng.permutation(n_pixels), (n_rows, 1))
    stored = np.round(rng.uniform(330, 360, (n_rows, n_pixels)) * 16).astype(np.int16)
    good = rng.random(n_pixels) > 0.01
    if case == "no good pixel":
        good[:] = False
    dark = np.full(n_pixels, 300.0)
    if case == "nan":
        dark[np.flatnonzero(good)[7]] = np.nan
    full_drop = rng.uniform(200, 300, n_pixels)
    for row in range(n_rows):
        last = row == n_rows - 1
        args = (row, last, order, stored, 16.0, good, dark, full_drop, 1, 0.1)
        expected_work = _row_work_arrays(n_pixels, good)
        expected = _row_baseline_gain(*args, expected_work)
        work = _row_work_arrays(n_pixels, good)
        got = _row_gains(*args, work, _radix_scratch(n_pixels))
        np.testing.assert_array_equal(np.array(got), np.array(expected))
        for values, wanted in zip(work, expected_work, strict=True):
            np.testing.assert_array_equal(values, wanted)
    if case == "ties":
        assert len(np.unique(work[3])) < n_pixels // 2  # the shifts repeat
        assert 0.1 < work[2].min() < 1.0  # the voltage drop is exercised
