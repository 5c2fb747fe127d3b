"""NSB from a pre-computed noise bank: the numba kernels and the bank itself.

A camera's NSB costs about 15 000 pulses per event at 40 MHz over 1296 pixels and 280 ns.
The bank holds NSB waveforms made once (per vector of pixel rates) with the same pulse
synthesis, plus the electronic noise of every sample (Gaussian); each event then copies
a window of it per pixel and adds as pulses only its signal and what the pixel's rate
exceeds the bank's (a sum of independent Poisson processes is the Poisson process of
the summed rate, so each pixel's noise has exactly its own rate's distribution). The
windows of one camera are disjoint and a pulse length apart, so its pixels share no
sample, pulse or noise value; across events bank samples recur (on average every
``samples_per_pixel / 70`` cameras). Drawing the electronic noise per sample and event
(64 800 random numbers per camera) cost more than the rest of the synthesis. Selected by
`iactpipe.simulation.camera.CameraResponse.nsb_method`.
"""

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .prefetch import prefetch, prefetch_write
from .pulses import (
    NORMAL_16BIT,
    TABLE_START_NS,
    PulseSettings,
    _add_pulse_padded,
    _poisson_16bit,
    add_pixel_pulses,
    pulse_buffer,
)

__all__ = [
    "BANK_STEPS_PER_ADC",
    "NsbBank",
    "bank_offsets",
    "bank_windows",
    "digitise_plain",
    "excess_counts_and_words",
    "synthesise_camera_bank",
    "make_nsb_bank",
    "synthesise_nsb_bank",
    "synthesise_r0_bank",
]

_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)

#: bank samples are int16 in steps of 1 / this ADC (range +-2048 ADC; the rounding adds
#: 0.0003 ADC^2 to the 2.25 ADC^2 of the electronic noise): half the bytes of float32, and
#: reading the bank from memory is most of a camera's waveform time
BANK_STEPS_PER_ADC = 16
_BANK_STEP_ADC = np.float32(1.0 / BANK_STEPS_PER_ADC)


@njit(cache=True)
def synthesise_nsb_bank(
    raw, time_ns, cross_talk_cdf, single_pe_spread, gain, sample_ns, phases, normal, out
):
    """One NSB-only stream (in place, ``out`` float32, ADC above the baseline, no
    baseline, electronic noise or rounding): one pulse per p.e. at ``time_ns`` (ns from
    the first sample; sorted, so the pulses are added in memory order), each with 1 +
    Poisson cross-talk p.e. and the single-p.e. spread drawn from one ``raw`` word as for
    the NSB p.e. of `synthesise_r0`. ``time_ns`` must lie within the window's
    `phase_table` padding (from ``TABLE_START_NS`` - 40 ns before the first sample to
    20 ns after the last)."""
    n_samples = out.shape[0]
    pad = int(-(time_ns[0] + TABLE_START_NS) / sample_ns) + 2 if len(time_ns) else 0
    pad = max(pad, 0)
    ext = np.zeros(pad + n_samples + phases.shape[1], dtype=np.float32)
    if _fits_250mhz(time_ns, sample_ns, phases, pad, ext.shape[0]):
        _add_pulses_250mhz(
            raw, time_ns, cross_talk_cdf, single_pe_spread, gain, sample_ns, phases, normal,
            ext, pad,
        )  # fmt: skip
    else:
        for i in range(time_ns.shape[0]):
            r = raw[i]
            n_xt = _poisson_16bit(r & 0xFFFF, cross_talk_cdf)
            amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 16) & 0xFFFF])
            _add_pulse_padded(ext, pad, time_ns[i], amp * gain, sample_ns, phases)
    out[:] = ext[pad : pad + n_samples]


#: samples of a `phase_table` row at 4 ns sampling (SST-1M's 250 MHz)
_WIDTH_250MHZ = 20


@njit(cache=True)
def _first_sample(time_ns, sample_ns):
    """The first sample a pulse at ``time_ns`` reaches (as in `_add_pulse_padded`)."""
    return int(np.floor((time_ns + TABLE_START_NS) / sample_ns)) + 1


