"""R0 -> R1 -> DL1 on simulated DigiCam R0 with known gain, baseline and NSB.

The toy camera (`iactpipe.simulation.CameraResponse`) turns a known p.e. image into R0
ADC samples: pulse height ``gain_adc_per_pe`` per p.e. (times the cross-talk), a DC
baseline of ``baseline_adc`` raised by the NSB, and the voltage-drop gain loss
``1 / (1 + f / 2 GHz)``. The stored DigiCam baseline is the mean of the pre-samples,
i.e. the baseline plus the NSB shift of each pixel.
"""

import astropy.units as u
import numpy as np
import pytest
from ctapipe.calib import CameraCalibrator
from ctapipe.containers import ArrayEventContainer, EventType
from traitlets.config import Config

from iactpipe.calib import (
    PedestalMonitor,
    R0R1Calibrator,
    gain_factor_from_baseline_shift,
    nsb_rate_from_gain_factor,
)
from iactpipe.defaults import SST1M_DL1_DEFAULTS
from iactpipe.instrument import sst1m_subarray
from iactpipe.io.digicam import DigiCamR0CameraContainer
from iactpipe.simulation.camera import PULSE_AREA_NS, CameraResponse

TEL_ID = 21
NSB_LEVELS_MHZ = (40.0, 250.0, 1000.0)
N_EVENTS = 12
#: signal pixels: at least this many true p.e. (the peak search of LocalPeakWindowSum
#: biases fainter pixels upwards at high NSB, independently of the calibration)
MIN_TRUE_PE = 10


def _images(geometry, rng, n_events):
    """Elliptical Gaussian p.e. images (a few hundred p.e.) at random camera positions."""
    x, y = geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m)
    for _ in range(n_events):
        cx, cy = rng.uniform(-0.15, 0.15, 2)
        psi = rng.uniform(0, np.pi)
        dx, dy = x - cx, y - cy
        along = dx * np.cos(psi) + dy * np.sin(psi)
        across = -dx * np.sin(psi) + dy * np.cos(psi)
        density = np.exp(-0.5 * ((along / 0.06) ** 2 + (across / 0.025) ** 2))
        yield rng.poisson(600 * density / density.sum() * 1.0).astype(np.int64)


def simulate_and_calibrate(
    nsb_mhz: float, correction: str, seed: int = 1, min_true_pe: int = MIN_TRUE_PE
):
    """Ratios (reconstructed / true) of the intensity of signal pixels, and the calibrator."""
    rng = np.random.default_rng(seed)
    subarray = sst1m_subarray()
    camera = subarray.tel[TEL_ID].camera
    response = CameraResponse(
        camera.readout,
        camera.geometry.n_pixels,
        nsb_condition="moon",
        nsb_rate_moon_mhz=nsb_mhz,
    )
    config = Config(SST1M_DL1_DEFAULTS)
    config.R0R1Calibrator.dc_to_pe = response.gain_adc_per_pe * (1 + response.cross_talk)
    config.R0R1Calibrator.dark_baseline_adc = response.baseline_adc
    config.R0R1Calibrator.voltage_drop_scale_mhz = response.voltage_drop_scale_mhz
    config.R0R1Calibrator.voltage_drop_correction = correction
    r0r1 = R0R1Calibrator(subarray, config=config)
    calibrate = CameraCalibrator(subarray, config=config)
    monitor = PedestalMonitor(subarray, min_events=3)

    rates = response.pixel_nsb_rates_mhz(rng)
    shift = (
        (rates * 1e-3 * (1 + response.cross_talk) * PULSE_AREA_NS)
        * response.gain_adc_per_pe
        * response.gain_factor
    )
    stored_baseline = response.baseline_adc + shift

    n_pix = camera.geometry.n_pixels
    ratios = []
    for i, true_pe in enumerate(_images(camera.geometry, rng, N_EVENTS)):
        is_pedestal = i % 3 == 0
        if is_pedestal:
            true_pe = np.zeros(n_pix, dtype=np.int64)
        times = np.full(n_pix, response.signal_time_ns)
        r0 = response.r0_waveforms(rng, true_pe, times, np.full(n_pix, 1.0), rates)
        event = ArrayEventContainer()
        event.index.event_id = i
        event.trigger.event_type = EventType.SKY_PEDESTAL if is_pedestal else EventType.SUBARRAY
        event.r0.tel[TEL_ID] = DigiCamR0CameraContainer(
            waveform=r0[np.newaxis], baseline=np.round(stored_baseline * 16) / 16
        )
        r0r1(event)
        monitor.fill(event)
        calibrate(event)
        monitor.update(event)
        if not is_pedestal:
            signal = true_pe >= min_true_pe
            image = event.dl1.tel[TEL_ID].image
            ratios.append(image[signal].sum() / true_pe[signal].sum())
    return np.array(ratios), r0r1, monitor, response


