"""Stereo combination: weights (null weights must not crash), means, disp sign resolution."""

import numpy as np
import pytest

from iactpipe.reco.combination import (
    StereoCombination,
    combination_weights,
    resolve_disp_signs,
    weighted_mean_std,
)


@pytest.mark.parametrize("method", ["intensity", "aspect_weighted_intensity", "none", None])
def test_weights_never_crash(method):
    intensity = np.array([[100.0, np.nan], [0.0, 0.0], [50.0, 150.0]])
    length = np.array([[0.2, np.nan], [0.1, 0.1], [0.2, 0.2]])
    width = np.array([[0.1, np.nan], [0.0, 0.05], [0.1, 0.1]])
    weights = combination_weights(method, intensity, length, width)
    assert np.all(np.isfinite(weights)) and np.all(weights >= 0)
    mean, _ = weighted_mean_std(np.array([[1.0, 3.0], [2.0, 4.0], [1.0, 3.0]]), weights)
    assert np.all(np.isfinite(mean))  # all-zero weights fall back to equal weights


def test_weighted_mean_ignores_missing_telescopes():
    mean, std = weighted_mean_std(np.array([[1.0, np.nan], [np.nan, np.nan]]), np.ones((2, 2)))
    assert mean[0] == 1.0 and std[0] == 0.0 and np.isnan(mean[1])


def test_sign_resolution_recovers_flipped_telescope():
    rng = np.random.default_rng(1)
    n = 1000
    source = rng.normal(0, 1, (n, 2))
    cog = source[:, None, :] + rng.normal(0, 1, (n, 2, 2))
    disp = source[:, None, :] - cog
    flip = rng.random((n, 2)) < 0.3
    given = np.where(flip[..., None], -disp, disp)
    signs, distance = resolve_disp_signs(cog[..., 0], cog[..., 1], given[..., 0], given[..., 1])
    assert np.allclose(distance, 0, atol=1e-9)
    assert np.all((signs < 0) == flip)
    combined = StereoCombination(weights=None).direction(
        cog[..., 0], cog[..., 1], given[..., 0], given[..., 1], np.ones((n, 2))
    )
    assert np.allclose(combined["x"], source[:, 0]) and np.allclose(combined["y"], source[:, 1])
    naive = StereoCombination(weights=None, resolve_sign=False).direction(
        cog[..., 0], cog[..., 1], given[..., 0], given[..., 1], np.ones((n, 2))
    )
    assert not np.allclose(naive["x"], source[:, 0])


def test_single_telescope_keeps_its_sign():
    signs, distance = resolve_disp_signs(
        np.array([[1.0, np.nan]]),
        np.array([[0.0, np.nan]]),
        np.array([[-1.0, np.nan]]),
        np.array([[0.0, np.nan]]),
    )
    assert signs[0, 0] == 1 and np.isnan(distance[0])