@njit(cache=True)
def _fits_250mhz(time_ns, sample_ns, phases, pad, n_ext):
    """True when the phase table is `_WIDTH_250MHZ` wide and every pulse of the sorted
    ``time_ns`` lies within the padded buffer (the first and last one tell)."""
    if phases.shape[1] != _WIDTH_250MHZ or time_ns.shape[0] == 0:
        return False
    first = _first_sample(time_ns[0], sample_ns) + pad
    last = _first_sample(time_ns[-1], sample_ns) + pad
    return first >= 0 and last + _WIDTH_250MHZ <= n_ext


@njit(cache=True)
def _add_pulses_250mhz(
    raw, time_ns, cross_talk_cdf, single_pe_spread, gain, sample_ns, phases, normal, ext, pad
):  # fmt: skip
    """The pulse loop of `synthesise_nsb_bank` for a phase table `_WIDTH_250MHZ` wide,
    all pulses within ``ext`` (`_fits_250mhz`): the same products and sums in the same
    order as `_add_pulse_padded`, but without its bounds test and with a literal trip
    count that LLVM unrolls (about 40 % less time than 33 ns per pulse)."""
    n_phases = phases.shape[0] - 1
    for i in range(time_ns.shape[0]):
        r = raw[i]
        n_xt = _poisson_16bit(r & 0xFFFF, cross_talk_cdf)
        amp = (1 + n_xt) * (1 + single_pe_spread * normal[(r >> 16) & 0xFFFF])
        q = (time_ns[i] + TABLE_START_NS) / sample_ns
        k0 = int(np.floor(q)) + 1
        p = int((k0 - q) * n_phases + 0.5)
        start = k0 + pad
        a = np.float32(amp * gain)
        window = ext[start : start + _WIDTH_250MHZ]
        row = phases[p]
        for j in range(_WIDTH_250MHZ):
            window[j] = window[j] + a * row[j]


@njit(cache=True)
def bank_offsets(raw, group_start, order, row_samples, stride, offsets, visit):
    """Each pixel's first bank sample (in place, ``offsets`` int64 per pixel) and the
    pixels in the memory order of their windows (in place, ``visit``), from one ``raw``
    word per pixel.

    Group ``g`` (pixels ``order[group_start[g]:group_start[g + 1]]``) owns the bank
    samples ``group_start[g] * row_samples`` to ``group_start[g + 1] * row_samples - 1``,
    one stationary stream; its pixels take consecutive windows ``stride`` samples apart
    (``stride`` - n_samples >= the pulse length: no pulse reaches two windows, so the
    pixels' noise is independent) from a uniform random start (high 32 bits of the
    group's first word), shuffled among them (Fisher-Yates, low 32 bits). Reading the
    windows in ``visit`` order keeps the memory access sequential (in pixel order, each
    window would be a cache miss: 4 times slower).
    """
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
            pixel = order[perm[k]]
            offsets[pixel] = start + k * stride
            visit[first + k] = pixel


@njit(cache=True)
def bank_windows(raw, bank, group_start, order, row_samples, stride, nsb):
    """Each pixel's window of the bank (in place, ``nsb`` (n_pixels, n_samples), in the
    bank's units), at the offsets of `bank_offsets` drawn from ``raw`` (one word per
    pixel): what `synthesise_r0_bank` reads."""
    n_pixels, n_samples = nsb.shape
    offsets = np.empty(n_pixels, dtype=np.int64)
    visit = np.empty(n_pixels, dtype=np.int64)
    bank_offsets(raw, group_start, order, row_samples, stride, offsets, visit)
    for p in visit:
        for i in range(n_samples):
            nsb[p, i] = bank[offsets[p] + i]


