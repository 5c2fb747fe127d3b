"""Image-level algorithms: the SST-1M NSB-adaptive image cleaner."""

from .cleaning import (
    NSB_LEVEL_KEYS,
    SSTImageCleaner,
    pixel_picture_thresholds,
    select_nsb_level,
    sst_image_cleaning,
    validate_nsb_levels,
)

__all__ = [
    "NSB_LEVEL_KEYS",
    "SSTImageCleaner",
    "pixel_picture_thresholds",
    "select_nsb_level",
    "sst_image_cleaning",
    "validate_nsb_levels",
]
