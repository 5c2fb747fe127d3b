"""DigiCam response: photo-electrons to R0 (ADC) and R1 (p.e.-calibrated) waveforms.

The pulse template is a gamma-function shape fitted to the DigiCam reference pulse
(peak 28 ns after the pulse start, FWHM about 14 ns, area 15.96 ns for unit height);
SiPM effects are Poisson photo-electrons, optical cross-talk (Poisson, mean ``cross_talk``
extra p.e. per p.e.), single-p.e. gain spread, night-sky background and dark counts as
random p.e. in time, electronic noise per sample, a DC-coupled baseline that shifts with
the NSB rate, the NSB-induced voltage drop (gain loss ``1 / (1 + rate / scale)``,
after Nagai et al. / Heller et al., SST-1M DigiCam, and digicampipe), and 12-bit
saturation. R1 is R0 calibrated with the true baseline, gain and voltage drop, scaled so
that ctapipe's ``LocalPeakWindowSum`` with integration correction returns the charge in
p.e. (cross-talk included in the calibration, as with the measured ``dc_to_pe``).
"""

import hashlib
import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Int, List
from ctapipe.image.extractor import integration_correction
from ctapipe.instrument import CameraReadout
from numba import njit
from scipy.special import ndtri
from scipy.stats import poisson

__all__ = [
    "PULSE_AREA_NS",
    "PULSE_SHAPE_K",
    "PULSE_TAU_NS",
    "CameraResponse",
    "NORMAL_16BIT",
    "NsbBank",
    "add_pulses",
    "bank_windows",
    "phase_table",
    "pulse_template",
    "synthesise_nsb_bank",
    "synthesise_r0",
    "synthesise_r0_bank",
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


@njit(cache=True)
def _add_pulse_padded(ext, pad, time_ns, amplitude, sample_ns, phases):
    """`_add_pulse_phased` into ``ext``, the waveform with ``pad`` samples before it and
    at least ``phases.shape[1]`` after it (no bounds to check: the loop vectorises)."""
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


@njit(cache=True)
def synthesise_r0(
    raw,
    n_pe,
    n_nsb,
    mean_time_ns,
    time_spread_ns,
    tts_ns,
    nsb_start_ns,
    nsb_stop_ns,
    cross_talk_cdf,
    single_pe_spread,
    gain,
    baseline,
    noise,
    sample_ns,
    phases,
    normal,
    adc_max,
    out,
):
    """R0 waveforms (in place, ``out`` uint16 (n_pixels, n_samples)), pixel by pixel in
    float32: ``n_pe`` signal p.e. (Gaussian times around ``mean_time_ns`` with the pixel's
    spread and the transit-time spread), ``n_nsb`` NSB + dark-count p.e. uniform in
    [``nsb_start_ns``, ``nsb_stop_ns``), each p.e. with 1 + Poisson cross-talk p.e.
    (``cross_talk_cdf``) and a Gaussian single-p.e. amplitude spread, the baseline,
    Gaussian electronic noise per sample, rounding and 12-bit saturation.

    Every random number comes from ``raw`` (uint64 random bits, consumed in order: the
    noise, four samples per word, then one word per p.e.): normal variates are
    ``normal[16 bits]`` (`NORMAL_16BIT`), uniform times use 32 bits. ``phases`` is
    `phase_table` (the template at every sample offset).
    """
    n_pix, n_samples = out.shape
    pad = int(-(nsb_start_ns + TABLE_START_NS) / sample_ns) + 2
    ext = np.empty(pad + n_samples + phases.shape[1], dtype=np.float32)
    wf = ext[pad : pad + n_samples]
    window = nsb_stop_ns - nsb_start_ns
    n_noise_words = (n_pix * n_samples + 3) // 4
    w = n_noise_words
    for p in range(n_pix):
        ext[:] = 0.0
        sigma = np.sqrt(time_spread_ns[p] ** 2 + tts_ns**2)
        for _ in range(n_pe[p]):
            r = raw[w]
            w += 1
            t = mean_time_ns[p] + sigma * normal[r & 0xFFFF]
            n_xt = _poisson_16bit((r >> 16) & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 32) & 0xFFFF])
            _add_pulse_padded(ext, pad, t, amp * gain, sample_ns, phases)
        for _ in range(n_nsb[p]):
            r = raw[w]
            w += 1
            t = nsb_start_ns + window * ((r >> 32) + 0.5) / 4294967296.0
            n_xt = _poisson_16bit(r & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 16) & 0xFFFF])
            _add_pulse_padded(ext, pad, t, amp * gain, sample_ns, phases)
        for k in range(n_samples):
            i = p * n_samples + k
            bits = (raw[i // 4] >> (16 * (i % 4))) & 0xFFFF
            v = np.round(wf[k] + baseline + noise * normal[bits])
            out[p, k] = min(max(v, 0.0), adc_max)


_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@njit(cache=True)
def synthesise_nsb_bank(
    raw,
    n_nsb,
    nsb_start_ns,
    nsb_stop_ns,
    cross_talk_cdf,
    single_pe_spread,
    gain,
    sample_ns,
    phases,
    normal,
    out,
):
    """NSB-only waveforms (in place, ``out`` float32 (n_slots, n_bank_samples), ADC above the
    baseline): slot ``s`` holds ``n_nsb[s]`` p.e. uniform in [``nsb_start_ns``,
    ``nsb_stop_ns``), each with 1 + Poisson cross-talk p.e. and the single-p.e. spread,
    exactly as the NSB p.e. of `synthesise_r0` (one ``raw`` word per p.e., used the same
    way); no baseline, no electronic noise, no rounding."""
    n_slots, n_samples = out.shape
    pad = int(-(nsb_start_ns + TABLE_START_NS) / sample_ns) + 2
    ext = np.empty(pad + n_samples + phases.shape[1], dtype=np.float32)
    window = nsb_stop_ns - nsb_start_ns
    w = 0
    for s in range(n_slots):
        ext[:] = 0.0
        for _ in range(n_nsb[s]):
            r = raw[w]
            w += 1
            t = nsb_start_ns + window * ((r >> 32) + 0.5) / 4294967296.0
            n_xt = _poisson_16bit(r & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 16) & 0xFFFF])
            _add_pulse_padded(ext, pad, t, amp * gain, sample_ns, phases)
        out[s] = ext[pad : pad + n_samples]