@njit(cache=True, inline="always")
def digitise_plain(out, p, wf, baseline, adc_max):
    """Pixel ``p``'s float waveform ``wf`` (electronic noise included) into ``out[p]``:
    baseline, rounding half to even (as ``np.round``) and saturation at 0 and
    ``adc_max``; no random numbers, so the loop vectorises.

    Saturated before rounding: the bounds are integers, which rounding keeps, and
    rounding is monotonic, so the values are those of rounding first; in this order
    (and with comparisons instead of ``min``/``max``) LLVM vectorises the loop, about
    three times faster. Inlined by numba (see `add_pixel_pulses`: its row of ``out``
    would otherwise cost two atomic reference counts per call)."""
    top = float(adc_max)
    row = out[p]
    for k in range(wf.shape[0]):
        v = wf[k] + baseline
        v = v if v > 0.0 else 0.0
        v = v if v < top else top
        row[k] = np.rint(v)


@njit(cache=True, inline="always")
def _digitise_bank_window(out, p, bank, at, baseline, adc_max):
    """`digitise_plain` of the bank window from ``at`` (a pixel without pulses) read
    straight from the bank: the same float32 samples (``bank * _BANK_STEP_ADC``) and the
    same float64 sums, without the copy into a waveform buffer (the two loops in one
    vectorised pass, about a third of their time). Inlined by numba (see
    `add_pixel_pulses`)."""
    top = float(adc_max)
    row = out[p]
    window = bank[at : at + row.shape[0]]
    for k in range(row.shape[0]):
        v = np.float64(window[k] * _BANK_STEP_ADC) + baseline
        v = v if v > 0.0 else 0.0
        v = v if v < top else top
        row[k] = np.rint(v)


@njit(cache=True)
def _prefetch_camera(raw, n_pe, n_nsb, pulse, bank, offsets, visit, out):
    """Ask for everything of the bank and the pulse tables that a camera will read, in
    one pass before `synthesise_r0_bank` reads any of it: the lines of every pixel's
    bank window (in memory order: every 32nd sample and the last one reach all its
    lines), the `NORMAL_16BIT` entries its p.e. words will read (signal p.e.: the
    16-bit fields 0 and 2, NSB p.e.: field 1, as `add_pixel_pulses` reads them), the
    phase table and, for writing, the lines of ``out``. In a production these are out of
    the cache (the rendering runs between two cameras): issued together, the loads
    overlap instead of waiting one after the other (measured in a 2000-gamma production,
    cameras alternating between kernels: the pass instead of 8 pixels ahead 20-25 % less
    time per camera, the lines of ``out`` 5-8 % less again). A prefetch changes no
    value."""
    n_samples = out.shape[1]
    for i in range(visit.shape[0]):
        at = offsets[visit[i]]
        for k in range(0, n_samples, 32):  # 32 int16 per 64-byte line
            prefetch(bank, at + k)
        prefetch(bank, at + n_samples - 1)
    normal = pulse.normal
    w = 0
    for p in range(n_pe.shape[0]):
        for _ in range(n_pe[p]):
            r = raw[w]
            w += 1
            prefetch(normal, r & 0xFFFF)
            prefetch(normal, (r >> 32) & 0xFFFF)
        for _ in range(n_nsb[p]):
            prefetch(normal, (raw[w] >> 16) & 0xFFFF)
            w += 1
    phases = pulse.phases.ravel()
    for i in range(0, phases.shape[0], 16):  # 16 float32 per 64-byte line
        prefetch(phases, i)
    # a new array: its lines would otherwise be read from memory at the first store
    for p in range(out.shape[0]):
        row = out[p]
        for k in range(0, n_samples, 32):  # 32 uint16 per line
            prefetch_write(row, k)
        prefetch_write(row, n_samples - 1)


