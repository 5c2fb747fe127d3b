"""
A user-defined image cleaner: SSTImageCleaner, then drop images that are too small.

Subclassing a family base (here `iactpipe.image.SSTImageCleaner`, itself a ctapipe
`~ctapipe.image.ImageCleaner`) registers the class by name as soon as this module is
imported: ``ImageProcessor.image_cleaner_type: MyCleaner`` then selects it, its traits
are configured like any other component's, and it shows in ``--help-all``.
"""

import numpy as np
from ctapipe.core.traits import IntTelescopeParameter

from iactpipe.image import SSTImageCleaner

__all__ = ["MyCleaner"]


def drop_small_images(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """The cleaning ``mask``, or an all-False mask if it keeps fewer than ``min_pixels``."""
    if np.count_nonzero(mask) < min_pixels:
        return np.zeros_like(mask, dtype=bool)
    return mask


class MyCleaner(SSTImageCleaner):
    """SST-1M NSB-adaptive cleaning; images with fewer than ``min_pixels`` pixels are emptied."""

    min_pixels = IntTelescopeParameter(
        default_value=5,
        help="Images with fewer surviving pixels than this are emptied (no pixel kept).",
    ).tag(config=True)

    def __call__(self, tel_id, image, arrival_times=None, *, monitoring=None):
        """Clean one image (see `SSTImageCleaner.__call__`), then apply ``min_pixels``."""
        mask = super().__call__(tel_id, image, arrival_times, monitoring=monitoring)
        return drop_small_images(mask, self.min_pixels.tel[tel_id])
