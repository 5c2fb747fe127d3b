"""
Numba image cleaning over a chunk: ctapipe's tailcuts and iactpipe's SST-1M cleaner
(per-pixel picture thresholds, time constraint, brightest island), with the
neighbour lists as CSR arrays (``indptr``, ``indices``).

The semantics are those of `ctapipe.image.tailcuts_clean`,
`ctapipe.image.apply_time_delta_cleaning` and
`ctapipe.image.morphology.brightest_island`, which `iactpipe.image.sst_image_cleaning`
chains; tests compare the masks pixel by pixel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .window_kernels import median_radix

__all__ = ["clean_chunk", "label_islands", "nan_median"]


@njit(cache=True)
def nan_median(values):
    """
    numpy's ``nanmedian`` of a 1-D float64 array (NaN when every value is NaN), by
    radix selection (`median_radix`, the same value): the SST cleaner's camera median
    of the pedestal stds once per statistics version, 20 us in numpy.
    """
    n_values = values.shape[0]
    kept = np.empty(n_values)
    n = 0
    for i in range(n_values):
        value = values[i]
        kept[n] = value
        n += value == value
    if n == 0:
        return np.nan
    keys = np.empty(n, dtype=np.uint64)
    work = np.empty(n, dtype=np.uint64)
    counts = np.empty(2048, dtype=np.int64)
    return median_radix(kept, n, keys, work, counts)


@njit(cache=True)
def _tailcuts(image, picture, boundary, min_neighbors, keep_isolated, indptr, indices):
    n_pixels = image.shape[0]
    above_picture = image >= picture
    above_boundary = image >= boundary
    in_picture = above_picture.copy()
    if not keep_isolated and min_neighbors > 0:
        for pix in range(n_pixels):
            if above_picture[pix]:
                n = 0
                for k in range(indptr[pix], indptr[pix + 1]):
                    if above_picture[indices[k]]:
                        n += 1
                in_picture[pix] = n >= min_neighbors
    mask = np.zeros(n_pixels, dtype=np.bool_)
    for pix in range(n_pixels):
        # neither above the boundary nor a picture pixel: out whatever its neighbours
        # (most pixels of an image; their neighbour loop cost about 8 us per image)
        if not (above_boundary[pix] or in_picture[pix]):
            continue
        picture_neighbor = False
        boundary_neighbor = False
        for k in range(indptr[pix], indptr[pix + 1]):
            neighbor = indices[k]
            picture_neighbor |= in_picture[neighbor]
            boundary_neighbor |= above_boundary[neighbor]
        if above_boundary[pix] and picture_neighbor:
            mask[pix] = True
        elif in_picture[pix] and (keep_isolated or boundary_neighbor):
            mask[pix] = True
    return mask


@njit(cache=True)
def _time_constraint(mask, peak_time, min_neighbors, time_limit, indptr, indices):
    kept = mask.copy()
    for pix in range(mask.shape[0]):
        if not mask[pix]:
            continue
        n = 0
        for k in range(indptr[pix], indptr[pix + 1]):
            neighbor = indices[k]
            if mask[neighbor] and abs(peak_time[pix] - peak_time[neighbor]) < time_limit:
                n += 1
        kept[pix] = n >= min_neighbors
    return kept


@njit(cache=True)
def label_islands(mask, indptr, indices):
    """Island labels (0: not in ``mask``, 1..n in pixel order) and their number."""
    labels = np.zeros(mask.shape[0], dtype=np.int32)
    stack = np.empty(mask.shape[0], dtype=np.int64)
    n_islands = 0
    for start in range(mask.shape[0]):
        if not mask[start] or labels[start] != 0:
            continue
        n_islands += 1
        labels[start] = n_islands
        top = 0
        stack[top] = start
        top += 1
        while top > 0:
            top -= 1
            pix = stack[top]
            for k in range(indptr[pix], indptr[pix + 1]):
                neighbor = indices[k]
                if mask[neighbor] and labels[neighbor] == 0:
                    labels[neighbor] = n_islands
                    stack[top] = neighbor
                    top += 1
    return labels, n_islands


@njit(cache=True)
def _brightest_island(mask, image, indptr, indices):
    labels, n_islands = label_islands(mask, indptr, indices)
    if n_islands == 0:
        return mask
    brightness = np.zeros(n_islands + 1)
    for pix in range(mask.shape[0]):
        if labels[pix] > 0:
            brightness[labels[pix]] += image[pix]
    best = np.argmax(brightness)
    return labels == best


@njit(cache=True)
def clean_chunk(
    images,
    peak_times,
    picture,
    boundary,
    min_neighbors,
    keep_isolated,
    min_time_neighbors,
    time_limit,
    main_island_only,
    indptr,
    indices,
):
    """
    Cleaning masks of a chunk of images.

    Parameters
    ----------
    images, peak_times : np.ndarray
        float32 ``(n_rows, n_pixels)``.
    picture : np.ndarray
        float64 ``(n_rows, n_pixels)`` picture threshold per pixel.
    boundary : np.ndarray
        float64 ``(n_rows,)`` boundary threshold.
    min_neighbors : np.ndarray
        int64 ``(n_rows,)`` picture neighbours a picture pixel needs.
    keep_isolated, main_island_only : np.ndarray
        bool ``(n_rows,)``.
    min_time_neighbors : np.ndarray
        int64 ``(n_rows,)``; 0 disables the time constraint (plain tailcuts).
    time_limit : np.ndarray
        float64 ``(n_rows,)`` in ns; NaN disables the time constraint.
    indptr, indices : np.ndarray
        Neighbour lists (CSR).

    Returns
    -------
    np.ndarray
        bool ``(n_rows, n_pixels)``.
    """
    n_rows, n_pixels = images.shape
    masks = np.zeros((n_rows, n_pixels), dtype=np.bool_)
    for row in range(n_rows):
        image = images[row].astype(np.float64)
        mask = _tailcuts(
            image,
            picture[row],
            boundary[row],
            min_neighbors[row],
            keep_isolated[row],
            indptr,
            indices,
        )
        if not mask.any():
            continue
        if min_time_neighbors[row] > 0 and not np.isnan(time_limit[row]):
            mask = _time_constraint(
                mask, peak_times[row], min_time_neighbors[row], time_limit[row], indptr, indices
            )
        if main_island_only[row] and mask.any():
            mask = _brightest_island(mask, images[row], indptr, indices)
        masks[row] = mask
    return masks
