"""
Stereo combination of the telescopes' mono predictions.

Energy and gammaness: weighted means (weights: intensity, aspect-weighted intensity or
none) with the weighted standard deviation as a consistency quantity. Direction: each
telescope predicts a displacement from its image centroid, but the sign of the
displacement is the least certain part; as in MARS, the combination of signs is chosen
that brings the telescopes' predicted source positions closest together, and the
distance left between them (``disp_distance``) is kept for cuts.

Arrays are ``(n_events, n_telescopes)`` with NaN where a telescope has no valid
prediction; the functions are pure numpy.
"""

from __future__ import annotations

import itertools

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Bool, CaselessStrEnum

__all__ = [
    "StereoCombination",
    "combination_weights",
    "pair_distance",
    "resolve_disp_signs",
    "weighted_mean_std",
]

WEIGHTS = ("intensity", "aspect_weighted_intensity", "none")


def combination_weights(
    method: str | None, intensity: np.ndarray, length: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """
    Per-telescope weights: ``intensity``, ``aspect_weighted_intensity``
    (intensity * length / width, as ctapipe), or ``none`` / None (equal weights).
    Non-finite or negative weights become 0.
    """
    if method is None or method == "none":
        weights = np.ones_like(np.asarray(intensity, dtype=float))
    elif method == "intensity":
        weights = np.asarray(intensity, dtype=float).copy()
    elif method == "aspect_weighted_intensity":
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = (
                np.asarray(intensity, float) * np.asarray(length, float) / np.asarray(width, float)
            )
    else:
        raise ValueError(f"unknown weights {method!r}, choose from {WEIGHTS} or None")
    return np.where(np.isfinite(weights) & (weights > 0), weights, 0.0)


def weighted_mean_std(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Weighted mean and standard deviation along axis 1, ignoring NaN values.

    Where all weights of the valid values are zero, equal weights are used; where no
    value is valid, the result is NaN.
    """
    valid = np.isfinite(values)
    w = np.where(valid, weights, 0.0)
    no_weight = (w.sum(axis=1) == 0) & valid.any(axis=1)
    w[no_weight] = valid[no_weight].astype(float)
    total = w.sum(axis=1)
    v = np.where(valid, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * v).sum(axis=1) / total
        var = (w * (v - mean[:, None]) ** 2).sum(axis=1) / total
    return mean, np.sqrt(var)


def resolve_disp_signs(
    cog_x: np.ndarray, cog_y: np.ndarray, disp_x: np.ndarray, disp_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """
    The signs (+1 keeps, -1 flips each telescope's displacement) that minimise the sum
    of squared distances between the telescopes' source positions ``cog + sign * disp``.

    Parameters
    ----------
    cog_x, cog_y, disp_x, disp_y : np.ndarray
        ``(n_events, n_telescopes)`` in one common frame (deg); NaN for no prediction.

    Returns
    -------
    signs : np.ndarray
        ``(n_events, n_telescopes)``: the chosen signs (+1 for single-telescope events,
        NaN-free).
    disp_distance : np.ndarray
        RMS distance between the valid telescopes' chosen positions (deg), NaN for
        events with fewer than two valid telescopes.
    """
    n_events, n_tel = cog_x.shape
    valid = np.isfinite(cog_x) & np.isfinite(disp_x) & np.isfinite(cog_y) & np.isfinite(disp_y)
    x0, y0 = np.where(valid, cog_x, 0.0), np.where(valid, cog_y, 0.0)
    dx, dy = np.where(valid, disp_x, 0.0), np.where(valid, disp_y, 0.0)
    best = np.full(n_events, np.inf)
    signs = np.ones((n_events, n_tel))
    pairs = list(itertools.combinations(range(n_tel), 2))
    n_pairs = np.zeros(n_events)
    for i, j in pairs:
        n_pairs += valid[:, i] & valid[:, j]
    # the first telescope's sign can be fixed to +1 only if the solution is symmetric;
    # it is not (cog differ), so all 2**n combinations are tried
    for combo in itertools.product((1.0, -1.0), repeat=n_tel):
        s = np.array(combo)
        px, py = x0 + s * dx, y0 + s * dy
        cost = np.zeros(n_events)
        for i, j in pairs:
            both = valid[:, i] & valid[:, j]
            cost += np.where(both, (px[:, i] - px[:, j]) ** 2 + (py[:, i] - py[:, j]) ** 2, 0)
        better = cost < best - 1e-12
        best = np.where(better, cost, best)
        signs[better] = s
    single = n_pairs == 0
    signs[single] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.where(single, np.nan, np.sqrt(best / np.maximum(n_pairs, 1)))
    return signs, distance


def pair_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """RMS distance between the valid positions of each event (NaN: fewer than two)."""
    valid = np.isfinite(x) & np.isfinite(y)
    total, n_pairs = np.zeros(len(x)), np.zeros(len(x))
    for i, j in itertools.combinations(range(x.shape[1]), 2):
        both = valid[:, i] & valid[:, j]
        d2 = (x[:, i] - x[:, j]) ** 2 + (y[:, i] - y[:, j]) ** 2
        total += np.where(both, d2, 0.0)
        n_pairs += both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pairs > 0, np.sqrt(total / np.maximum(n_pairs, 1)), np.nan)


class StereoCombination(Component):
    """
    Combine the telescopes' mono energies, gammaness and directions of each event.
    """

    weights = CaselessStrEnum(
        WEIGHTS,
        default_value="intensity",
        allow_none=True,
        help="Weights of the telescopes in the means (None means equal weights)",
    ).tag(config=True)
    resolve_sign = Bool(
        True,
        help=(
            "Choose the disp signs that bring the telescopes' positions closest (MARS-like); "
            "False: average the mono directions as predicted (ctapipe's StereoMeanCombiner)"
        ),
    ).tag(config=True)

    def telescope_weights(
        self, intensity: np.ndarray, length: np.ndarray, width: np.ndarray
    ) -> np.ndarray:
        """Weights ``(n_events, n_telescopes)`` of the configured kind."""
        return combination_weights(self.weights, intensity, length, width)

    def mean(self, values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and spread of ``values`` (see `weighted_mean_std`)."""
        return weighted_mean_std(values, weights)

    def log_mean(self, energy: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energy: weighted mean of log10(E); returns the energy and the spread in log10."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean, spread = weighted_mean_std(np.log10(energy), weights)
        return 10**mean, spread

    def direction(
        self,
        cog_x: np.ndarray,
        cog_y: np.ndarray,
        disp_x: np.ndarray,
        disp_y: np.ndarray,
        weights: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """
        Combined source position ``x``, ``y`` (common frame, deg), its weighted spread
        ``uncert``, the ``disp_distance`` and the chosen ``signs``.
        """
        if self.resolve_sign:
            signs, distance = resolve_disp_signs(cog_x, cog_y, disp_x, disp_y)
        else:
            signs = np.ones_like(cog_x)
            distance = np.full(len(cog_x), np.nan)
        x = cog_x + signs * disp_x
        y = cog_y + signs * disp_y
        mean_x, std_x = weighted_mean_std(x, weights)
        mean_y, std_y = weighted_mean_std(y, weights)
        if not self.resolve_sign:
            distance = pair_distance(x, y)
        return {
            "x": mean_x,
            "y": mean_y,
            "uncert": np.hypot(std_x, std_y),
            "disp_distance": distance,
            "signs": signs,
        }
