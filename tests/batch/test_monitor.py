"""ArrayPedestalMonitor (arrays) evolves exactly as PedestalMonitor (event containers)."""

import itertools
import warnings

import numpy as np
from astropy.time import Time
from ctapipe.containers import ArrayEventContainer, DL1CameraContainer, EventType, R1CameraContainer

from iactpipe.batch.monitor import (
    ArrayPedestalMonitor,
    median_radix,
    quiet_pixels,
    quiet_values,
    quiet_values_symmetric,
    window_mean_std,
    window_statistics,
)
from iactpipe.calib import PedestalMonitor
from iactpipe.calib.pedestal import quiet_pixel_mask
from iactpipe.instrument.subarray import sst1m_subarray

TEL_ID = 21  # sst1m_subarray(): the data numbering


def _event(image, event_id, is_pedestal, mjd):
    event = ArrayEventContainer()
    event.index.event_id = event_id
    event.trigger.event_type = EventType.SKY_PEDESTAL if is_pedestal else EventType.SUBARRAY
    event.trigger.time = Time(mjd, format="mjd", scale="tai")
    event.r1.tel[TEL_ID] = R1CameraContainer()
    event.dl1.tel[TEL_ID] = DL1CameraContainer(image=image)
    return event


def test_interleaved_pedestals_same_state():
    """Shower events first (quiet-pixel fallback), then interleaved pedestal events."""
    subarray = sst1m_subarray()
    config = dict(window_size=20, min_events=5, refresh_interval_events=3, record_interval_events=7)
    reference = PedestalMonitor(subarray, **config)
    ours = ArrayPedestalMonitor(subarray, **config)
    rng = np.random.default_rng(5)
    n_pixels = subarray.tel[TEL_ID].camera.geometry.n_pixels
    noisy = rng.random(n_pixels) < 0.01
    for i in range(60):
        is_pedestal = i >= 12 and i % 4 == 0
        image = rng.normal(0.0, np.where(noisy, 9.0, 1.2), n_pixels).astype(np.float32)
        if not is_pedestal:
            image[100:140] += 50.0  # a shower
        mjd = 60000.0 + i / 86400.0
        event = _event(image, i, is_pedestal, mjd)
        reference.fill(event)
        mean, std, outliers = ours.statistics(TEL_ID)
        stats = event.monitoring.tel[TEL_ID].camera.pixel_statistics.pedestal_image
        if stats.std is None:
            assert std is None and not outliers.any()
        else:
            np.testing.assert_allclose(std, stats.std[0], rtol=1e-12, equal_nan=True)
            np.testing.assert_allclose(mean, stats.mean[0], rtol=1e-12, atol=1e-15, equal_nan=True)
            mask = event.monitoring.tel[TEL_ID].camera.coefficients.outlier_mask[0]
            np.testing.assert_array_equal(outliers, mask)
        reference.update(event)
        ours.add(TEL_ID, image, is_pedestal, i, mjd)
    assert outliers.sum() >= noisy.sum() // 2  # the noisy pixels are found
    expected, got = reference.to_tables()[TEL_ID], ours.to_tables()[TEL_ID]
    assert len(got) == len(expected) > 5
    assert list(got["from_shower_events"]) == list(expected["from_shower_events"])
    assert got["from_shower_events"][0] and not got["from_shower_events"][-1]
    for name in ("mean", "median", "std"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(got["event_id_end"], expected["event_id_end"])
    np.testing.assert_allclose(got["time_end"].mjd, expected["time_end"].mjd, rtol=0, atol=1e-9)


def test_numba_helpers_equal_numpy():
    rng = np.random.default_rng(3)
    window = rng.normal(size=(30, 200))
    window[rng.random(window.shape) < 0.3] = np.nan
    window[:, 0] = np.nan  # no entry
    window[1:, 1] = np.nan  # one entry: std undefined
    mean, std = window_mean_std(window)
    full_mean, median, full_std = window_statistics(window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN and one-entry pixels
        np.testing.assert_allclose(mean, np.nanmean(window, axis=0), rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(
            std, np.nanstd(window, axis=0, ddof=1), rtol=1e-12, equal_nan=True
        )
        np.testing.assert_allclose(full_mean, mean, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(full_std, std, rtol=1e-12, equal_nan=True)
        # the medians exactly (radix selection with 256 bins)
        np.testing.assert_array_equal(median, np.nanmedian(window, axis=0))
    geometry = sst1m_subarray().tel[TEL_ID].camera.geometry
    matrix = geometry.neighbor_matrix_sparse.tocsr()
    image = rng.normal(size=geometry.n_pixels)
    image[500:520] += 20
    ours = quiet_pixels(image, matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), 3.0)
    expected = quiet_pixel_mask(image, geometry.neighbor_matrix_sparse, 3.0)
    np.testing.assert_array_equal(ours, expected)
    assert 20 < (~ours).sum() < 200


def test_radix_median_equals_numpy():
    """The radix-selection median is numpy's, ties, zeros and negative values included."""
    rng = np.random.default_rng(11)
    keys, work = np.empty(1400, np.uint64), np.empty(1400, np.uint64)
    for n, trial in itertools.product([*range(1, 40), 100, 1295, 1296], range(12)):
        values = rng.normal(size=n) * 10.0 ** rng.integers(-3, 3)
        if trial % 3 == 0:
            values = np.round(values)  # many ties
        if trial % 4 == 0:
            values[: n // 2] = 0.0
        if trial % 5 == 0:
            values = -np.abs(values)
        expected = np.median(values)
        for bins in (2**8, 2**11):  # window medians, image medians
            counts = np.empty(bins, np.int64)
            got = median_radix(values.copy(), n, keys, work, counts)
            assert got == expected, (n, trial, bins)


def test_quiet_values_symmetric_equals_general():
    """The bright-pixel neighbour marking gives the per-pixel test's window entries."""
    geometry = sst1m_subarray().tel[TEL_ID].camera.geometry
    matrix = geometry.neighbor_matrix_sparse.tocsr()
    indptr, indices = matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)
    rng = np.random.default_rng(7)
    n_blanked = []
    for trial in range(30):
        image = rng.normal(0.0, 1.2, geometry.n_pixels).astype(np.float32)
        start = rng.integers(0, geometry.n_pixels - 60)
        image[start : start + rng.integers(1, 60)] += rng.uniform(5, 100)
        if trial == 0:
            image[5] = np.nan  # numpy's NaN median: everything blanked or not alike
        expected = quiet_values(image, indptr, indices, 3.0)
        got = quiet_values_symmetric(image, indptr, indices, 3.0)
        np.testing.assert_array_equal(got, expected)  # NaN positions included
        n_blanked.append(np.isnan(got).sum())
    assert min(n_blanked[1:]) > 0
