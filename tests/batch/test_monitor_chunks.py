"""
The pedestal monitor's chunk kernels against the per-event path: `ArrayPedestalMonitor.advance`
(the state machine of `PedestalMonitor` over a telescope's rows of a chunk) gives every
telescope event the statistics and dynamic bad pixels `PedestalMonitor.fill` gives it,
records the same rows and fills the same pixel-charge histograms; the window kernels
equal numpy's sums and medians exactly.
"""

import warnings

import numpy as np
import pytest
from astropy.time import Time
from ctapipe.containers import ArrayEventContainer, DL1CameraContainer, EventType, R1CameraContainer

from iactpipe.batch.monitor import (
    ArrayPedestalMonitor,
    histogram_rows,
    relative_std_outliers,
    window_mean_std,
    window_statistics,
)
from iactpipe.calib import PedestalMonitor
from iactpipe.calib.pedestal import std_outliers
from iactpipe.instrument.subarray import sst1m_subarray

TEL_IDS = (21, 22)


def _sequence(n_events: int, n_pixels: int, seed: int):
    """Array events of both telescopes: showers, then interleaved pedestal events."""
    rng = np.random.default_rng(seed)
    noisy = rng.random(n_pixels) < 0.01
    rows = []
    for i in range(n_events):
        is_pedestal = i >= 14 and i % 3 == 0
        for tel_id in TEL_IDS:
            if tel_id == 22 and i % 5 == 1:
                continue  # not every telescope triggers
            image = rng.normal(0.0, np.where(noisy, 9.0, 1.2), n_pixels).astype(np.float32)
            if not is_pedestal:
                start = rng.integers(0, n_pixels - 60)
                image[start : start + 40] += rng.uniform(5, 80)
            image[7] = 0.0  # a dead pixel: no spread, flagged
            rows.append((i, tel_id, image, is_pedestal, 60000.0 + i / 86400.0))
    return rows


def _reference(subarray, config, rows):
    """What PedestalMonitor.fill gives each row, then its update (the per-event path)."""
    monitor = PedestalMonitor(subarray, **config)
    seen = []
    for event_id, tel_id, image, is_pedestal, mjd in rows:
        event = ArrayEventContainer()
        event.index.event_id = event_id
        event.trigger.event_type = EventType.SKY_PEDESTAL if is_pedestal else EventType.SUBARRAY
        event.trigger.time = Time(mjd, format="mjd", scale="tai")
        event.r1.tel[tel_id] = R1CameraContainer()
        event.dl1.tel[tel_id] = DL1CameraContainer(image=image)
        monitor.fill(event)
        camera = event.monitoring.tel[tel_id].camera
        stats = camera.pixel_statistics.pedestal_image
        mask = camera.coefficients.outlier_mask
        seen.append((stats.mean, stats.std, None if mask is None else mask[0]))
        monitor.update(event)
    return monitor, seen


def _chunked(subarray, config, rows, chunk_size):
    """ArrayPedestalMonitor.advance per telescope and chunk of rows."""
    monitor = ArrayPedestalMonitor(subarray, **config)
    seen = [None] * len(rows)
    for first in range(0, len(rows), chunk_size):
        chunk = rows[first : first + chunk_size]
        images = np.stack([r[2] for r in chunk])
        event_ids = np.array([r[0] for r in chunk])
        is_pedestal = np.array([r[3] for r in chunk])
        times = np.array([r[4] for r in chunk])
        tel_ids = np.array([r[1] for r in chunk])
        for tel_id in TEL_IDS:
            tel_rows = np.nonzero(tel_ids == tel_id)[0]
            version, versions = monitor.advance(
                tel_id, images, tel_rows, is_pedestal, event_ids, times
            )
            for k, row in enumerate(tel_rows):
                seen[first + row] = versions[version[k]]
    return monitor, seen