@njit(cache=True)
def synthesise_r0_bank(
    raw, n_pe, n_nsb, mean_time_ns, time_spread_ns, pulse, baseline, adc_max, bank, offsets,
    visit, out,
):  # fmt: skip
    """R0 waveforms (in place, ``out`` uint16 (n_pixels, n_samples)) from the noise bank:
    pixel ``p`` starts from the bank samples at ``offsets[p]`` (NSB at its group's rate
    and electronic noise, see `bank_offsets`), to which its ``n_pe`` signal p.e. and
    ``n_nsb`` excess NSB p.e. are added as pulses as in `synthesise_r0`
    (`add_pixel_pulses` with ``pulse``, a `PulseSettings`; one ``raw`` word per p.e., in
    pixel order from the start of ``raw``), then the baseline, rounding and saturation
    (`digitise_plain`; pixels without pulses: `_digitise_bank_window`). Pixels are made
    in ``visit`` order (their windows' memory order)."""
    n_pix, n_samples = out.shape
    # each pixel's first raw word: its p.e. in pixel order
    first_word = np.empty(n_pix, dtype=np.int64)
    w = 0
    for p in range(n_pix):
        first_word[p] = w
        w += n_pe[p] + n_nsb[p]
    _prefetch_camera(raw, n_pe, n_nsb, pulse, bank, offsets, visit, out)
    ext, pad = pulse_buffer(pulse, n_samples)
    wf = ext[pad : pad + n_samples]
    for i in range(n_pix):
        p = visit[i]
        at = offsets[p]
        if n_pe[p] + n_nsb[p] == 0:
            _digitise_bank_window(out, p, bank, at, baseline, adc_max)
            continue
        for k in range(n_samples):
            wf[k] = bank[at + k] * _BANK_STEP_ADC
        add_pixel_pulses(
            ext, pad, raw, first_word[p], n_pe[p], n_nsb[p], mean_time_ns[p],
            time_spread_ns[p], pulse,
        )  # fmt: skip
        digitise_plain(out, p, wf, baseline, adc_max)
        # the padding collected the pulses' edges: clear it for the next pixel
        ext[:pad] = 0.0
        ext[pad + n_samples :] = 0.0


#: the scalars of `synthesise_camera_bank`, in this order in its ``params`` array
CAMERA_PARAMS = (
    "tts_ns",
    "nsb_start_ns",
    "nsb_stop_ns",
    "single_pe_spread",
    "gain",
    "sample_ns",
    "baseline",
    "adc_max",
    "row_samples",
    "stride",
)


@njit(cache=True)
def synthesise_camera_bank(
    raw, n_pe, n_nsb, mean_time_ns, time_spread_ns, params, cross_talk_cdf, phases, normal,
    bank, group_start, order, out,
):  # fmt: skip
    """`bank_offsets` then `synthesise_r0_bank` in one call (in place, ``out``): the
    offsets from the ``n_pixels`` words after the p.e. words of ``raw``; ``params``: the
    float64 scalars named in `CAMERA_PARAMS` (the `PulseSettings` scalars, the baseline,
    ``adc_max``, the bank's samples per pixel and the window stride; the integers are
    exact in float64).

    The same values as the two kernels called one after the other: one call less per
    camera and flat arguments (a named tuple costs numba's dispatcher more to type than
    arrays). In a production the dispatch runs with the interpreter's and numba's data
    out of the cache (the rendering runs between two cameras), about 15 us per call.
    """
    n_pix = out.shape[0]
    pulse = PulseSettings(
        params[0], params[1], params[2], cross_talk_cdf, params[3], params[4], params[5],
        phases, normal,
    )  # fmt: skip
    n_words = raw.shape[0] - n_pix
    offsets = np.empty(n_pix, dtype=np.int64)
    visit = np.empty(n_pix, dtype=np.int64)
    bank_offsets(raw[n_words:], group_start, order, int(params[8]), int(params[9]), offsets, visit)
    synthesise_r0_bank(
        raw, n_pe, n_nsb, mean_time_ns, time_spread_ns, pulse, params[6], int(params[7]),
        bank, offsets, visit, out,
    )  # fmt: skip


