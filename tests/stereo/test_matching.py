"""CoincidenceMatcher family: the shared contract, the algorithms, the Must-show rates."""

import numpy as np
import pytest

from iactpipe.stereo import (
    CoincidenceMatcher,
    EventIdMatcher,
    SlidingWindowMatcher,
    WhiteRabbitClosestMatcher,
    count_coincidences_per_offset,
    pair_closest,
)

UNIX_2024_NS = 1_704_067_200 * 10**9  # absolute epoch values: float64 would lose ns here


def observation(
    seed=0,
    n_showers=60_000,
    rate_hz=200.0,
    offset_ns=3_217_000,
    jitter_ns=50.0,
    single_fraction=0.3,
):
    """Two telescopes seeing one Poisson stream of showers: a clock offset, jitter and
    ``single_fraction`` of events seen by one telescope only. Returns times, ids, truth."""
    rng = np.random.default_rng(seed)
    t = UNIX_2024_NS + np.cumsum(rng.exponential(1e9 / rate_hz, n_showers)).astype(np.int64)
    u = rng.random(n_showers)
    half = single_fraction / 2
    in_1, in_2 = u >= half, (u < half) | (u >= single_fraction)
    jitter = rng.normal(0, jitter_ns, (2, n_showers)).round().astype(np.int64)
    times_1 = t[in_1] + jitter[0, in_1]
    times_2 = t[in_2] + offset_ns + jitter[1, in_2]
    shower_1, shower_2 = np.flatnonzero(in_1), np.flatnonzero(in_2)
    return times_1, times_2, shower_1, shower_2, int((in_1 & in_2).sum())


def rates(result, shower_1, shower_2, n_true):
    correct = shower_1[result.index_1] == shower_2[result.index_2]
    return correct.sum() / n_true, (~correct).sum() / max(result.n_pairs, 1)


def contract_input(cls):
    times_1, times_2, shower_1, shower_2, _ = observation(n_showers=3000, offset_ns=200)
    return times_1, times_2, shower_1, shower_2


@pytest.mark.parametrize("cls", CoincidenceMatcher.non_abstract_subclasses().values())
def test_matcher_contract(cls):
    """Every implementation: one-to-one index pairs into the inputs, ordered by t_1."""
    times_1, times_2, shower_1, shower_2 = contract_input(cls)
    # shuffled inputs: indices must refer to the arrays as given
    rng = np.random.default_rng(1)
    p1, p2 = rng.permutation(len(times_1)), rng.permutation(len(times_2))
    matcher = cls()
    result = matcher.match(times_1[p1], times_2[p2], shower_1[p1], shower_2[p2])
    assert result.n_1 == len(times_1) and result.n_2 == len(times_2)
    assert len(result.index_1) == len(result.index_2) == result.n_pairs > 0
    assert len(np.unique(result.index_1)) == result.n_pairs
    assert len(np.unique(result.index_2)) == result.n_pairs
    assert np.all(np.diff(times_1[p1][result.index_1]) >= 0)
    np.testing.assert_array_equal(
        result.time_diff_ns, times_2[p2][result.index_2] - times_1[p1][result.index_1]
    )
    assert 0 < result.matched_fraction_1 <= 1 and 0 < result.matched_fraction_2 <= 1
    assert isinstance(result.summary(), dict)
    # empty input: no pairs, no error
    empty = np.empty(0, dtype=np.int64)
    assert matcher.match(empty, times_2, empty, shower_2).n_pairs == 0


@pytest.mark.parametrize("cls", CoincidenceMatcher.non_abstract_subclasses().values())
def test_matcher_by_name(cls):
    assert type(CoincidenceMatcher.from_name(cls.__name__)) is cls


def test_float_times_rejected():
    with pytest.raises(TypeError, match="int64"):
        WhiteRabbitClosestMatcher().match(np.array([1.0]), np.array([1.0]))


def test_white_rabbit_rates():
    """WR-synchronised clocks (250 ns cable offset), 50 ns jitter, 30 % single events."""
    t1, t2, s1, s2, n_true = observation(offset_ns=250)
    result = WhiteRabbitClosestMatcher().match(t1, t2)
    recovered, false = rates(result, s1, s2, n_true)
    assert recovered >= 0.995
    assert false <= 0.001


@pytest.mark.parametrize("single_fraction", [0.2, 0.4])
def test_event_id_rates(single_fraction):
    t1, t2, s1, s2, n_true = observation(single_fraction=single_fraction)
    result = EventIdMatcher().match(t1, t2, s1, s2)
    recovered, false = rates(result, s1, s2, n_true)
    assert recovered == 1.0 and false == 0.0


@pytest.mark.parametrize("offset_ns", [-6_543_210, 3_217_000])
def test_sliding_window_finds_offset(offset_ns):
    """A few ms clock offset: the offset within one scan step, the true pairs recovered."""
    t1, t2, s1, s2, n_true = observation(offset_ns=offset_ns, rate_hz=50.0)
    matcher = SlidingWindowMatcher()
    result = matcher.match(t1, t2)
    assert abs(result.info["scan_peak_offset_ns"] - offset_ns) <= matcher.offset_step_ns
    assert abs(result.offset_ns - offset_ns) <= matcher.offset_step_ns
    recovered, false = rates(result, s1, s2, n_true)
    assert recovered >= 0.995
    # accidentals in a +-1 ms window: about single fraction x rate x 2 ms
    assert false <= 0.3 * 50 * 2e-3 * 1.5
    # a narrower window at the found offset brings false pairs to the WR level
    narrow = SlidingWindowMatcher(window_half_width_ns=5_000).match(t1, t2)
    assert abs(narrow.offset_ns - offset_ns) <= matcher.offset_step_ns
    recovered, false = rates(narrow, s1, s2, n_true)
    assert recovered >= 0.995 and false <= 0.001


def test_count_coincidences_brute_force():
    rng = np.random.default_rng(3)
    a = np.sort(rng.integers(0, 10**7, 300))
    b = np.sort(rng.integers(0, 10**7, 300))
    offsets = np.arange(-50_000, 50_001, 2_500)
    counts = count_coincidences_per_offset(a, b, offsets, 7_000)
    diff = b[None, :] - a[:, None]  # fine at this size only
    expected = [(np.abs(diff - o) <= 7_000).sum() for o in offsets]
    np.testing.assert_array_equal(counts, expected)


def test_pair_closest_one_to_one():
    a = np.array([0, 10, 20, 1000])
    b = np.array([1, 11, 12, 2000])
    i, j = pair_closest(a, b, 5)
    np.testing.assert_array_equal(i, [0, 1])
    np.testing.assert_array_equal(j, [0, 1])
    # an event claimed by two: the closer one wins
    i, j = pair_closest(np.array([0, 4]), np.array([3]), 5)
    np.testing.assert_array_equal(i, [1])


def test_event_id_duplicates_rejected():
    with pytest.raises(ValueError, match="not unique"):
        EventIdMatcher().match(np.zeros(2, np.int64), np.zeros(1, np.int64), [1, 1], [1])
