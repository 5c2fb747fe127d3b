"""
Quality checks: each looks at the `MonitorElements` of one (run, telescope), optionally
with those of a reference run, and returns human-readable reasons to reject it.

The family is chosen by name (``QualityCheck.from_name("RateCheck", parent=tool)``);
a user adds a check by subclassing `QualityCheck`. The numerics are the pure functions
at the top; the components only hold the thresholds.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Dict, Float, Int
from traitlets import TraitError, validate

from .elements import MonitorElements

__all__ = [
    "CosmicRayRateCheck",
    "DeadPixelCheck",
    "HotPixelCheck",
    "NSBCheck",
    "QualityCheck",
    "RateCheck",
    "ReferenceComparison",
    "StereoFractionCheck",
    "TimestampCheck",
    "dead_pixels",
    "hot_pixels",
    "low_rate_intervals",
    "zenith_scaled_rate",
]


# ---------------------------------------------------------------- pure functions


def low_rate_intervals(
    counts: np.ndarray,
    exposure_s: np.ndarray,
    edges_s: np.ndarray,
    min_relative_rate: float,
    n_sigma: float,
    min_bins: int,
) -> list[tuple[float, float, float]]:
    """
    Intervals of consecutive time bins whose rate is low compared with the run median.

    A bin is low when its rate is below ``min_relative_rate`` times the median rate of
    the well-exposed bins (exposure at least half the bin width) *and* its count is
    more than ``n_sigma`` Poisson standard deviations below the count the median rate
    predicts (so short, sparse bins do not flag by chance).

    Returns
    -------
    list of (start_s, end_s, relative_rate)
        Runs of at least ``min_bins`` low bins; ``relative_rate`` is the summed count
        over the summed expectation in the interval.
    """
    counts = np.asarray(counts, dtype=float)
    exposure = np.asarray(exposure_s, dtype=float)
    width = np.diff(edges_s)
    usable = exposure >= 0.5 * width
    if usable.sum() < 3:
        return []
    median_rate = np.median(counts[usable] / exposure[usable])
    expected = median_rate * exposure
    low = (
        usable
        & (counts < min_relative_rate * expected)
        & (counts < expected - n_sigma * np.sqrt(expected))
    )
    intervals, start = [], None
    for k in range(len(low) + 1):
        if k < len(low) and low[k]:
            start = k if start is None else start
            continue
        if start is not None and k - start >= min_bins:
            ratio = counts[start:k].sum() / expected[start:k].sum()
            intervals.append((float(edges_s[start]), float(edges_s[k]), float(ratio)))
        start = None
    return intervals


def dead_pixels(
    pedestal_std: np.ndarray,
    max_relative_std: float,
    pedestal_mean: np.ndarray | None = None,
    max_relative_mean: float = 0.0,
    min_median_mean_pe: float = 0.5,
) -> np.ndarray:
    """
    Pixel ids that look dead in the interleaved pedestals.

    A pixel is dead when its pedestal std is below ``max_relative_std`` times the camera
    median, or, when ``max_relative_mean > 0`` and the camera median of the pedestal
    mean exceeds ``min_median_mean_pe`` (a peak-searching extractor gives pixels with
    NSB a positive mean, a pixel without light none), when its mean is below
    ``max_relative_mean`` times that median.
    """
    std = np.asarray(pedestal_std, dtype=float)
    dead = ~(std >= max_relative_std * np.nanmedian(std))
    if pedestal_mean is not None and len(pedestal_mean) == len(std) and max_relative_mean > 0:
        mean = np.asarray(pedestal_mean, dtype=float)
        median_mean = np.nanmedian(mean)
        if median_mean > min_median_mean_pe:
            dead |= mean < max_relative_mean * median_mean
    return np.flatnonzero(dead)


def hot_pixels(pedestal_std: np.ndarray, min_relative_std: float) -> np.ndarray:
    """Pixel ids whose pedestal std exceeds ``min_relative_std`` times the camera median."""
    std = np.asarray(pedestal_std, dtype=float)
    return np.flatnonzero(std > min_relative_std * np.nanmedian(std))


def zenith_scaled_rate(
    rate_hz: float, zenith_from_deg: float, zenith_to_deg: float, index: float
) -> float:
    """Cosmic-ray rate scaled between zenith angles as ``cos(zenith) ** index``."""
    return rate_hz * (np.cos(np.radians(zenith_to_deg)) / np.cos(np.radians(zenith_from_deg))) ** (
        index
    )


def _pixel_list(ids: np.ndarray, max_listed: int = 12) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:max_listed])
    return shown + (", ..." if len(ids) > max_listed else "")


# ---------------------------------------------------------------- components


class QualityCheck(Component):
    """A data-quality check of one (run, telescope)."""

    @abstractmethod
    def __call__(
        self, elements: MonitorElements, reference: MonitorElements | None = None
    ) -> list[str]:
        """
        Reasons to reject the run (empty list: the check passes).

        Parameters
        ----------
        elements : MonitorElements
            The run's monitor elements.
        reference : MonitorElements, optional
            The same telescope's elements of the reference run (checks that do not
            compare with a reference ignore it).
        """


class RateCheck(QualityCheck):
    """Trigger-rate drops within the run (clouds, hardware): time bins vs the run median."""

    min_relative_rate = Float(
        0.7, min=0.0, max=1.0, help="A time bin is low below this fraction of the run's median rate"
    ).tag(config=True)
    n_sigma = Float(
        3.0, min=0.0, help="... and more than this many Poisson sigma below the median count"
    ).tag(config=True)
    min_bins = Int(2, min=1, help="Consecutive low bins needed to flag the run").tag(config=True)

    def __call__(self, elements, reference=None):
        intervals = low_rate_intervals(
            elements.trigger_counts,
            elements.rate_bin_exposure_s,
            np.asarray(elements.rate_bin_edges_s),
            self.min_relative_rate,
            self.n_sigma,
            self.min_bins,
        )
        return [
            f"rate dropped to {ratio:.2f} of the median between {start:.1f} s and {end:.1f} s"
            for start, end, ratio in intervals
        ]


class CosmicRayRateCheck(QualityCheck):
    """
    Atmospheric transparency: the rate of bright cosmic-ray images vs the expectation for
    the run's zenith angle (``expected_rate_hz`` at zenith 0 scaled by cos(zenith)^index,
    or the reference run's rate scaled from its zenith angle when a reference is given).
    """

    expected_rate_hz = Float(
        0.0,
        min=0.0,
        help=(
            "Expected rate of images above MonitorElementsMaker.bright_intensity_pe at zenith "
            "0 (Hz); 0: use the reference run only"
        ),
    ).tag(config=True)
    zenith_index = Float(2.0, help="Exponent of cos(zenith) in the rate's zenith dependence").tag(
        config=True
    )
    min_relative_rate = Float(
        0.7,
        min=0.0,
        max=1.0,
        help="Flag when the measured rate is below this fraction of the expectation",
    ).tag(config=True)
    n_sigma = Float(3.0, min=0.0, help="... and more than this many Poisson sigma below it").tag(
        config=True
    )

    def _expected(self, elements, reference) -> tuple[float, str]:
        if reference is not None and np.isfinite(reference.bright_rate_hz):
            rate = zenith_scaled_rate(
                reference.bright_rate_hz,
                reference.zenith_deg,
                elements.zenith_deg,
                self.zenith_index,
            )
            return rate, f"reference run {reference.obs_id}"
        if self.expected_rate_hz > 0:
            rate = zenith_scaled_rate(
                self.expected_rate_hz, 0.0, elements.zenith_deg, self.zenith_index
            )
            return rate, "the configured expectation"
        return np.nan, ""

    def __call__(self, elements, reference=None):
        expected, origin = self._expected(elements, reference)
        if not (np.isfinite(expected) and expected > 0 and np.isfinite(elements.duration_s)):
            return []
        n_expected = expected * elements.duration_s
        n = elements.bright_rate_hz * elements.duration_s
        ratio = n / n_expected
        if ratio < self.min_relative_rate and n < n_expected - self.n_sigma * np.sqrt(n_expected):
            return [
                f"rate of images above {elements.bright_intensity_pe:.0f} p.e. "
                f"{elements.bright_rate_hz:.2f} Hz is {ratio:.2f} of the {expected:.2f} Hz "
                f"expected at zenith {elements.zenith_deg:.1f} deg from {origin} "
                "(low atmospheric transparency?)"
            ]
        return []


class NSBCheck(QualityCheck):
    """NSB level: camera median of the interleaved-pedestal std (p.e.) above a limit."""

    max_nsb_level_pe = Float(
        1.6,
        min=0.0,
        help=(
            "Flag above this pedestal std (p.e.; with the r0-dl1 data config a dark sky, "
            "40 MHz per pixel, gives about 1.0 p.e., moonlight at 250 MHz about 2.0 p.e.)"
        ),
    ).tag(config=True)

    def __call__(self, elements, reference=None):
        level = elements.nsb_level_pe
        if np.isfinite(level) and level > self.max_nsb_level_pe:
            return [
                f"NSB level (pedestal std) {level:.2f} p.e. above {self.max_nsb_level_pe:.2f} p.e."
            ]
        return []


class DeadPixelCheck(QualityCheck):
    """Dead pixels: pedestal std or mean far below the camera median (no NSB, no noise)."""

    max_relative_std = Float(
        0.5, min=0.0, help="A pixel is dead below this fraction of the camera median pedestal std"
    ).tag(config=True)
    max_relative_mean = Float(
        0.3,
        min=0.0,
        help=(
            "... or below this fraction of the camera median pedestal mean, when that "
            "median exceeds 0.5 p.e. (peak-searching extractors); 0 disables"
        ),
    ).tag(config=True)
    max_dead_pixels = Int(3, min=0, help="Flag the run when more pixels than this are dead").tag(
        config=True
    )

    def pixels(self, elements: MonitorElements) -> np.ndarray:
        """Ids of the dead pixels of ``elements`` (empty without pedestal monitoring)."""
        if not elements.pedestal_std_pe:
            return np.array([], dtype=int)
        return dead_pixels(
            elements.pedestal_std_pe,
            self.max_relative_std,
            elements.pedestal_mean_pe,
            self.max_relative_mean,
        )

    def __call__(self, elements, reference=None):
        ids = self.pixels(elements)
        if len(ids) > self.max_dead_pixels:
            return [f"{len(ids)} dead pixels (no pedestal noise or signal): {_pixel_list(ids)}"]
        return []


class HotPixelCheck(QualityCheck):
    """Hot pixels: pedestal std far above the camera median (stars, noisy channels)."""

    min_relative_std = Float(
        3.0, min=0.0, help="A pixel is hot above this multiple of the camera median pedestal std"
    ).tag(config=True)
    max_hot_pixels = Int(10, min=0, help="Flag the run when more pixels than this are hot").tag(
        config=True
    )

    def __call__(self, elements, reference=None):
        if not elements.pedestal_std_pe:
            return []
        ids = hot_pixels(elements.pedestal_std_pe, self.min_relative_std)
        if len(ids) > self.max_hot_pixels:
            return [
                f"{len(ids)} hot pixels (pedestal std > {self.min_relative_std:g} x camera "
                f"median): {_pixel_list(ids)}"
            ]
        return []


class TimestampCheck(QualityCheck):
    """Timestamps: monotonic in event id, no duplicated event ids, no long gaps."""

    max_gap_s = Float(
        5.0, min=0.0, help="Flag a gap between consecutive physics triggers longer than this (s)"
    ).tag(config=True)

    def __call__(self, elements, reference=None):
        reasons = []
        if elements.n_time_reversals > 0:
            reasons.append(f"{elements.n_time_reversals} trigger times go backwards in event id")
        if elements.n_duplicate_event_ids > 0:
            reasons.append(f"{elements.n_duplicate_event_ids} duplicated event ids")
        if np.isfinite(elements.max_gap_s) and elements.max_gap_s > self.max_gap_s:
            reasons.append(f"gap of {elements.max_gap_s:.1f} s without trigger")
        return reasons


class StereoFractionCheck(QualityCheck):
    """Stereo matched fraction (from ``iactpipe-dl1-stereo`` files) below a limit."""

    min_matched_fraction = Float(
        0.2,
        min=0.0,
        max=1.0,
        help="Flag when fewer of a telescope's events than this have a partner",
    ).tag(config=True)

    def __call__(self, elements, reference=None):
        fraction = elements.stereo_matched_fraction
        if np.isfinite(fraction) and fraction < self.min_matched_fraction:
            return [f"stereo matched fraction {fraction:.2f} below {self.min_matched_fraction:.2f}"]
        return []


#: scalar monitor elements compared with the reference: name -> getter
_COMPARED = {
    "mean_rate_hz": lambda e: e.mean_rate_hz,
    "nsb_level_pe": lambda e: e.nsb_level_pe,
    "median_intensity_pe": lambda e: e.medians.get("intensity_pe", np.nan),
    "median_width_deg": lambda e: e.medians.get("width_deg", np.nan),
    "median_length_deg": lambda e: e.medians.get("length_deg", np.nan),
}


class ReferenceComparison(QualityCheck):
    """
    Scalar monitor elements compared with the reference run's: a relative deviation
    beyond the tolerance flags. The trigger rate is first scaled to the run's zenith
    angle (cos(zenith)^zenith_index) so that runs at other zenith angles compare.
    """

    relative_tolerances = Dict(
        value_trait=Float(),
        default_value={
            "mean_rate_hz": 0.3,
            "nsb_level_pe": 0.3,
            "median_intensity_pe": 0.3,
            "median_width_deg": 0.2,
            "median_length_deg": 0.2,
        },
        help=f"Relative tolerance per compared element; known names: {', '.join(_COMPARED)}",
    ).tag(config=True)
    zenith_index = Float(
        2.0, help="Exponent of cos(zenith) scaling the reference trigger rate"
    ).tag(config=True)

    @validate("relative_tolerances")
    def _known_elements(self, proposal):
        unknown = sorted(set(proposal["value"]) - set(_COMPARED))
        if unknown:
            raise TraitError(
                f"ReferenceComparison.relative_tolerances: unknown element(s) {unknown}; "
                f"known: {sorted(_COMPARED)}"
            )
        return proposal["value"]

    def __call__(self, elements, reference=None):
        if reference is None:
            return []
        reasons = []
        for name, tolerance in self.relative_tolerances.items():
            value, ref = _COMPARED[name](elements), _COMPARED[name](reference)
            if name == "mean_rate_hz":
                ref = zenith_scaled_rate(
                    ref, reference.zenith_deg, elements.zenith_deg, self.zenith_index
                )
            if not (np.isfinite(value) and np.isfinite(ref)) or ref == 0:
                continue
            deviation = value / ref - 1
            if abs(deviation) > tolerance:
                reasons.append(
                    f"{name} {value:.3g} deviates from reference run {reference.obs_id} "
                    f"({ref:.3g}) by {deviation:+.0%} (tolerance {tolerance:.0%})"
                )
        return reasons