@pytest.mark.parametrize(
    ("config", "chunk_size"),
    [
        (dict(window_size=20, min_events=5, refresh_interval_events=3), 17),
        (dict(window_size=20, min_events=5, refresh_interval_events=1), 200),
        # every window counts from its creation: the per-row path
        (dict(window_size=20, min_events=0, refresh_interval_events=4), 17),
    ],
    ids=["refresh-3", "refresh-1", "min-events-0"],
)
def test_advance_equals_per_event(config, chunk_size):
    """Shower fallback, then pedestal windows; refreshes and records inside chunks."""
    subarray = sst1m_subarray()
    config = dict(config, record_interval_events=7)
    n_pixels = subarray.tel[TEL_IDS[0]].camera.geometry.n_pixels
    rows = _sequence(70, n_pixels, seed=5)
    reference, expected = _reference(subarray, config, rows)
    ours, got = _chunked(subarray, config, rows, chunk_size)
    n_with_statistics = 0
    for (mean, std, mask), (our_mean, our_std, our_outliers) in zip(expected, got, strict=True):
        if std is None:
            assert our_std is None and not our_outliers.any()
            continue
        n_with_statistics += 1
        # the parent's nanmean / nanstd (pairwise sums) against the kernels' sums
        np.testing.assert_allclose(our_std, std[0], rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(our_mean, mean[0], rtol=1e-12, atol=1e-15, equal_nan=True)
        np.testing.assert_array_equal(our_outliers, mask)
    assert n_with_statistics > len(rows) // 2
    assert got[-1][2][7]  # the dead pixel is flagged
    expected_tables, got_tables = reference.to_tables(), ours.to_tables()
    assert sorted(got_tables) == sorted(expected_tables) == list(TEL_IDS)
    for tel_id in TEL_IDS:
        expected_table, got_table = expected_tables[tel_id], got_tables[tel_id]
        assert len(got_table) == len(expected_table) >= 3
        for name in ("event_id_start", "event_id_end", "n_events", "from_shower_events"):
            np.testing.assert_array_equal(got_table[name], expected_table[name])
        for name in ("mean", "median", "std"):
            np.testing.assert_allclose(
                got_table[name], expected_table[name], rtol=1e-6, equal_nan=True
            )
        np.testing.assert_array_equal(got_table["outlier_mask"], expected_table["outlier_mask"])
    if config["min_events"] > 0:
        assert any(got_tables[21]["from_shower_events"])
        assert not got_tables[21]["from_shower_events"][-1]
    expected_charges = reference.pixel_charges.to_tables()
    for tel_id, table in ours.pixel_charges.to_tables().items():
        for name in ("pedestal_counts", "all_counts"):
            np.testing.assert_array_equal(table[name], expected_charges[tel_id][name])


def test_window_kernels_equal_numpy():
    """Sums in entry order (numpy's axis-0 reduction), numpy's medians, std_outliers."""
    rng = np.random.default_rng(9)
    n_flagged = 0
    for trial in range(8):
        window = rng.normal(size=(40, 300)) * 10.0 ** rng.integers(-3, 3)
        if trial % 2:
            window = np.round(window)  # ties
        window[rng.random(window.shape) < 0.1 * (trial % 3)] = np.nan
        window[:, 0] = np.nan  # never measured
        window[1:, 1] = np.nan  # one entry
        mean, std = window_mean_std(window)
        present = ~np.isnan(window)
        count = present.sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0
            expected_mean = np.where(present, window, 0.0).sum(axis=0) / count
            squares = np.where(present, (window - expected_mean) ** 2, 0.0).sum(axis=0)
            expected_std = np.where(count > 1, np.sqrt(squares / (count - 1)), np.nan)
            np.testing.assert_array_equal(window_statistics(window)[1], np.nanmedian(window, 0))
        np.testing.assert_array_equal(mean, expected_mean)
        np.testing.assert_array_equal(std, expected_std)
        np.testing.assert_array_equal(window_statistics(window)[0], mean)
        np.testing.assert_array_equal(window_statistics(window)[2], std)
        std[rng.random(len(std)) < 0.05] = np.nan
        median = np.nanmedian(std)
        std[2:4] = [0.1 * median, 10 * median]  # below and above the limits
        expected = std_outliers(std, 0.3, 4.0)
        np.testing.assert_array_equal(relative_std_outliers(std, 0.3, 4.0), expected)
        if median > 0:  # (not a rounded window of values below 0.5)
            n_flagged += 1
            assert expected[2:4].all() and expected.sum() < 0.2 * len(std)
    assert n_flagged >= 4
    assert not relative_std_outliers(np.full(5, np.nan), 0.3, 4.0).any()


def test_histogram_rows_equals_add():
    subarray = sst1m_subarray()
    ours, reference = ArrayPedestalMonitor(subarray), PedestalMonitor(subarray)
    rng = np.random.default_rng(2)
    images = rng.normal(5.0, 30.0, (12, 1296)).astype(np.float32)
    images[0, :4] = [np.nan, np.inf, -1e6, 1e6]  # skipped, and the end bins
    images[1, :3] = [-10.0, 89.99, 90.0]  # the edges
    is_pedestal = np.arange(12) % 4 == 0
    rows = np.array([0, 1, 3, 4, 8, 11])
    counts = ours.pixel_charges.counts(21)
    charges = ours.pixel_charges
    scale = charges.n_bins / (charges.max_charge_pe - charges.min_charge_pe)
    histogram_rows(images, rows, is_pedestal, charges.min_charge_pe, scale, counts)
    for i in rows:
        reference.pixel_charges.add(21, images[i], is_pedestal[i])
    expected = reference.pixel_charges.to_tables()[21]
    np.testing.assert_array_equal(counts[1], expected["all_counts"])
    np.testing.assert_array_equal(counts[0], expected["pedestal_counts"])
    assert counts[1].sum() == len(rows) * 1296 - 2
