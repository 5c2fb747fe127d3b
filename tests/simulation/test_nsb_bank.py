"""The NSB noise bank (``CameraResponse.nsb_method = "bank"``) against the exact pulse
synthesis (``"pulses"``) and Campbell's theorem, on pure-noise waveforms with the
pixel-to-pixel rate spread of a production (so excess pulses are exercised)."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from iactpipe.instrument import sst1m_subarray
from iactpipe.simulation.camera import (
    PULSE_AREA_NS,
    PULSE_TABLE,
    TABLE_STEP_NS,
    CameraResponse,
    bank_windows,
)

N_PIX = 1296


@pytest.fixture(scope="module")
def readout():
    return sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.readout


@pytest.fixture(scope="module")
def noise(readout):
    """Pure-noise R0 (8 cameras) of both methods for the same pixel rates."""
    rates = CameraResponse(readout, N_PIX).pixel_nsb_rates_mhz(np.random.default_rng(7))
    zeros = np.zeros(N_PIX)
    out = {}
    for method in ("bank", "pulses"):
        camera = CameraResponse(readout, N_PIX, nsb_method=method)
        rng = np.random.default_rng(8)
        out[method] = np.stack(
            [camera.r0_waveforms(rng, np.zeros(N_PIX, int), zeros, zeros, rates) for _ in range(8)]
        ).astype(float)
    return camera, rates, out


def test_bank_noise_mean_and_variance_per_pixel(noise):
    """Campbell per pixel: mean = baseline + rate (1 + x) A g and variance = rate E[a^2]
    int p^2 dt + noise^2 + 1/12, also for the pixels far from their group's bank rate."""
    camera, rates, out = noise
    g = camera.gain_adc_per_pe * camera.gain_factor
    x, s = camera.cross_talk, camera.single_pe_spread
    mean = camera.baseline_adc + rates * 1e-3 * (1 + x) * PULSE_AREA_NS * g
    var = (
        (rates * 1e-3 * g**2 * (1 + 3 * x + x**2) * (1 + s**2) * np.sum(PULSE_TABLE**2))
        * TABLE_STEP_NS
        + camera.electronic_noise_adc**2
        + 1 / 12
    )
    waveforms = out["bank"][..., 5:45]
    residual = waveforms - mean[:, np.newaxis]
    # 414 720 samples, correlated over about 4: the mean to about 0.1 ADC, variance 1 %
    assert residual.mean() == pytest.approx(0.0, abs=0.15)
    assert residual.var() == pytest.approx(var.mean(), rel=0.03)
    # (ignoring the excess pulses would shift the mean by -0.3 ADC)
    # the highest-rate 10 % (the largest excess over their group's bank rate: up to
    # 9 MHz, 3 ADC) and the lowest-rate 10 %: their means follow their own rates (each
    # known to about 0.16 ADC: 1040 waveforms of about 10 independent samples)
    order = np.argsort(rates)
    for pixels in (order[:130], order[-130:]):
        assert residual[:, pixels].mean() == pytest.approx(0.0, abs=0.4)
    high, low = order[-130:], order[:130]
    measured = waveforms[:, high].mean() - waveforms[:, low].mean()
    assert measured == pytest.approx(mean[high].mean() - mean[low].mean(), abs=0.7)


def test_bank_noise_distribution_equals_pulses(noise):
    """Sample distribution (KS of one sample per pixel: pixels are independent), its
    quantiles and the autocorrelation within a waveform equal the pulse method's."""
    _, _, out = noise
    bank, pulses = out["bank"], out["pulses"]
    for k in (0, 25, 49):
        assert ks_2samp(bank[..., k].ravel(), pulses[..., k].ravel()).pvalue > 0.01
    q = [1, 10, 50, 90, 99]
    np.testing.assert_allclose(
        np.percentile(bank[..., 5:45], q), np.percentile(pulses[..., 5:45], q), atol=1.0
    )

    def autocorrelation(w):
        c = w[..., 5:45] - w[..., 5:45].mean(axis=-1, keepdims=True)
        return [np.mean(c[..., :-lag] * c[..., lag:]) / np.mean(c**2) for lag in (1, 3, 6)]

    np.testing.assert_allclose(autocorrelation(bank), autocorrelation(pulses), atol=0.02)
    # pixels of one camera are uncorrelated (no shared samples or pulses)
    c = bank[..., 25] - bank[..., 25].mean(axis=0)
    assert abs(np.corrcoef(c[:, :-1].ravel(), c[:, 1:].ravel())[0, 1]) < 0.05


def test_bank_windows_disjoint_within_camera(noise):
    """Every pixel reads its own window of its group's stream; windows of one camera are
    at least a pulse length apart, so no two pixels share a sample or a pulse."""
    camera, rates, _ = noise
    bank = camera.nsb_bank(rates)
    length = camera.nsb_bank_samples
    index_bank = np.arange(N_PIX * length, dtype=np.float32)  # sample index as value
    stride = camera.n_samples + camera._phases.shape[1]
    pulse_samples = int(np.ceil(len(PULSE_TABLE) * TABLE_STEP_NS / camera.sample_ns))
    assert stride - camera.n_samples >= pulse_samples
    group_of = np.empty(N_PIX, int)
    for g in range(len(bank.group_start) - 1):
        group_of[bank.order[bank.group_start[g] : bank.group_start[g + 1]]] = g
    rng = np.random.default_rng(9)
    for _ in range(20):
        nsb = np.empty((N_PIX, camera.n_samples), np.float32)
        raw = rng.bit_generator.random_raw(N_PIX)
        bank_windows(raw, index_bank, bank.group_start, bank.order, length, stride, nsb)
        first = nsb[:, 0].astype(np.int64)
        assert np.all(nsb - nsb[:, :1] == np.arange(camera.n_samples))
        assert np.all(np.diff(np.sort(first)) >= stride)
        np.testing.assert_array_equal(first // length // 81, group_of)  # 16 groups of 81


def test_bank_same_seed_same_output(readout):
    """The bank depends only on the rates and settings: two cameras, same streams, same
    waveforms; another seed of the event stream gives other waveforms."""
    rates = np.linspace(35.0, 50.0, N_PIX)
    zeros = np.zeros(N_PIX)
    n_pe = np.full(N_PIX, 3)

    def r0(seed):
        camera = CameraResponse(readout, N_PIX)
        return camera.r0_waveforms(np.random.default_rng(seed), n_pe, zeros + 80, zeros, rates)

    np.testing.assert_array_equal(r0(1), r0(1))
    assert not np.array_equal(r0(1), r0(2))


def test_excess_counts_are_poisson_per_pixel(noise):
    """The excess p.e. have each pixel's Poisson mean and variance, and there are none
    for the pixels at their group's bank rate."""
    camera, rates, _ = noise
    bank = camera.nsb_bank(rates)
    rng = np.random.default_rng(10)
    draws = np.array([bank.excess_counts(rng, 0.28) for _ in range(300)])
    mean = 0.28 * bank.excess_mhz
    assert np.all(draws[:, bank.excess_mhz == 0] == 0)
    busy = 300 * mean > 50
    pulls = (draws[:, busy].sum(axis=0) - 300 * mean[busy]) / np.sqrt(300 * mean[busy])
    assert abs(pulls.mean()) < 0.3 and 0.7 < pulls.std() < 1.3
    # Poisson: variance = mean, over the pixels with a mean above 1
    big = mean > 1
    assert draws[:, big].var(axis=0).mean() == pytest.approx(mean[big].mean(), rel=0.1)
