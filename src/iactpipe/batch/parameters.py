"""
Numba DL1 image parameters over a chunk: Hillas, timing, leakage, concentration,
morphology, intensity and peak-time statistics, as ctapipe's ``ImageProcessor``
computes them (``ctapipe.image.hillas``, ``timing``, ``leakage``, ``concentration``,
``morphology``, ``statistics``), one row per telescope event.

The timing fit calls ctapipe's own numba least-trimmed-squares regression with
ctapipe's random generator, so with the same generator state and the same event
order it draws the same samples as the per-event path.
"""

from __future__ import annotations

import numpy as np
from ctapipe.fitting import _lts_linear_regression
from numba import njit

from .cleaning import label_islands

__all__ = ["COLUMNS", "parametrize_chunk"]

#: Output columns of `parametrize_chunk`, in order; names are ctapipe's DL1
#: parameter-table columns. Angles are in rad and lengths in the units of the
#: pixel coordinates given (deg in the telescope frame); the writer converts.
COLUMNS = (
    "hillas_intensity",
    "hillas_skewness",
    "hillas_kurtosis",
    "hillas_fov_lon",
    "hillas_fov_lat",
    "hillas_r",
    "hillas_phi",
    "hillas_length",
    "hillas_length_uncertainty",
    "hillas_width",
    "hillas_width_uncertainty",
    "hillas_psi",
    "hillas_psi_uncertainty",
    "hillas_transverse_cog_uncertainty",
    "timing_intercept",
    "timing_deviation",
    "timing_slope",
    "leakage_pixels_width_1",
    "leakage_pixels_width_2",
    "leakage_intensity_width_1",
    "leakage_intensity_width_2",
    "concentration_cog",
    "concentration_core",
    "concentration_pixel",
    "morphology_n_pixels",
    "morphology_n_islands",
    "morphology_n_small_islands",
    "morphology_n_medium_islands",
    "morphology_n_large_islands",
    "intensity_max",
    "intensity_min",
    "intensity_mean",
    "intensity_std",
    "intensity_skewness",
    "intensity_kurtosis",
    "peak_time_max",
    "peak_time_min",
    "peak_time_mean",
    "peak_time_std",
    "peak_time_skewness",
    "peak_time_kurtosis",
)
N_COLUMNS = len(COLUMNS)
_EPS = np.finfo(np.float64).eps


@njit(cache=True)
def _weighted_moments(x, y, w):
    size = w.sum()
    cog_x = (x * w).sum() / size
    cog_y = (y * w).sum() / size
    dx = x - cog_x
    dy = y - cog_y
    # np.cov(aweights=w, ddof=0) centres the deltas once more
    mx = (dx * w).sum() / size
    my = (dy * w).sum() / size
    cxx = ((dx - mx) * (dx - mx) * w).sum() / size
    cyy = ((dy - my) * (dy - my) * w).sum() / size
    cxy = ((dx - mx) * (dy - my) * w).sum() / size
    return size, cog_x, cog_y, dx, dy, cxx, cyy, cxy


@njit(cache=True)
def _eigen(cxx, cyy, cxy):
    """Eigenvalues (small, large) of the 2x2 covariance and psi of the major axis."""
    half_trace = 0.5 * (cxx + cyy)
    root = np.sqrt((0.5 * (cxx - cyy)) ** 2 + cxy * cxy)
    small, large = half_trace - root, half_trace + root
    if cxy == 0.0:
        psi = 0.0 if cxx > cyy else np.pi / 2
    elif cxx >= cyy:
        psi = np.arctan(cxy / (large - cyy))
    else:
        psi = np.arctan((large - cxx) / cxy)
    if abs(small) <= _EPS:
        small = 0.0
    if abs(large) <= _EPS:
        large = 0.0
    return small, large, psi


@njit(cache=True)
def _hillas(x, y, area, w, out):
    size, cog_x, cog_y, dx, dy, cxx, cyy, cxy = _weighted_moments(x, y, w)
    small, large, psi = _eigen(cxx, cyy, cxy)
    width, length = np.sqrt(small), np.sqrt(large)
    skew = kurt = psi_unc = cog_unc = np.nan
    if length == 0:
        psi = np.nan
    else:
        cos_psi, sin_psi = np.cos(psi), np.sin(psi)
        longi = dx * cos_psi + dy * sin_psi
        trans = -dx * sin_psi + dy * cos_psi
        skew = (longi**3 * w).sum() / size / length**3
        kurt = (longi**4 * w).sum() / size / length**4
        wa = w / area
        s_ll, s_l, s_1 = (wa * longi * longi).sum(), (wa * longi).sum(), wa.sum()
        det = s_ll * s_1 - s_l * s_l
        inv00, inv01, inv11 = s_1 / det, -s_l / det, s_ll / det
        s_lt, s_t = (wa * longi * trans).sum(), (wa * trans).sum()
        p0 = inv00 * s_lt + inv01 * s_t
        psi_unc = np.sqrt(inv00 + p0 * p0) * (1.0 + np.tan(width / length * np.pi / 2.0) ** 2)
        cog_unc = np.sqrt(inv11 * (1.0 + np.sin(p0) ** 2))
    cos_2psi = np.cos(2 * psi)
    a, b, c = (1 + cos_2psi) / 2, (1 - cos_2psi) / 2, np.sin(2 * psi)
    big_a = (dx**2 - cxx) / size
    big_b = (dy**2 - cyy) / size
    big_c = (dx * dy - cxy) / size
    length_unc = np.nan
    width_unc = np.nan
    if length != 0:
        length_unc = np.sqrt((((a * big_a + b * big_b + c * big_c) ** 2) * w).sum()) / (2 * length)
    if width != 0:
        width_unc = np.sqrt((((b * big_a + a * big_b - c * big_c) ** 2) * w).sum()) / (2 * width)
    values = (size, skew, kurt, cog_x, cog_y, np.hypot(cog_x, cog_y), np.arctan2(cog_y, cog_x))
    for i in range(7):
        out[i] = values[i]
    more = (length, length_unc, width, width_unc, psi, psi_unc, cog_unc)
    for i in range(7):
        out[7 + i] = more[i]
    return cog_x, cog_y, length, width, psi