@njit(cache=True)
def excess_counts_and_words(uniform, mean, zero_prob, n_pe, out):
    """`_poisson_inversion` of ``uniform`` (in place, ``out``: the excess NSB p.e. per
    pixel) and the number of p.e. words of a camera: ``n_pe.sum() + out.sum()``."""
    _poisson_inversion(uniform, mean, zero_prob, out)
    n_words = 0
    for i in range(out.shape[0]):
        n_words += n_pe[i] + out[i]
    return n_words


@dataclass(frozen=True)
class NsbBank:
    """A pre-computed bank of NSB waveforms (with electronic noise) for one vector of
    pixel rates.

    Pixels sorted by rate (``order``) form groups (pixels ``order[group_start[g]:
    group_start[g + 1]]``); each group has a stationary NSB stream at the group's lowest
    rate (see `bank_offsets`), and ``excess_mhz`` is each pixel's rate above its group's (added
    as individual pulses; the sum of independent Poisson processes is the Poisson process
    of the summed rate, so every pixel's noise has exactly its own rate's distribution).
    """

    #: NSB waveforms with electronic noise, int16 in steps of 1 / `BANK_STEPS_PER_ADC`
    #: ADC above the baseline: n_pixels x ``nsb_bank_samples`` samples, group ``g``'s
    #: stream from ``group_start[g] * nsb_bank_samples`` on
    waveforms: np.ndarray
    #: pixel ids sorted by rate: bank row ``i`` belongs to the group of pixel ``order[i]``
    order: np.ndarray
    #: first bank row of each group, and the number of rows at the end
    group_start: np.ndarray
    #: per pixel, its rate minus its group's bank rate (MHz, >= 0)
    excess_mhz: np.ndarray
    #: per window (µs): the excess means and their exp(-mean), computed on first use (a
    #: production uses one window: 1296 exponentials less per camera)
    _poisson_tables: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def poisson_tables(self, window_us: float) -> tuple[np.ndarray, np.ndarray]:
        """The excess p.e. means per pixel in ``window_us`` (µs) and their exp(-mean)."""
        tables = self._poisson_tables.get(window_us)
        if tables is None:
            mean = self.excess_mhz * window_us
            zero = np.empty_like(mean)
            _exp_minus(mean, zero)
            tables = self._poisson_tables[window_us] = (mean, zero)
        return tables

    def excess_counts(self, rng: np.random.Generator, window_us: float) -> np.ndarray:
        """Poisson numbers of excess p.e. per pixel in ``window_us`` (µs) (by inversion of
        the Poisson distribution, one uniform number per pixel)."""
        counts = np.empty(len(self.excess_mhz), dtype=np.int64)
        _poisson_inversion(rng.random(len(counts)), *self.poisson_tables(window_us), counts)
        return counts


@njit(cache=True)
def _exp_minus(x, out):
    """``exp(-x)`` (in place, ``out``) with the scalar exp of the kernels (the same values
    as inside `_poisson_inversion` before it took them as an argument)."""
    for i in range(x.shape[0]):
        out[i] = np.exp(-x[i])


@njit(cache=True)
def _poisson_inversion(uniform, mean, zero_prob, out):
    """Poisson variates (in place, ``out``) of ``mean`` (``zero_prob``: its exp(-mean))
    from ``uniform`` numbers: the smallest k whose cumulative probability reaches the
    uniform number (the small means of the excess p.e. need one or two steps)."""
    for i in range(mean.shape[0]):
        p = zero_prob[i]
        cumulative = p
        k = 0
        while uniform[i] > cumulative and p > 0.0:
            k += 1
            p *= mean[i] / k
            cumulative += p
        out[i] = k


def _poisson_times(
    rng: np.random.Generator, rate_per_ns: float, start_ns: float, stop_ns: float
) -> np.ndarray:
    """The sorted times of a Poisson process of ``rate_per_ns`` in [``start_ns``,
    ``stop_ns``): cumulated exponential gaps."""
    if rate_per_ns <= 0:
        return np.empty(0)
    expected = rate_per_ns * (stop_ns - start_ns)
    times = start_ns + np.cumsum(
        rng.exponential(1 / rate_per_ns, int(expected + 10 * expected**0.5 + 10))
    )
    while times[-1] < stop_ns:  # not reached within 10 sigma: continue the process
        more = times[-1] + np.cumsum(rng.exponential(1 / rate_per_ns, len(times)))
        times = np.concatenate([times, more])
    return times[: np.searchsorted(times, stop_ns)]


