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

import math

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Int, List
from ctapipe.image.extractor import integration_correction
from ctapipe.instrument import CameraReadout
from numba import njit

__all__ = [
    "PULSE_AREA_NS",
    "PULSE_SHAPE_K",
    "PULSE_TAU_NS",
    "CameraResponse",
    "add_pulses",
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


@njit(cache=True)
def synthesise_r0(
    rng,
    n_pe,
    mean_time_ns,
    time_spread_ns,
    nsb_rates_mhz,
    tts_ns,
    nsb_start_ns,
    nsb_stop_ns,
    cross_talk,
    single_pe_spread,
    gain,
    baseline,
    noise,
    sample_ns,
    table,
    adc_max,
    out,
):
    """R0 waveforms (in place, ``out`` uint16 (n_pixels, n_samples)), pixel by pixel in
    float32: the signal p.e. (Gaussian times around ``mean_time_ns`` with the pixel's
    spread and the transit-time spread), Poisson NSB + dark-count p.e. uniform in
    [``nsb_start_ns``, ``nsb_stop_ns``), each p.e. with 1 + Poisson(``cross_talk``)
    cross-talk p.e. and a Gaussian single-p.e. amplitude spread, the baseline, Gaussian
    electronic noise per sample, rounding and 12-bit saturation. Draws from ``rng`` (a
    numpy ``Generator``) only; the same distributions as drawing them with numpy."""
    n_pix, n_samples = out.shape
    wf = np.empty(n_samples, dtype=np.float32)
    window = nsb_stop_ns - nsb_start_ns
    for p in range(n_pix):
        wf[:] = 0.0
        sigma = np.sqrt(time_spread_ns[p] ** 2 + tts_ns**2)
        for _ in range(n_pe[p]):
            t = mean_time_ns[p] + sigma * rng.standard_normal()
            amp = (1 + rng.poisson(cross_talk)) * (1 + single_pe_spread * rng.standard_normal())
            _add_pulse(wf, t, amp * gain, sample_ns, table)
        for _ in range(rng.poisson(nsb_rates_mhz[p] * 1e-3 * window)):
            t = nsb_start_ns + window * rng.random()
            amp = (1 + rng.poisson(cross_talk)) * (1 + single_pe_spread * rng.standard_normal())
            _add_pulse(wf, t, amp * gain, sample_ns, table)
        for k in range(n_samples):
            v = np.round(wf[k] + baseline + noise * rng.standard_normal())
            out[p, k] = min(max(v, 0.0), adc_max)


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
        """R0 waveforms (n_pixels, n_samples), uint16 ADC, for integer p.e. per pixel."""
        out = np.empty((self.n_pixels, self.n_samples), dtype=np.uint16)
        synthesise_r0(
            rng,
            np.asarray(n_pe, dtype=np.int64),
            np.asarray(mean_time_ns, dtype=np.float64),
            np.asarray(time_spread_ns, dtype=np.float64),
            np.asarray(nsb_rates_mhz, dtype=np.float64),
            self.transit_time_spread_ns,
            -60.0,
            self.n_samples * self.sample_ns + 20.0,
            self.cross_talk,
            self.single_pe_spread,
            self.gain_adc_per_pe * self.gain_factor,
            self.baseline_adc,
            self.electronic_noise_adc,
            self.sample_ns,
            PULSE_TABLE_F32,
            self.adc_max,
            out,
        )
        if self.dead_pixels:
            # overwritten after drawing, so the random streams of live pixels are unchanged
            out[self.dead_pixels] = round(self.baseline_adc + self.baseline_shift_adc)
        return out

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
