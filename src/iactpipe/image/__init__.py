"""Image-level algorithms: the SST-1M NSB-adaptive image cleaner, DL1 event selection."""

from .cleaning import (
    NSB_LEVEL_KEYS,
    SSTImageCleaner,
    pixel_picture_thresholds,
    select_nsb_level,
    sst_image_cleaning,
    validate_nsb_levels,
)
from .selection import DEFAULT_DL1_SELECTION, DL1EventSelection

__all__ = [
    "DEFAULT_DL1_SELECTION",
    "NSB_LEVEL_KEYS",
    "DL1EventSelection",
    "SSTImageCleaner",
    "pixel_picture_thresholds",
    "select_nsb_level",
    "sst_image_cleaning",
    "validate_nsb_levels",
]