def make_nsb_bank(
    rates_mhz: np.ndarray,
    n_groups: int,
    samples_per_pixel: int,
    seed: int,
    gain_adc: float,
    noise_adc: float,
    cross_talk_cdf: np.ndarray,
    single_pe_spread: float,
    sample_ns: float,
    phases: np.ndarray,
) -> NsbBank:
    """The NSB bank of the pixel rates ``rates_mhz`` (MHz, dark counts included).

    Pixels sorted by rate form ``n_groups`` groups; each group's stream
    (``samples_per_pixel`` per pixel of the group) is made with the pulse synthesis of
    `synthesise_r0` (pulse height ``gain_adc`` ADC per p.e., cross-talk ``cross_talk_cdf``,
    single-p.e. spread) at the group's lowest rate, plus Gaussian electronic noise of
    ``noise_adc`` (ADC) per sample, from a random stream seeded with ``seed`` and a hash of
    the rates (telescopes with other rates get independent banks).
    """
    rates = np.ascontiguousarray(rates_mhz, dtype=np.float64)
    n_pixels = len(rates)
    order = np.argsort(rates, kind="stable")
    n_groups = min(n_groups, n_pixels)
    group_start = (np.arange(n_groups + 1) * n_pixels) // n_groups
    sorted_rates = rates[order]
    row_rate = np.repeat(sorted_rates[group_start[:-1]], np.diff(group_start))
    excess = np.empty_like(rates)
    excess[order] = sorted_rates - row_rate
    digest = hashlib.blake2b(rates.tobytes(), digest_size=8).digest()
    rng = np.random.default_rng([seed, int.from_bytes(digest, "little")])
    waveforms = np.empty(n_pixels * samples_per_pixel, dtype=np.float32)
    for g in range(n_groups):
        # one stationary stream per group: its pixels' shares end to end
        stream = waveforms[
            group_start[g] * samples_per_pixel : group_start[g + 1] * samples_per_pixel
        ]
        # the NSB window of `CameraResponse.r0_waveforms` stretched over the stream (from
        # 60 ns before to 20 ns after it); a Poisson process in time order (memory order)
        start, stop = -60.0, len(stream) * sample_ns + 20.0
        times = _poisson_times(rng, row_rate[group_start[g]] * 1e-3, start, stop)
        n_nsb = len(times)
        synthesise_nsb_bank(
            rng.bit_generator.random_raw(n_nsb),
            times,
            cross_talk_cdf,
            single_pe_spread,
            gain_adc,
            sample_ns,
            phases,
            NORMAL_16BIT,
            stream,
        )
    # the noise after all streams, so the NSB samples do not depend on the noise setting
    bits = rng.bit_generator.random_raw((len(waveforms) + 3) // 4).view(np.uint16)
    bank = np.empty(len(waveforms), dtype=np.int16)
    _quantise_with_noise(waveforms, bits, noise_adc, NORMAL_16BIT, bank)
    return NsbBank(bank, order, group_start, excess)


@njit(cache=True)
def _quantise_with_noise(waveforms, bits, noise, normal, out):
    """``waveforms`` plus Gaussian noise of ``noise`` (ADC; ``normal[bits[i]]``, as the
    electronic noise of `synthesise_r0`) in int16 steps of 1 / `BANK_STEPS_PER_ADC` ADC
    (in place, ``out``), rounded half to even and saturated."""
    for i in range(waveforms.shape[0]):
        v = np.rint((waveforms[i] + noise * normal[bits[i]]) * BANK_STEPS_PER_ADC)
        out[i] = min(max(v, -32768.0), 32767.0)
