"""DigiCam pulse template and the numba kernels that synthesise waveforms from p.e.

The pulse template is a gamma-function shape fitted to the DigiCam reference pulse
(peak 28 ns after the pulse start, FWHM about 14 ns, area 15.96 ns for unit height). The
kernels add one pulse per p.e. (tabulated template at every sample phase), draw every
random number from raw random bits and digitise (`synthesise_r0`). Used by
`iactpipe.simulation.camera.CameraResponse` (which re-exports these names) and the NSB
bank (`iactpipe.simulation.nsb_bank`).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import ndtri

__all__ = [
    "NORMAL_16BIT",
    "PULSE_AREA_NS",
    "PULSE_SHAPE_K",
    "PULSE_TABLE",
    "PULSE_TABLE_F32",
    "PULSE_TAU_NS",
    "PulseSettings",
    "TABLE_START_NS",
    "TABLE_STEP_NS",
    "add_pixel_pulses",
    "add_pulses",
    "phase_table",
    "pulse_buffer",
    "pulse_template",
    "synthesise_r0",
]

#: gamma-function template p(x) = x^k exp(k (1 - x)), x = (t - t_peak + tau) / tau
PULSE_TAU_NS = 27.43
PULSE_SHAPE_K = 18.73
#: area of the unit-height template (ns): tau e^k Gamma(k + 1) / k^(k + 1)
PULSE_AREA_NS = PULSE_TAU_NS * math.exp(
    PULSE_SHAPE_K + math.lgamma(PULSE_SHAPE_K + 1) - (PULSE_SHAPE_K + 1) * math.log(PULSE_SHAPE_K)
)


@njit(cache=True)
def _pulse(dt_ns: float) -> float:
    x = (dt_ns + PULSE_TAU_NS) / PULSE_TAU_NS
    if x <= 0.0:
        return 0.0
    return np.exp(PULSE_SHAPE_K * (np.log(x) + 1.0 - x))


def pulse_template(dt_ns: np.ndarray) -> np.ndarray:
    """Parametrised DigiCam pulse (unit height) at ``dt_ns`` from its peak."""
    return np.array([_pulse(float(t)) for t in np.ravel(dt_ns)]).reshape(np.shape(dt_ns))


#: tabulated template for fast waveform synthesis: -30 ns to +45 ns from the peak
TABLE_START_NS = -30.0
TABLE_STEP_NS = 0.02
PULSE_TABLE = pulse_template(np.arange(TABLE_START_NS, 45.0, TABLE_STEP_NS))


@njit(cache=True)
def add_pulses(waveform, pixel, time_ns, amplitude, sample_ns, table):
    """Add one unit-height pulse per p.e. (``pixel``, peak ``time_ns``) times ``amplitude``.

    ``table`` is `PULSE_TABLE` (the template tabulated every `TABLE_STEP_NS`).
    """
    n_samples = waveform.shape[1]
    n_table = table.shape[0]
    for i in range(pixel.shape[0]):
        first = max(0, int((time_ns[i] + TABLE_START_NS) / sample_ns) + 1)
        last = min(n_samples, int((time_ns[i] + 45.0) / sample_ns) + 1)
        for k in range(first, last):
            j = int((k * sample_ns - time_ns[i] - TABLE_START_NS) / TABLE_STEP_NS + 0.5)
            if 0 <= j < n_table:
                waveform[pixel[i], k] += amplitude[i] * table[j]


PULSE_TABLE_F32 = PULSE_TABLE.astype(np.float32)


@njit(cache=True)
def _add_pulse(waveform, time_ns, amplitude, sample_ns, table):
    n_samples = waveform.shape[0]
    first = max(0, int((time_ns + TABLE_START_NS) / sample_ns) + 1)
    last = min(n_samples, int((time_ns + 45.0) / sample_ns) + 1)
    for k in range(first, last):
        j = int((k * sample_ns - time_ns - TABLE_START_NS) / TABLE_STEP_NS + 0.5)
        if 0 <= j < table.shape[0]:
            waveform[k] += np.float32(amplitude) * table[j]


def phase_table(sample_ns: float, table: np.ndarray = PULSE_TABLE) -> np.ndarray:
    """The pulse template at every sample offset, for adding a pulse without arithmetic
    on indices: row ``p`` (a pulse whose start ``t - 30 ns`` lies ``p`` table steps before
    a sample boundary) holds the template at that sample and the following ones, float32,
    zero-padded; shape (steps per sample + 1, samples spanned by the template + 1)."""
    per_sample = int(round(sample_ns / TABLE_STEP_NS))
    n_cols = int(np.ceil(len(table) / per_sample)) + 1
    out = np.zeros((per_sample + 1, n_cols), dtype=np.float32)
    for p in range(per_sample + 1):
        j = p + per_sample * np.arange(n_cols)
        ok = j < len(table)
        out[p, ok] = table[j[ok]]
    return out


@njit(cache=True)
def _add_pulse_phased(wf, time_ns, amplitude, sample_ns, phases):
    """Add ``amplitude`` times the template peaking at ``time_ns`` (see `phase_table`)."""
    q = (time_ns + TABLE_START_NS) / sample_ns
    k0 = int(np.floor(q)) + 1
    p = int((k0 - q) * (phases.shape[0] - 1) + 0.5)
    n = wf.shape[0]
    amp = np.float32(amplitude)
    for i in range(phases.shape[1]):
        k = k0 + i
        if k >= n:
            break
        if k >= 0:
            wf[k] += amp * phases[p, i]


@njit(cache=True, inline="always")
def _add_pulse_padded(ext, pad, time_ns, amplitude, sample_ns, phases):
    """`_add_pulse_phased` into ``ext``, the waveform with ``pad`` samples before it and
    at least ``phases.shape[1]`` after it (no bounds to check: the loop vectorises).
    Inlined by numba (see `add_pixel_pulses`)."""
    q = (time_ns + TABLE_START_NS) / sample_ns
    k0 = int(np.floor(q)) + 1
    p = int((k0 - q) * (phases.shape[0] - 1) + 0.5)
    start = k0 + pad
    if start < 0 or start + phases.shape[1] > ext.shape[0]:
        _add_pulse_phased(
            ext[pad : ext.shape[0] - phases.shape[1]], time_ns, amplitude, sample_ns, phases
        )
        return
    amp = np.float32(amplitude)
    row = phases[p]
    for i in range(row.shape[0]):
        ext[start + i] += amp * row[i]


def _normal_quantiles() -> np.ndarray:
    q = ndtri((np.arange(65536) + 0.5) / 65536)
    return (q / np.sqrt(np.mean(q**2))).astype(np.float32)


#: standard normal variates from 16 random bits: the 65536 mid-point quantiles of the
#: normal distribution, scaled to unit variance (the tails stop at 4.2 sigma: about two
#: of a camera's 64 800 noise samples would lie further out)
NORMAL_16BIT = _normal_quantiles()


@njit(cache=True)
def _poisson_16bit(bits, cdf):
    """Poisson variate from 16 random bits by inversion (``cdf``: its cumulative
    probabilities)."""
    u = (bits + 0.5) / 65536.0
    k = 0
    while k < cdf.shape[0] - 1 and u > cdf[k]:
        k += 1
    return k


class PulseSettings(NamedTuple):
    """What `synthesise_r0` and `synthesise_r0_bank` need to add a pixel's pulses
    (`add_pixel_pulses`): one argument instead of nine (numba takes the named tuple)."""

    #: transit-time spread per p.e. (ns)
    tts_ns: float
    #: the NSB window [start, stop) in ns from the first sample
    nsb_start_ns: float
    nsb_stop_ns: float
    #: cumulative probabilities of 0, 1, ... cross-talk p.e. (Poisson)
    cross_talk_cdf: np.ndarray
    #: relative single-p.e. amplitude spread
    single_pe_spread: float
    #: pulse height of one p.e. (ADC)
    gain: float
    sample_ns: float
    #: `phase_table` of ``sample_ns``
    phases: np.ndarray
    #: `NORMAL_16BIT`
    normal: np.ndarray


@njit(cache=True)
def pulse_buffer(pulse, n_samples):
    """A zeroed float32 waveform with room for whole pulses around it: (``ext``, ``pad``),
    the waveform being ``ext[pad : pad + n_samples]`` (pulses starting from
    ``pulse.nsb_start_ns`` on and up to a template length after the last sample fit)."""
    pad = int(-(pulse.nsb_start_ns + TABLE_START_NS) / pulse.sample_ns) + 2
    return np.zeros(pad + n_samples + pulse.phases.shape[1], dtype=np.float32), pad


@njit(cache=True, inline="always")
def add_pixel_pulses(ext, pad, raw, w, n_pe, n_nsb, mean_time_ns, time_spread_ns, pulse):
    """One pixel's pulses added to its padded waveform ``ext`` (`pulse_buffer`): ``n_pe``
    signal p.e. (Gaussian times around ``mean_time_ns``, spread ``time_spread_ns`` and
    the transit-time spread), then ``n_nsb`` NSB p.e. uniform in the NSB window, each
    with 1 + Poisson cross-talk p.e. and the single-p.e. spread (`PulseSettings`); one
    ``raw`` word per p.e. from index ``w`` on (the layout of `synthesise_r0`). Returns
    the index of the next unused word.

    Inlined into its callers by numba (``inline="always"``, as `_add_pulse_padded`):
    called once per pixel with pulses, a separate function took and released a
    reference to each of its arrays and views (atomic operations of numba's runtime,
    measured in ``perf``: 45 % of `nsb_bank.synthesise_r0_bank`'s time in the cache);
    inlined, numba prunes them. The same operations, the same values."""
    sigma = np.sqrt(time_spread_ns**2 + pulse.tts_ns**2)
    window = pulse.nsb_stop_ns - pulse.nsb_start_ns
    normal, cdf, spread = pulse.normal, pulse.cross_talk_cdf, pulse.single_pe_spread
    for _ in range(n_pe):
        r = raw[w]
        w += 1
        t = mean_time_ns + sigma * normal[r & 0xFFFF]
        n_xt = _poisson_16bit((r >> 16) & 0xFFFF, cdf)
        amp = (1 + n_xt) * (1 + spread * normal[(r >> 32) & 0xFFFF])
        _add_pulse_padded(ext, pad, t, amp * pulse.gain, pulse.sample_ns, pulse.phases)
    for _ in range(n_nsb):
        r = raw[w]
        w += 1
        t = pulse.nsb_start_ns + window * ((r >> 32) + 0.5) / 4294967296.0
        n_xt = _poisson_16bit(r & 0xFFFF, cdf)
        amp = (1 + n_xt) * (1 + spread * normal[(r >> 16) & 0xFFFF])
        _add_pulse_padded(ext, pad, t, amp * pulse.gain, pulse.sample_ns, pulse.phases)
    return w


@njit(cache=True)
def digitise_pixel(out, p, wf, raw, baseline, noise, normal, adc_max):
    """Pixel ``p``'s float waveform ``wf`` into ``out[p]``: baseline, Gaussian electronic
    noise from the 16-bit words of ``raw`` (four samples per word, from the start),
    rounding and saturation at 0 and ``adc_max``."""
    n_samples = wf.shape[0]
    for k in range(n_samples):
        i = p * n_samples + k
        bits = (raw[i // 4] >> (16 * (i % 4))) & 0xFFFF
        v = np.round(wf[k] + baseline + noise * normal[bits])
        out[p, k] = min(max(v, 0.0), adc_max)


@njit(cache=True)
def synthesise_r0(
    raw, n_pe, n_nsb, mean_time_ns, time_spread_ns, pulse, baseline, noise, adc_max, out
):
    """R0 waveforms (in place, ``out`` uint16 (n_pixels, n_samples)), pixel by pixel in
    float32: ``n_pe`` signal p.e. (Gaussian times around ``mean_time_ns`` with the pixel's
    spread ``time_spread_ns`` and the transit-time spread), ``n_nsb`` NSB + dark-count
    p.e. uniform in the NSB window, each p.e. with 1 + Poisson cross-talk p.e. and a
    Gaussian single-p.e. amplitude spread (`add_pixel_pulses` with ``pulse``, a
    `PulseSettings`), the baseline, Gaussian electronic noise of ``noise`` ADC per
    sample, rounding and saturation at ``adc_max``.

    Every random number comes from ``raw`` (uint64 random bits, consumed in order: the
    noise, four samples per word, then one word per p.e.): normal variates are
    ``pulse.normal[16 bits]`` (`NORMAL_16BIT`), uniform times use 32 bits.
    """
    n_pix, n_samples = out.shape
    ext, pad = pulse_buffer(pulse, n_samples)
    wf = ext[pad : pad + n_samples]
    w = (n_pix * n_samples + 3) // 4  # the noise words come first
    for p in range(n_pix):
        ext[:] = 0.0
        w = add_pixel_pulses(
            ext, pad, raw, w, n_pe[p], n_nsb[p], mean_time_ns[p], time_spread_ns[p], pulse
        )
        digitise_pixel(out, p, wf, raw, baseline, noise, pulse.normal, adc_max)