@njit(cache=True)
def bank_windows(raw, bank, group_start, order, row_samples, stride, nsb):
    """Each pixel's NSB window from the bank (in place, ``nsb`` float32 (n_pixels,
    n_samples)), from one ``raw`` word per pixel.

    Group ``g`` (pixels ``order[group_start[g]:group_start[g + 1]]``) owns the bank
    samples ``group_start[g] * row_samples`` to ``group_start[g + 1] * row_samples - 1``,
    one stationary NSB stream; its pixels take consecutive windows ``stride`` samples
    apart (``stride`` - n_samples >= the pulse length: no pulse reaches two windows, so
    the pixels' noise is independent) from a uniform random start (high 32 bits of the
    group's first word), shuffled among them (Fisher-Yates, low 32 bits). Reading a
    contiguous block per group keeps the memory access sequential.
    """
    n_samples = nsb.shape[1]
    for g in range(group_start.shape[0] - 1):
        first, stop = group_start[g], group_start[g + 1]
        n = stop - first
        n_starts = n * row_samples - n * stride + 1
        start = first * row_samples + int(
            ((raw[first] >> _SHIFT32) * np.uint64(n_starts)) >> _SHIFT32
        )
        perm = np.arange(first, stop)
        for i in range(n - 1, 0, -1):
            j = int(((raw[first + i] & _LOW32) * np.uint64(i + 1)) >> _SHIFT32)
            perm[i], perm[j] = perm[j], perm[i]
        for k in range(n):
            nsb[order[perm[k]]] = bank[start + k * stride : start + k * stride + n_samples]


