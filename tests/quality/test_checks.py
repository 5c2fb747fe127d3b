"""Quality checks on synthetic monitor elements with known faults."""

import numpy as np
import pytest
from traitlets import TraitError

from iactpipe.quality.checks import (
    CosmicRayRateCheck,
    DeadPixelCheck,
    HotPixelCheck,
    NSBCheck,
    QualityCheck,
    RateCheck,
    ReferenceComparison,
    StereoFractionCheck,
    TimestampCheck,
    low_rate_intervals,
    zenith_scaled_rate,
)
from iactpipe.quality.elements import MonitorElements, evening_date


def _elements(counts, bin_s=10.0, **kwargs):
    counts = np.asarray(counts)
    edges = np.arange(len(counts) + 1) * bin_s
    e = MonitorElements(obs_id=1, tel_id=21, file="x.h5", duration_s=edges[-1], **kwargs)
    e.rate_bin_edges_s = edges.tolist()
    e.rate_bin_exposure_s = np.full(len(counts), bin_s).tolist()
    e.trigger_counts = counts.tolist()
    e.mean_rate_hz = counts.sum() / edges[-1]
    return e


def test_rate_drop_found_where_injected():
    """120 bins of 10 s at 300 Hz (3000 counts per bin); bins 40-57 at 0.55 of it."""
    rng = np.random.default_rng(1)
    expected = np.full(120, 3000.0)
    expected[40:58] *= 0.55
    counts = rng.poisson(expected)
    reasons = RateCheck()(_elements(counts))
    assert reasons == ["rate dropped to 0.55 of the median between 400.0 s and 580.0 s"]


def test_rate_check_no_false_alarm():
    """1000 clean runs of 60 one-second bins at 40 Hz: the 3-sigma + 0.7 + two-bin rule
    flags none (per-bin probability about 1e-3, two in a row about 1e-6)."""
    rng = np.random.default_rng(2)
    edges = np.arange(61.0)
    flagged = sum(
        bool(low_rate_intervals(rng.poisson(40, 60), np.ones(60), edges, 0.7, 3.0, 2))
        for _ in range(1000)
    )
    assert flagged == 0


def test_single_low_bin_not_enough():
    counts = np.full(30, 1000)
    counts[10] = 100
    assert RateCheck()(_elements(counts)) == []
    assert RateCheck(min_bins=1)(_elements(counts))


def test_zenith_scaling_and_cosmic_ray_check():
    assert zenith_scaled_rate(10.0, 0.0, 60.0, 2.0) == pytest.approx(2.5)
    e = _elements(np.full(60, 100), bright_rate_hz=2.0, zenith_deg=60.0)
    e.bright_intensity_pe = 200.0
    # expectation 10 Hz at zenith 0 -> 2.5 Hz at 60 deg: 2.0 Hz is 0.8 of it, passes
    assert CosmicRayRateCheck(expected_rate_hz=10.0)(e) == []
    # expectation 20 Hz -> 5 Hz: 2.0 Hz is 0.4 of it (1200 vs 3000 events), flags
    (reason,) = CosmicRayRateCheck(expected_rate_hz=20.0)(e)
    assert "0.40 of the 5.00 Hz expected at zenith 60.0 deg" in reason
    assert CosmicRayRateCheck()(e) == []  # no expectation, no reference: no verdict


def test_pixel_and_nsb_checks():
    std = np.random.default_rng(3).normal(1.0, 0.05, 1296)
    std[[5, 6, 7, 8]] = 0.1
    std[[100, 101]] = 5.0
    e = _elements(np.full(10, 10), nsb_level_pe=float(np.median(std)))
    e.pedestal_std_pe = std.tolist()
    assert DeadPixelCheck()(e) == ["4 dead pixels (no pedestal noise or signal): 5, 6, 7, 8"]
    assert DeadPixelCheck(max_dead_pixels=4)(e) == []
    # peak-searching extractors: NSB pixels have a positive pedestal mean, dead ones none
    mean = np.full(1296, 1.6)
    mean[[9, 10, 11, 12]] = 0.1
    e.pedestal_mean_pe = mean.tolist()
    assert DeadPixelCheck()(e) == [
        "8 dead pixels (no pedestal noise or signal): 5, 6, 7, 8, 9, 10, 11, 12"
    ]
    assert DeadPixelCheck(max_relative_mean=0)(e)[0].startswith("4 dead")
    e.pedestal_mean_pe = (mean - 1.5).tolist()  # a fixed-window extractor: mean about 0
    assert DeadPixelCheck()(e)[0].startswith("4 dead")
    assert HotPixelCheck()(e) == []
    assert HotPixelCheck(max_hot_pixels=1)(e)[0].startswith("2 hot pixels")
    assert NSBCheck()(e) == []
    e.nsb_level_pe = 2.4
    assert NSBCheck()(e) == ["NSB level (pedestal std) 2.40 p.e. above 1.60 p.e."]


def test_timestamp_and_stereo_checks():
    e = _elements(np.full(10, 10), n_time_reversals=2, n_duplicate_event_ids=1, max_gap_s=12.0)
    assert TimestampCheck()(e) == [
        "2 trigger times go backwards in event id",
        "1 duplicated event ids",
        "gap of 12.0 s without trigger",
    ]
    assert StereoFractionCheck()(e) == []  # not a stereo file: NaN, no verdict
    e.stereo_matched_fraction = 0.1
    assert StereoFractionCheck()(e) == ["stereo matched fraction 0.10 below 0.20"]


def test_reference_comparison_scales_rate_with_zenith():
    reference = _elements(np.full(10, 1000), zenith_deg=20.0, nsb_level_pe=1.0)
    # same atmosphere at 40 deg: rate lower by (cos 40 / cos 20)^2 = 0.66, not flagged
    run = _elements(
        np.full(10, 1000 * zenith_scaled_rate(1, 20, 40, 2.0)), zenith_deg=40.0, nsb_level_pe=1.1
    )
    assert ReferenceComparison()(run, reference) == []
    run.nsb_level_pe = 2.0
    (reason,) = ReferenceComparison()(run, reference)
    assert reason.startswith("nsb_level_pe 2 deviates from reference run 1 (1) by +100%")
    assert ReferenceComparison()(run, None) == []
    with pytest.raises(TraitError, match="unknown element"):
        ReferenceComparison(relative_tolerances={"rate": 0.1})


def test_every_check_has_the_contract():
    e = _elements(np.full(10, 10))
    for cls in QualityCheck.non_abstract_subclasses().values():
        assert cls()(e, None) == []  # a plain clean run passes every check


def test_evening_date():
    from astropy.time import Time

    assert evening_date(Time("2024-01-10T22:00:00")) == "2024-01-10"
    assert evening_date(Time("2024-01-11T03:00:00")) == "2024-01-10"
    assert evening_date(Time("2024-01-11T13:00:00")) == "2024-01-11"