def test_voltage_drop_model_matches_simulator():
    """g = 1 - dB / (f_s A D) inverts the simulator's gain loss exactly."""
    for rate in (0.0, 40.0, 250.0, 1000.0):
        response = CameraResponse(
            sst1m_subarray().tel[TEL_ID].camera.readout,
            1296,
            nsb_condition="moon",
            nsb_rate_moon_mhz=rate,
            dark_count_rate_mhz=0.0,
        )
        g = gain_factor_from_baseline_shift(
            response.baseline_shift_adc,
            response.gain_adc_per_pe * (1 + response.cross_talk),
            PULSE_AREA_NS,
            response.voltage_drop_scale_mhz,
        )
        assert g == pytest.approx(response.gain_factor, rel=1e-9)
        assert nsb_rate_from_gain_factor(g, 2000.0) == pytest.approx(rate, abs=1e-6)


@pytest.fixture(scope="module")
def recovery():
    """Median intensity ratio per NSB level, with and without the correction."""
    return {
        (nsb, correction): simulate_and_calibrate(nsb, correction)
        for nsb in NSB_LEVELS_MHZ
        for correction in ("none", "global")
    }


def test_intensity_recovered_at_moderate_nsb(recovery):
    """Median reconstructed / true intensity within 5 % at dark and moderate NSB."""
    for nsb in NSB_LEVELS_MHZ[:2]:
        ratios, *_ = recovery[(nsb, "global")]
        assert np.median(ratios) == pytest.approx(1.0, abs=0.05), nsb


def test_voltage_drop_correction_removes_high_nsb_bias(recovery):
    """Uncorrected, the intensity falls with the gain at high NSB; corrected, it stays."""
    uncorrected = {nsb: np.median(recovery[(nsb, "none")][0]) for nsb in NSB_LEVELS_MHZ}
    corrected = {nsb: np.median(recovery[(nsb, "global")][0]) for nsb in NSB_LEVELS_MHZ}
    high = NSB_LEVELS_MHZ[-1]
    _, r0r1, _, response = recovery[(high, "global")]
    assert uncorrected[high] < 0.8  # the 1 GHz gain loss is 1/3
    assert uncorrected[high] / corrected[high] == pytest.approx(response.gain_factor, rel=0.03)
    assert r0r1.gain_factor[TEL_ID] == pytest.approx(response.gain_factor, rel=0.01)
    for nsb in NSB_LEVELS_MHZ:
        assert corrected[nsb] == pytest.approx(1.0, abs=0.05), nsb


def test_pedestal_monitor_follows_nsb(recovery):
    """Pedestal std (p.e.) grows with the NSB and reaches the event's monitoring."""
    stds = []
    for nsb in NSB_LEVELS_MHZ:
        _, _, monitor, _ = recovery[(nsb, "global")]
        window, kind = monitor.current(TEL_ID)
        assert kind == "pedestal"
        stds.append(np.nanmedian(window.statistics()[2]))
        table = monitor.to_tables()[TEL_ID]
        assert {"time_start", "mean", "median", "std", "n_events"} <= set(table.colnames)
    assert stds[0] < stds[1] < stds[2]


if __name__ == "__main__":  # the numbers quoted in docs/calibration.rst
    for min_pe in (3, MIN_TRUE_PE):
        for nsb in NSB_LEVELS_MHZ:
            for correction in ("none", "global", "pixel"):
                ratios, r0r1, _, response = simulate_and_calibrate(
                    nsb, correction, min_true_pe=min_pe
                )
                print(
                    f">= {min_pe} p.e., NSB {nsb:6.0f} MHz, {correction:6s}:"
                    f" median ratio {np.median(ratios):.3f}, true g {response.gain_factor:.3f},"
                    f" estimated g {r0r1.gain_factor[TEL_ID]:.3f}"
                )
