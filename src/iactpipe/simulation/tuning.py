"""
Tuning MC to an observed night: the extra NSB rate that gives the MC the pedestal charge
spread of the data, and the optical-efficiency factor of a PDE-correction file.

The pedestal charge spread is compared as the pedestal monitor records it: per pixel the
standard deviation of the extracted charge (``LocalPeakWindowSum``) over a window of
pedestal events, then the median over pixels. Its dependence on the added NSB rate is
not linear (the peak search of the extractor), so it is computed: toy pedestal
waveforms of the simulator's camera model at the MC's NSB rate, modified by
`NSBWaveformModifier` at a grid of extra rates (the same random numbers at every rate,
so the curve is smooth), through the extractor. The extra rate is interpolated where
the curve meets the data's spread.

A pedestal spread that NSB alone does not explain (a larger electronic noise in the
data) shows in the shape of the pedestal charge distribution: NSB photo-electrons make
it skewed (a compound Poisson sum), Gaussian noise does not. `PedestalTuner` fits the
extra noise as a second parameter when the skewness of the data's pedestal charge
histogram is below that of the NSB-only solution by more than its statistics allow: for
each extra noise of a grid the extra rate that matches the spread, then the noise where
the toy's skewness meets the data's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Bool, Float, Int
from ctapipe.image.extractor import integration_correction
from ctapipe.instrument import CameraReadout
from scipy.stats import chi2

from ..calib.pixel_charges import histogram_skewness
from .camera import CameraResponse
from .nsb_modifier import modify_waveform

__all__ = [
    "PedestalModel",
    "PedestalTuner",
    "TuningResult",
    "local_peak_charges",
    "median_pixel_std",
    "pde_factor",
    "read_pde_corrections",
    "solve_extra_rate",
]

_NSB_IN_KEY = re.compile(r"NSB([0-9]+(?:\.[0-9]*)?)")


def local_peak_charges(r1: np.ndarray, width: int, shift: int, correction: float) -> np.ndarray:
    """``LocalPeakWindowSum`` charges of waveforms ``(..., n_pixels, n_samples)``."""
    n_samples = r1.shape[-1]
    peak = np.argmax(r1, axis=-1)[..., np.newaxis]
    index = np.arange(n_samples)
    window = (index >= peak - shift) & (index < peak - shift + width)
    return np.sum(np.where(window, r1, 0.0), axis=-1) * correction


def median_pixel_std(charges: np.ndarray, window: int = 100) -> float:
    """
    The pedestal monitor's spread estimate from toy ``charges`` (n_events, n_pixels):
    median over pixels of the per-pixel std (``ddof=0``) over a ``window`` of events.

    With ``n_events`` other than ``window`` the median of the per-pixel std is scaled
    from ``n_events`` to ``window`` events (the median of a chi distribution: 10
    events are low by 4 %, a 100-event window by 0.8 %).
    """
    n_events = charges.shape[0]
    std = np.nanstd(charges, axis=0, ddof=1)
    toy_bias = np.sqrt(chi2.median(n_events - 1) / (n_events - 1))
    window_bias = np.sqrt(chi2.median(window - 1) / window)
    return float(np.nanmedian(std) / toy_bias * window_bias)


@dataclass
class TuningResult:
    """The tuning of one telescope (MC telescope id), spreads in p.e."""

    tel_id: int
    data_std_pe: float
    mc_std_pe: float
    model_std_pe: float
    extra_nsb_rate_mhz: float
    efficiency_factor: float
    tuned_std_pe: float
    rates_mhz: np.ndarray = field(repr=False)
    stds_pe: np.ndarray = field(repr=False)
    extra_noise_pe: float = 0.0
    data_skewness: float = float("nan")
    nsb_only_skewness: float = float("nan")
    tuned_skewness: float = float("nan")


class PedestalModel:
    """
    Pedestal charge spread of the MC camera model versus added NSB rate.

    Parameters
    ----------
    camera : CameraResponse
        The simulator's camera model, with the NSB of the MC (its ``nsb_rate_mhz``).
    readout : ctapipe.instrument.CameraReadout
    mc_nsb_rate_mhz : float
        NSB rate the MC was simulated with.
    n_events : int
        Toy pedestal events (the monitor's window: 100).
    width, shift : int
        ``LocalPeakWindowSum`` window.
    seed : int
    """

    def __init__(
        self,
        camera: CameraResponse,
        readout: CameraReadout,
        n_events: int = 100,
        width: int = 7,
        shift: int = 3,
        seed: int = 0,
    ):
        self.camera = camera
        self.mc_nsb_rate_mhz = camera.nsb_rate_mhz
        self.seed = seed
        self.correction = integration_correction(
            readout.reference_pulse_shape,
            readout.reference_pulse_sample_width.to_value(u.ns),
            camera.sample_ns,
            width,
            shift,
        )[0]
        self.width, self.shift = width, shift
        self.waveforms = self._dark_waveforms(n_events, seed)

    def _dark_waveforms(self, n_events: int, seed: int) -> np.ndarray:
        camera = self.camera
        rng = np.random.default_rng(seed)
        n_pix = camera.n_pixels
        zeros = np.zeros(n_pix)
        rates = np.full(n_pix, self.mc_nsb_rate_mhz + camera.dark_count_rate_mhz)
        out = np.empty((n_events, n_pix, camera.n_samples), dtype=np.float32)
        for i in range(n_events):
            r0 = camera.r0_waveforms(rng, zeros.astype(np.int64), zeros, zeros, rates)
            out[i] = camera.r1_from_r0(r0, rates)
        return out

    def charges(
        self, extra_rate_mhz: float, efficiency: float, extra_noise_pe: float = 0.0
    ) -> np.ndarray:
        """Extracted toy pedestal charges (n_events, n_pixels) with the modification."""
        modified = np.stack(
            [
                modify_waveform(
                    w,
                    np.random.default_rng([self.seed, 1, i]),
                    self.camera,
                    extra_rate_mhz,
                    self.mc_nsb_rate_mhz,
                    efficiency,
                    extra_noise_pe,
                )
                for i, w in enumerate(self.waveforms)
            ]
        )
        return local_peak_charges(modified, self.width, self.shift, self.correction)

    def std_curve(
        self, rates_mhz: np.ndarray, efficiency: float, extra_noise_pe: float = 0.0
    ) -> np.ndarray:
        """Median pixel pedestal std (p.e.) at each extra rate of ``rates_mhz``."""
        return np.array(
            [median_pixel_std(self.charges(rate, efficiency, extra_noise_pe)) for rate in rates_mhz]
        )


def solve_extra_rate(rates_mhz: np.ndarray, stds_pe: np.ndarray, target_pe: float) -> float:
    """
    The extra rate where the (increasing) spread curve reaches ``target_pe``.

    Raises
    ------
    ValueError
        The target is above the curve's range (data noisier than the grid reaches).
    """
    stds = np.maximum.accumulate(np.asarray(stds_pe, dtype=np.float64))
    if target_pe > stds[-1]:
        raise ValueError(
            f"pedestal std {target_pe:.3f} p.e. is above {stds[-1]:.3f} p.e., the MC's at "
            f"the largest extra NSB rate {rates_mhz[-1]:.0f} MHz"
        )
    if target_pe <= stds[0]:
        return 0.0
    return float(np.interp(target_pe, stds, rates_mhz))


def read_pde_corrections(content: Mapping) -> dict[int, list[tuple[float, float]]]:
    """
    ``{mc_tel_id: [(nsb_rate_mhz, factor), ...]}`` of a PDE-correction mapping in the
    format of sst1mpipe's ``mc_pde_correction_factors.json``::

        {"mc_correction_for_PDE": {"tel_001": {"qe_..._TEL1_NSB136.0": 0.966, ...}}}

    Raises
    ------
    ValueError
        Not in that format.
    """
    table = content.get("mc_correction_for_PDE") if isinstance(content, Mapping) else None
    if not isinstance(table, Mapping) or not table:
        raise ValueError("no 'mc_correction_for_PDE' mapping of telescopes")
    corrections = {}
    for tel_key, entries in table.items():
        match = re.fullmatch(r"tel_0*([0-9]+)", str(tel_key))
        if match is None or not isinstance(entries, Mapping) or not entries:
            raise ValueError(f"entry {tel_key!r}: expected 'tel_NNN' with factors per NSB")
        levels = []
        for key, factor in entries.items():
            nsb = _NSB_IN_KEY.search(str(key))
            if nsb is None or not isinstance(factor, int | float) or not factor > 0:
                raise ValueError(f"{tel_key}.{key}: expected '..._NSB<rate>' and a factor > 0")
            levels.append((float(nsb[1]), float(factor)))
        corrections[int(match[1])] = sorted(levels)
    return corrections


def pde_factor(levels: list[tuple[float, float]], nsb_rate_mhz: float) -> float:
    """The factor of the NSB level nearest to ``nsb_rate_mhz``."""
    rates = np.array([rate for rate, _ in levels])
    return levels[int(np.argmin(np.abs(rates - nsb_rate_mhz)))][1]


def toy_skewness(charges: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """Skewness (and its error) of toy ``charges`` histogrammed as the data's histogram."""
    edges = np.append(np.asarray(low, np.float64), float(high[-1]))
    values = np.clip(np.ravel(charges), edges[0], np.nextafter(edges[-1], edges[0]))
    counts, _ = np.histogram(values, edges)
    return histogram_skewness(edges[:-1], edges[1:], counts)


@dataclass
class _Fit:
    extra_noise_pe: float
    extra_rate_mhz: float
    stds_pe: np.ndarray
    skewness: float


class PedestalTuner(Component):
    """
    Fit, per telescope, the extra NSB rate (and an extra electronic noise when the shape
    of the data's pedestal charges asks for it) that gives the MC camera model the
    data's pedestal charge spread, with toy pedestals of `PedestalModel`.
    """

    max_extra_nsb_rate_mhz = Float(
        1500.0, min=1.0, help="Largest extra NSB rate tried (MHz): noisier data is refused"
    ).tag(config=True)
    n_rates = Int(9, min=3, help="Extra NSB rates of the grid (0, then log-spaced)").tag(
        config=True
    )
    n_toy_events = Int(100, min=10, help="Toy pedestal events per rate (the monitor's window)").tag(
        config=True
    )
    fit_extra_noise = Bool(
        True,
        help=(
            "Fit an extra electronic noise too when the data's pedestal charge histogram "
            "is less skewed than the NSB-only solution by more than skewness_sigmas "
            "(needs the data's pixel charge histograms)"
        ),
    ).tag(config=True)
    max_extra_noise_pe = Float(
        3.0,
        min=0.0,
        help="Largest extra noise per sample tried (units of the one-p.e. pulse height)",
    ).tag(config=True)
    n_noises = Int(6, min=2, help="Extra noises of the grid (linear, from 0)").tag(config=True)
    skewness_sigmas = Float(
        3.0,
        min=0.0,
        help="Extra noise fitted when the data's skewness is this many errors below NSB's",
    ).tag(config=True)

    def rates_mhz(self) -> np.ndarray:
        """The grid of extra NSB rates (MHz)."""
        return np.concatenate(
            [[0.0], np.geomspace(10.0, self.max_extra_nsb_rate_mhz, self.n_rates - 1)]
        )

    def model(self, camera: CameraResponse, readout: CameraReadout, seed: int) -> PedestalModel:
        """The toy pedestals of ``camera`` (``n_toy_events``)."""
        return PedestalModel(camera, readout, self.n_toy_events, seed=seed)

    def tune(
        self,
        model: PedestalModel,
        target_std_pe: float,
        histogram=None,
        efficiency_at: Callable[[float], float] = lambda rate_mhz: 1.0,
    ) -> tuple[TuningResult, tuple[np.ndarray, np.ndarray]]:
        """
        The tuning to a data pedestal spread ``target_std_pe`` (p.e.).

        Parameters
        ----------
        model : PedestalModel
        target_std_pe : float
            The data's median pixel pedestal std.
        histogram : astropy.table.Table or None
            The data's pixel charge histogram (``charge_low``, ``charge_high``,
            ``pedestal_counts``): its skewness fits the extra noise.
        efficiency_at : callable
            The efficiency factor at a total NSB rate (MHz): solved again with the factor
            of the tuned rate until it stays.

        Returns
        -------
        result : TuningResult
            ``tel_id`` and ``mc_std_pe`` unset (0, NaN): the caller's.
        toys : tuple
            Toy pedestal charges (n_events, n_pixels) before and after the tuning.

        Raises
        ------
        ValueError
            Data noisier than the grid reaches.
        """
        efficiency = efficiency_at(model.mc_nsb_rate_mhz)
        for _ in range(3):
            fit, data_skew, nsb_skew = self._fit(model, target_std_pe, histogram, efficiency)
            factor = efficiency_at(model.mc_nsb_rate_mhz + fit.extra_rate_mhz)
            if factor == efficiency:
                break
            efficiency = factor
        before = model.charges(0.0, 1.0)
        after = model.charges(fit.extra_rate_mhz, efficiency, fit.extra_noise_pe)
        tuned_skew = np.nan
        if histogram is not None:
            tuned_skew = toy_skewness(after, histogram["charge_low"], histogram["charge_high"])[0]
        result = TuningResult(
            tel_id=0,
            data_std_pe=target_std_pe,
            mc_std_pe=np.nan,
            model_std_pe=median_pixel_std(before),
            extra_nsb_rate_mhz=round(fit.extra_rate_mhz, 1),
            efficiency_factor=efficiency,
            tuned_std_pe=median_pixel_std(after),
            rates_mhz=self.rates_mhz(),
            stds_pe=fit.stds_pe,
            extra_noise_pe=round(fit.extra_noise_pe, 3),
            data_skewness=data_skew,
            nsb_only_skewness=nsb_skew,
            tuned_skewness=tuned_skew,
        )
        return result, (before, after)

    def _fit(self, model, target, histogram, efficiency) -> tuple[_Fit, float, float]:
        rates = self.rates_mhz()
        stds = model.std_curve(rates, efficiency)
        extra = solve_extra_rate(rates, stds, target)
        if histogram is None or not self.fit_extra_noise:
            return _Fit(0.0, extra, stds, np.nan), np.nan, np.nan
        low, high = histogram["charge_low"], histogram["charge_high"]
        data_skew, data_err = histogram_skewness(low, high, histogram["pedestal_counts"])
        skew, toy_err = toy_skewness(model.charges(extra, efficiency), low, high)
        fit = _Fit(0.0, extra, stds, skew)
        if not np.isfinite(data_skew) or data_skew >= skew - self.skewness_sigmas * np.hypot(
            data_err, toy_err
        ):
            return fit, data_skew, skew
        for noise in np.linspace(0.0, self.max_extra_noise_pe, self.n_noises)[1:]:
            stds_noise = model.std_curve(rates, efficiency, noise)
            if target < stds_noise[0]:
                break
            rate = solve_extra_rate(rates, stds_noise, target)
            noise_skew = toy_skewness(model.charges(rate, efficiency, noise), low, high)[0]
            if noise_skew <= data_skew:
                w = (fit.skewness - data_skew) / (fit.skewness - noise_skew)
                return (
                    _Fit(
                        fit.extra_noise_pe + w * (noise - fit.extra_noise_pe),
                        fit.extra_rate_mhz + w * (rate - fit.extra_rate_mhz),
                        stds_noise,
                        data_skew,
                    ),
                    data_skew,
                    skew,
                )
            fit = _Fit(noise, rate, stds_noise, noise_skew)
        self.log.warning(
            "pedestal charges more Gaussian (skewness %.3f) than the model reaches (%.3f at "
            "extra noise %.2f): raise max_extra_noise_pe",
            data_skew,
            fit.skewness,
            fit.extra_noise_pe,
        )
        return fit, data_skew, skew
