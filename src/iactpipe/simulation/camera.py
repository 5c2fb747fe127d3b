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
The NSB p.e. are drawn pulse by pulse (``nsb_method = "pulses"``) or taken from a
pre-computed noise bank plus the pulses of each pixel's rate above the bank's
(``"bank"``, `iactpipe.simulation.nsb_bank`); the pulse kernels are in
`iactpipe.simulation.pulses`.
"""

import astropy.units as u
import numpy as np
from ctapipe.core import Component, ToolConfigurationError
from ctapipe.core.traits import CaselessStrEnum, Float, Int, List
from ctapipe.image.extractor import integration_correction
from ctapipe.instrument import CameraReadout
from numba import njit
from scipy.stats import poisson
from traitlets import All, observe

from .nsb_bank import (
    CAMERA_PARAMS,
    NsbBank,
    bank_windows,
    excess_counts_and_words,
    make_nsb_bank,
    synthesise_camera_bank,
    synthesise_r0_bank,
)
from .pulses import (  # re-exported: the pulse template and kernels lived here
    NORMAL_16BIT,
    PULSE_AREA_NS,
    PULSE_SHAPE_K,
    PULSE_TABLE,
    PULSE_TABLE_F32,
    PULSE_TAU_NS,
    TABLE_START_NS,
    TABLE_STEP_NS,
    PulseSettings,
    add_pulses,
    phase_table,
    pulse_template,
    synthesise_r0,
)

__all__ = [
    "PULSE_AREA_NS",
    "PULSE_SHAPE_K",
    "PULSE_TABLE",
    "PULSE_TABLE_F32",
    "PULSE_TAU_NS",
    "TABLE_START_NS",
    "TABLE_STEP_NS",
    "CameraResponse",
    "NORMAL_16BIT",
    "NsbBank",
    "PulseSettings",
    "add_pulses",
    "bank_windows",
    "phase_table",
    "pulse_template",
    "synthesise_r0",
    "synthesise_r0_bank",
]


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
            "camera share samples or pulses), with the electronic noise of every sample "
            "in the bank too, and adds only the pixel's rate above its group's as pulses "
            "(exact per pixel; samples and their noise recur in later events)"
        ),
    ).tag(config=True)
    nsb_bank_samples = Int(
        4096,
        min=64,
        help=(
            "NSB bank samples per pixel (memory: n_pixels x this x 2 bytes per bank, "
            "10.6 MB for 1296 pixels; a camera reads 70 per pixel, so a bank sample recurs "
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
        self._banks: list[tuple[bytes, tuple, NsbBank]] = []
        # the per-camera constants of `r0_waveforms`, made on first use (about 30 trait
        # reads and a few arrays per camera otherwise), dropped when a trait changes
        self._constants: dict = {}
        stride = self.n_samples + self._phases.shape[1]
        if self.nsb_method == "bank" and self.nsb_bank_samples < stride:
            # a setting of the user: one ERROR line and exit 2 at set-up, nothing written
            raise ToolConfigurationError(
                f"CameraResponse.nsb_bank_samples = {self.nsb_bank_samples}: must be at least"
                f" the window and the pulse length ({stride} samples)"
            )

    @observe(All)
    def _drop_constants(self, change) -> None:
        """Any trait change: `_synthesis_constants` are made again on next use (a class
        handler, so it survives pickling, unlike one registered on the instance)."""
        if "_constants" in self.__dict__:
            self._constants.clear()

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
        times = np.asarray(mean_time_ns, dtype=np.float64)
        spreads = np.asarray(time_spread_ns, dtype=np.float64)
        const = self._synthesis_constants()
        if const["bank"]:
            bank = self.nsb_bank(rates)
            n_nsb = np.empty(self.n_pixels, dtype=np.int64)
            # as `NsbBank.excess_counts` (one uniform number per pixel), with the p.e. count
            n_words = excess_counts_and_words(
                rng.random(self.n_pixels), *bank.poisson_tables(const["window_us"]), n_pe, n_nsb
            )
            # one word per p.e., then one per pixel: the windows of the bank (which holds
            # the electronic noise)
            raw = rng.bit_generator.random_raw(n_words + self.n_pixels)
            synthesise_camera_bank(
                raw, n_pe, n_nsb, times, spreads, const["params"], self._cross_talk_cdf,
                self._phases, NORMAL_16BIT, bank.waveforms, bank.group_start, bank.order, out,
            )  # fmt: skip
        else:
            pulse = const["pulse"]
            n_nsb = rng.poisson(rates * 1e-3 * (pulse.nsb_stop_ns - pulse.nsb_start_ns))
            n_words = int(n_pe.sum()) + int(n_nsb.sum())
            # the noise words first (four samples per word), then one word per p.e.
            raw = rng.bit_generator.random_raw((out.size + 3) // 4 + n_words)
            synthesise_r0(
                raw, n_pe, n_nsb, times, spreads, pulse, self.baseline_adc,
                self.electronic_noise_adc, self.adc_max, out,
            )  # fmt: skip
        if const["dead_pixels"]:
            # overwritten after drawing, so the random streams of live pixels are unchanged
            out[const["dead_pixels"]] = const["dead_value"]
        return out

    def _synthesis_constants(self) -> dict:
        """What `r0_waveforms` needs besides the event (cached until a trait changes):
        the `PulseSettings`, the float64 ``params`` of `synthesise_camera_bank`
        (`CAMERA_PARAMS`), the NSB window (µs), whether the bank is used, the settings
        that identify a bank (`nsb_bank`) and the dead pixels with their value."""
        if self._constants:
            return self._constants
        start, stop = -60.0, self.n_samples * self.sample_ns + 20.0
        gain = self.gain_adc_per_pe * self.gain_factor
        pulse = PulseSettings(
            self.transit_time_spread_ns, start, stop, self._cross_talk_cdf,
            self.single_pe_spread, gain, self.sample_ns, self._phases, NORMAL_16BIT,
        )  # fmt: skip
        values = {
            "tts_ns": pulse.tts_ns,
            "nsb_start_ns": start,
            "nsb_stop_ns": stop,
            "single_pe_spread": pulse.single_pe_spread,
            "gain": gain,
            "sample_ns": self.sample_ns,
            "baseline": self.baseline_adc,
            "adc_max": self.adc_max,
            "row_samples": self.nsb_bank_samples,
            "stride": self.n_samples + self._phases.shape[1],
        }
        self._constants.update(
            bank_settings=(
                self.nsb_bank_samples,
                self.nsb_bank_groups,
                self.nsb_bank_seed,
                gain,
                self.cross_talk,
                self.single_pe_spread,
                self.electronic_noise_adc,
            ),
            dead_pixels=list(self.dead_pixels),
            dead_value=round(self.baseline_adc + self.baseline_shift_adc),
            pulse=pulse,
            params=np.array([values[name] for name in CAMERA_PARAMS], dtype=np.float64),
            window_us=1e-3 * (stop - start),
            bank=self.nsb_method == "bank",
        )
        return self._constants

    def nsb_bank(self, nsb_rates_mhz: np.ndarray) -> NsbBank:
        """The NSB bank of these pixel rates (MHz), with the electronic noise, made on
        first use and kept (the last four made; about 0.1 s each, 4 bytes x n_pixels x
        ``nsb_bank_samples``)."""
        rates = np.ascontiguousarray(nsb_rates_mhz, dtype=np.float64)
        settings = self._synthesis_constants()["bank_settings"]
        gain = settings[3]
        # the rates compared as bytes (one memcmp; ``np.array_equal`` cost 5-15 us per
        # camera in a production); the same floats, NaN aside, which no rate is
        key = rates.tobytes()
        for known, known_settings, bank in self._banks:
            if known_settings == settings and known == key:
                return bank
        bank = make_nsb_bank(
            rates,
            self.nsb_bank_groups,
            self.nsb_bank_samples,
            self.nsb_bank_seed,
            gain,
            self.electronic_noise_adc,
            self._cross_talk_cdf,
            self.single_pe_spread,
            self.sample_ns,
            self._phases,
        )
        self._banks = [*self._banks[-3:], (key, settings, bank)]
        return bank

    def pixel_baselines_adc(self, nsb_rates_mhz: np.ndarray) -> np.ndarray:
        """Baseline per pixel (ADC) with the DC shift of its NSB rate: what DigiCam stores."""
        rate_ghz = np.asarray(nsb_rates_mhz, dtype=np.float64) * 1e-3
        gain = self.gain_adc_per_pe * self.gain_factor
        return self.baseline_adc + rate_ghz * (1 + self.cross_talk) * PULSE_AREA_NS * gain

    def r1_from_r0(self, r0: np.ndarray, nsb_rates_mhz: np.ndarray) -> np.ndarray:
        """Ideal R0 -> R1 calibration (true baseline with NSB shift, gain, voltage drop)."""
        out = np.empty(r0.shape, dtype=np.float32)
        gain = self._synthesis_constants()["bank_settings"][3]
        # the baselines of `pixel_baselines_adc` computed in the kernel (the same float64
        # operations: one call instead of five numpy operations per camera)
        _calibrate_rates(
            r0,
            np.asarray(nsb_rates_mhz, dtype=np.float64),
            self.baseline_adc,
            1 + self.cross_talk,
            gain,
            self.r1_scale,
            out,
        )
        return out


@njit(cache=True)
def _calibrate_rates(r0, rates_mhz, baseline_adc, one_plus_cross_talk, gain, scale, out):
    """``((r0 - baseline[:, None]) / gain * scale).astype(float32)`` in one pass, with the
    baselines of `CameraResponse.pixel_baselines_adc` made from the pixel rates (MHz)
    here: the same float64 operations in the same order, the same values."""
    for p in range(r0.shape[0]):
        shift = rates_mhz[p] * 1e-3 * one_plus_cross_talk * PULSE_AREA_NS * gain
        baseline = baseline_adc + shift
        for k in range(r0.shape[1]):
            out[p, k] = (r0[p, k] - baseline) / gain * scale