@njit(cache=True)
def synthesise_r0_bank(
    raw,
    n_pe,
    n_nsb,
    mean_time_ns,
    time_spread_ns,
    tts_ns,
    nsb_start_ns,
    nsb_stop_ns,
    cross_talk_cdf,
    single_pe_spread,
    gain,
    baseline,
    noise,
    sample_ns,
    phases,
    normal,
    adc_max,
    nsb,
    out,
):
    """`synthesise_r0` with the NSB of pixel ``p`` starting from ``nsb[p]`` (its window
    of the noise bank, `bank_windows`), to which ``n_nsb[p]`` p.e. (the pixel's rate
    above the bank's) are added as pulses; ``raw`` is used as in `synthesise_r0`."""
    n_pix, n_samples = out.shape
    pad = int(-(nsb_start_ns + TABLE_START_NS) / sample_ns) + 2
    ext = np.empty(pad + n_samples + phases.shape[1], dtype=np.float32)
    wf = ext[pad : pad + n_samples]
    window = nsb_stop_ns - nsb_start_ns
    w = (n_pix * n_samples + 3) // 4
    for p in range(n_pix):
        ext[:] = 0.0
        wf[:] = nsb[p]
        sigma = np.sqrt(time_spread_ns[p] ** 2 + tts_ns**2)
        for _ in range(n_pe[p]):
            r = raw[w]
            w += 1
            t = mean_time_ns[p] + sigma * normal[r & 0xFFFF]
            n_xt = _poisson_16bit((r >> 16) & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 32) & 0xFFFF])
            _add_pulse_padded(ext, pad, t, amp * gain, sample_ns, phases)
        for _ in range(n_nsb[p]):
            r = raw[w]
            w += 1
            t = nsb_start_ns + window * ((r >> 32) + 0.5) / 4294967296.0
            n_xt = _poisson_16bit(r & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 16) & 0xFFFF])
            _add_pulse_padded(ext, pad, t, amp * gain, sample_ns, phases)
        for k in range(n_samples):
            i = p * n_samples + k
            bits = (raw[i // 4] >> (16 * (i % 4))) & 0xFFFF
            v = np.round(wf[k] + baseline + noise * normal[bits])
            out[p, k] = min(max(v, 0.0), adc_max)


@dataclass(frozen=True)
class NsbBank:
    """A pre-computed bank of NSB-only waveforms for one vector of pixel rates.

    Pixels sorted by rate (``order``) form groups (pixels ``order[group_start[g]:
    group_start[g + 1]]``); each group has a stationary NSB stream at the group's lowest
    rate (see `bank_windows`), and ``excess_mhz`` is each pixel's rate above its group's (added
    as individual pulses; the sum of independent Poisson processes is the Poisson process
    of the summed rate, so every pixel's noise has exactly its own rate's distribution).
    """

    #: NSB waveforms, float32 ADC above the baseline: n_pixels x ``nsb_bank_samples``
    #: samples, group ``g``'s stream from ``group_start[g] * nsb_bank_samples`` on
    waveforms: np.ndarray
    #: pixel ids sorted by rate: bank row ``i`` belongs to the group of pixel ``order[i]``
    order: np.ndarray
    #: first bank row of each group, and the number of rows at the end
    group_start: np.ndarray
    #: per pixel, its rate minus its group's bank rate (MHz, >= 0)
    excess_mhz: np.ndarray

    def excess_counts(self, rng: np.random.Generator, window_us: float) -> np.ndarray:
        """Poisson numbers of excess p.e. per pixel in ``window_us`` (µs), drawn as one
        Poisson total spread over the pixels in proportion to their excess rates (the
        same distribution as one Poisson draw per pixel, in fewer random numbers)."""
        cumulative = np.cumsum(self.excess_mhz)
        n = rng.poisson(cumulative[-1] * window_us)
        pixel = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        return np.bincount(np.minimum(pixel, len(cumulative) - 1), minlength=len(cumulative))


class CameraResponse(Component):
    """DigiCam camera: p.e. image and times to R0 and R1 waveforms."""

    nsb_condition = CaselessStrEnum(
        ["dark", "moon"], default_value="dark", help="Night-sky background level to use"
    ).tag(config=True)
    nsb_rate_dark_mhz = Float(40.0, min=0.0, help="NSB p.e. rate per pixel, dark sky (MHz)").tag(
        config=True
    )
    nsb_rate_moon_mhz = Float(
        250.0, min=0.0, help="NSB p.e. rate per pixel with moonlight (MHz)"
    ).tag(config=True)
    nsb_pixel_spread = Float(
        0.1, min=0.0, help="Relative pixel-to-pixel spread of the NSB rate"
    ).tag(config=True)
    dark_count_rate_mhz = Float(2.0, min=0.0, help="SiPM dark-count rate (MHz)").tag(config=True)
    cross_talk = Float(0.08, min=0.0, help="Mean optical cross-talk p.e. per p.e.").tag(config=True)
    single_pe_spread = Float(0.1, min=0.0, help="Relative spread of the single-p.e. amplitude").tag(
        config=True
    )
    transit_time_spread_ns = Float(0.5, min=0.0, help="Time jitter per p.e. (ns)").tag(config=True)
    electronic_noise_adc = Float(1.5, min=0.0, help="Electronic noise per sample (ADC)").tag(
        config=True
    )
    gain_adc_per_pe = Float(21.0, min=0.0, help="Pulse height of one p.e. (ADC), no NSB").tag(
        config=True
    )
    baseline_adc = Float(300.0, help="Baseline without NSB (ADC)").tag(config=True)
    adc_max = Int(4095, min=1, help="Saturation of the 12-bit ADC").tag(config=True)
    voltage_drop_scale_mhz = Float(
        2000.0, help="NSB rate at which the voltage drop halves the gain (MHz)"
    ).tag(config=True)
    signal_time_ns = Float(80.0, help="Arrival time of the image (light-weighted) (ns)").tag(
        config=True
    )
    signal_time_jitter_ns = Float(2.0, help="Trigger-time jitter of the image (ns)").tag(
        config=True
    )
    nsb_method = CaselessStrEnum(
        ["bank", "pulses"],
        default_value="bank",
        help=(
            "How the NSB of a camera is made: 'pulses' draws every NSB p.e. of every event "
            "as a pulse; 'bank' takes each pixel's NSB from a pre-computed bank of NSB-only "
            "waveforms (made once per vector of pixel rates with the same pulse synthesis: "
            "pixels in rate groups, each group a stream at its lowest rate, the group's "
            "pixels take disjoint windows at a random place, so no two pixels of one "
            "camera share samples or pulses) and adds only the pixel's rate above its "
            "group's as pulses (exact per pixel; samples recur in later events)"
        ),
    ).tag(config=True)
    nsb_bank_samples = Int(
        4096,
        min=64,
        help=(
            "NSB bank samples per pixel (memory: n_pixels x this x 4 bytes per bank, "
            "21 MB for 1296 pixels; a camera reads 70 per pixel, so a bank sample recurs "
            "on average every this / 70 cameras)"
        ),
    ).tag(config=True)
    nsb_bank_groups = Int(
        16,
        min=1,
        help=(
            "Rate groups of the NSB bank: pixels sorted by rate in this many groups, each "
            "with its bank rows at the group's lowest rate (more groups: fewer excess "
            "pulses, fewer rows to shuffle among)"
        ),
    ).tag(config=True)
    nsb_bank_seed = Int(
        19, help="Seed of the NSB bank (combined with a hash of the pixel rates)"
    ).tag(config=True)
    dead_pixels = List(
        Int(),
        default_value=[],
        help=(
            "Pixel ids of dead pixels (hardware fault): no signal, no NSB, no noise, a flat "
            "waveform at the NSB-shifted baseline. Default: none."
        ),
    ).tag(config=True)

    def __init__(self, readout: CameraReadout, n_pixels: int, **kwargs):
        super().__init__(**kwargs)
        self.n_pixels = n_pixels
        self.n_samples = readout.n_samples
        self.sample_ns = (1 / readout.sampling_rate).to_value(u.ns)
        self.r1_scale = self._r1_scale(readout)
        self._phases = phase_table(self.sample_ns)
        k = np.arange(16)
        self._cross_talk_cdf = np.cumsum(poisson.pmf(k, self.cross_talk))
        self._cross_talk_cdf[-1] = 1.0
        # NSB banks by pixel-rate vector: one per telescope in a production
        self._banks: list[tuple[np.ndarray, tuple, NsbBank]] = []

    @property
    def nsb_rate_mhz(self) -> float:
        """Mean NSB rate per pixel of the selected condition (MHz)."""
        return self.nsb_rate_dark_mhz if self.nsb_condition == "dark" else self.nsb_rate_moon_mhz

    @property
    def gain_factor(self) -> float:
        """Relative gain left after the NSB-induced voltage drop."""
        return 1.0 / (1.0 + self.nsb_rate_mhz / self.voltage_drop_scale_mhz)

    @property
    def baseline_shift_adc(self) -> float:
        """DC baseline shift caused by the NSB (ADC)."""
        rate_ghz = (self.nsb_rate_mhz + self.dark_count_rate_mhz) * 1e-3
        gain = self.gain_adc_per_pe * self.gain_factor
        return rate_ghz * (1 + self.cross_talk) * PULSE_AREA_NS * gain

    def _r1_scale(self, readout: CameraReadout) -> float:
        """R1 units per p.e. of pulse height so that the calibrated charge is p.e."""
        width, shift = 7, 3
        correction = integration_correction(
            readout.reference_pulse_shape,
            readout.reference_pulse_sample_width.to_value(u.ns),
            self.sample_ns,
            width,
            shift,
        )[0]
        sums = []
        for phase in np.linspace(0, self.sample_ns, 16, endpoint=False):
            w = pulse_template(np.arange(self.n_samples) * self.sample_ns - 80.0 - phase)
            peak = int(np.argmax(w))
            sums.append(w[peak - shift : peak - shift + width].sum())
        return 1.0 / (np.mean(sums) * correction * (1 + self.cross_talk))

    def pixel_nsb_rates_mhz(self, rng: np.random.Generator) -> np.ndarray:
        """Per-pixel NSB + dark-count rates (MHz)."""
        spread = 1 + self.nsb_pixel_spread * rng.standard_normal(self.n_pixels)
        return np.clip(self.nsb_rate_mhz * spread, 0, None) + self.dark_count_rate_mhz

    def r0_waveforms(
        self,
        rng: np.random.Generator,
        n_pe: np.ndarray,
        mean_time_ns: np.ndarray,
        time_spread_ns: np.ndarray,
        nsb_rates_mhz: np.ndarray,
    ) -> np.ndarray:
        """R0 waveforms (n_pixels, n_samples), uint16 ADC, for integer p.e. per pixel.

        The NSB of ``nsb_rates_mhz`` (MHz per pixel, dark counts included) is made as
        ``nsb_method`` says.
        """
        out = np.empty((self.n_pixels, self.n_samples), dtype=np.uint16)
        n_pe = np.asarray(n_pe, dtype=np.int64)
        rates = np.asarray(nsb_rates_mhz, dtype=np.float64)
        start, stop = -60.0, self.n_samples * self.sample_ns + 20.0
        if self.nsb_method == "bank":
            bank = self.nsb_bank(rates)
            n_nsb = bank.excess_counts(rng, 1e-3 * (stop - start))
        else:
            bank = None
            n_nsb = rng.poisson(rates * 1e-3 * (stop - start))
        n_words = (out.size + 3) // 4 + int(n_pe.sum()) + int(n_nsb.sum())
        common = (
            self.transit_time_spread_ns,
            start,
            stop,
            self._cross_talk_cdf,
            self.single_pe_spread,
            self.gain_adc_per_pe * self.gain_factor,
            self.baseline_adc,
            self.electronic_noise_adc,
            self.sample_ns,
            self._phases,
            NORMAL_16BIT,
            self.adc_max,
        )
        times = np.asarray(mean_time_ns, dtype=np.float64)
        spreads = np.asarray(time_spread_ns, dtype=np.float64)
        if bank is None:
            raw = rng.bit_generator.random_raw(n_words)
            synthesise_r0(raw, n_pe, n_nsb, times, spreads, *common, out)
        else:
            # one more word per pixel, at the end: the windows of the bank
            raw = rng.bit_generator.random_raw(n_words + self.n_pixels)
            nsb = np.empty(out.shape, dtype=np.float32)
            bank_windows(
                raw[n_words:],
                bank.waveforms,
                bank.group_start,
                bank.order,
                self.nsb_bank_samples,
                self.n_samples + self._phases.shape[1],
                nsb,
            )
            synthesise_r0_bank(raw, n_pe, n_nsb, times, spreads, *common, nsb, out)
        if self.dead_pixels:
            # overwritten after drawing, so the random streams of live pixels are unchanged
            out[self.dead_pixels] = round(self.baseline_adc + self.baseline_shift_adc)
        return out

    def nsb_bank(self, nsb_rates_mhz: np.ndarray) -> NsbBank:
        """The NSB bank of these pixel rates (MHz), made on first use and kept (the last
        four made; about 0.1 s each, 4 bytes x n_pixels x ``nsb_bank_samples``)."""
        rates = np.ascontiguousarray(nsb_rates_mhz, dtype=np.float64)
        gain = self.gain_adc_per_pe * self.gain_factor
        settings = (
            self.nsb_bank_samples,
            self.nsb_bank_groups,
            self.nsb_bank_seed,
            gain,
            self.cross_talk,
            self.single_pe_spread,
        )
        for known, known_settings, bank in self._banks:
            if known_settings == settings and np.array_equal(known, rates):
                return bank
        if self.nsb_bank_samples <= self.n_samples:
            raise ValueError(
                f"nsb_bank_samples ({self.nsb_bank_samples}) must exceed the waveform's "
                f"{self.n_samples} samples"
            )
        order = np.argsort(rates, kind="stable")
        n_groups = min(self.nsb_bank_groups, self.n_pixels)
        group_start = (np.arange(n_groups + 1) * self.n_pixels) // n_groups
        sorted_rates = rates[order]
        row_rate = np.repeat(sorted_rates[group_start[:-1]], np.diff(group_start))
        excess = np.empty_like(rates)
        excess[order] = sorted_rates - row_rate
        # a stream of its own, so the bank does not depend on what was simulated before
        digest = hashlib.blake2b(rates.tobytes(), digest_size=8).digest()
        rng = np.random.default_rng([self.nsb_bank_seed, int.from_bytes(digest, "little")])
        length = self.nsb_bank_samples
        waveforms = np.empty(self.n_pixels * length, dtype=np.float32)
        for g in range(n_groups):
            # one stationary stream per group: its pixels' rows end to end
            stream = waveforms[group_start[g] * length : group_start[g + 1] * length]
            start, stop = -60.0, len(stream) * self.sample_ns + 20.0
            n_nsb = rng.poisson(row_rate[group_start[g]] * 1e-3 * (stop - start), size=1)
            synthesise_nsb_bank(
                rng.bit_generator.random_raw(int(n_nsb[0])),
                n_nsb,
                start,
                stop,
                self._cross_talk_cdf,
                self.single_pe_spread,
                gain,
                self.sample_ns,
                self._phases,
                NORMAL_16BIT,
                stream.reshape(1, -1),
            )
        bank = NsbBank(waveforms, order, group_start, excess)
        self._banks = [*self._banks[-3:], (rates.copy(), settings, bank)]
        return bank

    def pixel_baselines_adc(self, nsb_rates_mhz: np.ndarray) -> np.ndarray:
        """Baseline per pixel (ADC) with the DC shift of its NSB rate: what DigiCam stores."""
        rate_ghz = np.asarray(nsb_rates_mhz, dtype=np.float64) * 1e-3
        gain = self.gain_adc_per_pe * self.gain_factor
        return self.baseline_adc + rate_ghz * (1 + self.cross_talk) * PULSE_AREA_NS * gain

    def r1_from_r0(self, r0: np.ndarray, nsb_rates_mhz: np.ndarray) -> np.ndarray:
        """Ideal R0 -> R1 calibration (true baseline with NSB shift, gain, voltage drop)."""
        rate_ghz = nsb_rates_mhz[:, np.newaxis] * 1e-3
        gain = self.gain_adc_per_pe * self.gain_factor
        baseline = self.baseline_adc + rate_ghz * (1 + self.cross_talk) * PULSE_AREA_NS * gain
        return ((r0 - baseline) / gain * self.r1_scale).astype(np.float32)
