"""The sliding pedestal window reuses its statistics for at most ``max_age`` entries."""

import numpy as np

from iactpipe.calib.pedestal import SlidingWindowStatistics


def test_statistics_refresh_after_max_age():
    rng = np.random.default_rng(3)
    window = SlidingWindowStatistics(n_pixels=4, size=20)
    for _ in range(12):
        window.add(rng.normal(0, 1, 4))
    first = window.statistics(max_age=5)
    np.testing.assert_allclose(first[0], window.values[:12].mean(axis=0))

    for _ in range(4):  # fewer than max_age new entries: the cached result
        window.add(rng.normal(10, 1, 4))
    assert window.statistics(max_age=5)[0] is first[0]

    window.add(rng.normal(10, 1, 4))  # the 5th new entry: recomputed
    mean, median, std = window.statistics(max_age=5)
    np.testing.assert_allclose(mean, window.values[:17].mean(axis=0))
    np.testing.assert_allclose(median, np.median(window.values[:17], axis=0))
    np.testing.assert_allclose(std, window.values[:17].std(axis=0, ddof=1))


def test_max_age_zero_always_recomputes():
    window = SlidingWindowStatistics(n_pixels=2, size=5)
    window.add(np.array([1.0, 2.0]))
    window.add(np.array([3.0, 4.0]))
    assert window.statistics()[0][0] == 2.0
    window.add(np.array([5.0, 6.0]))
    assert window.statistics()[0][0] == 3.0