@njit(cache=True)
def _statistics(values, out, first):
    mean = values.mean()
    std = values.std()
    z = (values - mean) / std
    out[first] = values.max()
    out[first + 1] = values.min()
    out[first + 2] = mean
    out[first + 3] = std
    out[first + 4] = (z**3).mean()
    out[first + 5] = (z**4).mean() - 3.0


@njit(cache=True)
def _timing(longi, peak_time, rng, out):
    finite = np.isfinite(longi) & np.isfinite(peak_time)
    if finite.sum() < 2:
        beta0 = beta1 = np.nan
    else:
        beta, _ = _lts_linear_regression(longi[finite], peak_time[finite], rng, 5, 0.85, 20, 1e-12)
        beta0, beta1 = beta[0], beta[1]
    residual = longi * beta0 + beta1 - peak_time
    out[14] = beta1
    out[15] = np.sqrt((residual**2).mean())
    out[16] = beta0


@njit(cache=True)
def _row(image, peak_time, mask, geometry, rng, out, with_time):
    pix_x, pix_y, pix_area, pix_width, border1, border2, indptr, indices = geometry
    selected = np.nonzero(mask)[0]
    w = image[selected].astype(np.float64)
    x, y = pix_x[selected], pix_y[selected]
    cog_x, cog_y, length, width, psi = _hillas(x, y, pix_area[selected], w, out)
    dx, dy = x - cog_x, y - cog_y
    longi = dx * np.cos(psi) + dy * np.sin(psi)
    trans = -dx * np.sin(psi) + dy * np.cos(psi)
    if with_time:
        _timing(longi, peak_time[selected].astype(np.float64), rng, out)
    size = w.sum()
    n = selected.shape[0]
    out[17] = (border1[selected]).sum() / n
    out[18] = (border2[selected]).sum() / n
    out[19] = (w * border1[selected]).sum() / size
    out[20] = (w * border2[selected]).sum() / size
    out[21] = w[dx**2 + dy**2 < pix_width[selected] ** 2].sum() / size
    core = 0.0
    if width != 0:
        core = w[longi**2 / length**2 + trans**2 / width**2 <= 1.0].sum() / size
    out[22] = core
    out[23] = w.max() / size
    labels, n_islands = label_islands(mask, indptr, indices)
    sizes = np.bincount(labels[selected])[1:]
    out[24] = n
    out[25] = n_islands
    out[26] = (sizes <= 2).sum()
    out[28] = (sizes > 50).sum()
    out[27] = n_islands - out[26] - out[28]
    _statistics(w, out, 29)
    if with_time:
        _statistics(peak_time[selected].astype(np.float64), out, 35)


@njit(cache=True)
def parametrize_chunk(images, peak_times, masks, valid, geometry, rng, with_time=True):
    """
    DL1 parameters of a chunk of cleaned images.

    Parameters
    ----------
    images, peak_times : np.ndarray
        float32 ``(n_rows, n_pixels)`` (peak times in ns).
    masks : np.ndarray
        bool ``(n_rows, n_pixels)`` cleaning masks.
    valid : np.ndarray
        bool ``(n_rows,)``: rows that passed the image quality query; the others
        stay NaN (the writer puts ctapipe's default container values there).
    geometry : tuple
        ``(pix_x, pix_y, pix_area, pix_width, border_1, border_2, indptr, indices)``:
        float64 pixel positions, areas and widths in the parametrisation frame, the
        leakage border masks (bool) and the neighbour lists (CSR).
    rng : np.random.Generator
        Generator of the timing fit (ctapipe's ``FIT_RNG`` for the reference result).
    with_time : bool
        False: no timing fit nor peak-time statistics (NaN), as ctapipe for true images.

    Returns
    -------
    np.ndarray
        float64 ``(n_rows, len(COLUMNS))``, columns as `COLUMNS`.
    """
    n_rows = images.shape[0]
    out = np.full((n_rows, N_COLUMNS), np.nan)
    for row in range(n_rows):
        if valid[row]:
            _row(images[row], peak_times[row], masks[row], geometry, rng, out[row], with_time)
    return out
