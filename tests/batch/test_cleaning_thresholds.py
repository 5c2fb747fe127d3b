"""The batch engine's SST-1M cleaning thresholds equal the cleaner's own."""

import warnings

import numpy as np
import pytest
from ctapipe.containers import CameraMonitoringContainer

from iactpipe.batch.cleaning import nan_median
from iactpipe.image.cleaning import SSTImageCleaner
from iactpipe.instrument import sst1m_subarray


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1295, 1296])
def test_nan_median_equals_numpy(n):
    """Odd and even counts, NaN, infinities, ties, all NaN: numpy's value bit for bit."""
    rng = np.random.default_rng(n)
    for case in range(6):
        values = rng.uniform(0.5, 2.5, n)
        if case == 1:
            values[rng.random(n) < 0.3] = np.nan
        elif case == 2:
            values = np.round(values * 4) / 4  # ties
        elif case == 3:
            values[: max(n // 3, 1)] = np.inf
        elif case == 4:
            values[:] = np.nan
        elif case == 5:
            values[rng.random(n) < 0.5] = -np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all NaN
            expected = np.nanmedian(values)
        got = nan_median(values)
        assert np.array_equal(got, expected, equal_nan=True), (case, got, expected)


def test_statistics_thresholds_equal_thresholds():
    """Arrays and the compiled median give what the monitoring container gives."""
    subarray = sst1m_subarray()
    tel_id = subarray.tel_ids[0]
    cleaner = SSTImageCleaner(subarray)
    rng = np.random.default_rng(3)
    picked = set()
    for scale in (0.2, 0.9, 1.5, 3.0, 9.0):
        std = rng.uniform(0.5, 1.5, 1296) * scale
        std[[3, 700]] = np.nan
        mean = rng.normal(0, 0.2, 1296)
        monitoring = CameraMonitoringContainer()
        stats = monitoring.pixel_statistics.pedestal_image
        stats.mean, stats.std = mean[None], std[None]
        expected = cleaner.thresholds(tel_id, monitoring)
        got = cleaner.statistics_thresholds(tel_id, mean, std, nan_median)
        np.testing.assert_array_equal(got[0], expected[0])
        assert got[1:] == expected[1:]
        picked.add(got[1:])
    assert len(picked) > 1  # several NSB levels chosen
    assert cleaner.statistics_thresholds(tel_id, None, None, nan_median) == cleaner.thresholds(
        tel_id, None
    )
