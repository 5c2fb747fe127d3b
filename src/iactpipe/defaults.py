"""
SST-1M default settings that differ from ctapipe's own defaults.

They are applied with the *lowest* priority: anything a user sets in a config file
or on the command line wins. ``iactpipe-quickstart`` writes them out for editing.
"""

from __future__ import annotations

from collections.abc import Mapping

from traitlets.config import Config

__all__ = ["SST1M_DL1_DEFAULTS", "with_defaults"]

#: R0/R1 -> DL1: SST-1M practice (sst1mpipe) for extraction; cleaning by the
#: NSB-adaptive SSTImageCleaner.
SST1M_DL1_DEFAULTS: dict = {
    "CameraCalibrator": {
        "image_extractor_type": [["type", "*", "LocalPeakWindowSum"]],
        "invalid_pixel_handler_type": "NeighborAverage",
    },
    "LocalPeakWindowSum": {
        "window_width": [["type", "*", 7]],
        "window_shift": [["type", "*", 3]],
        "apply_integration_correction": [["type", "*", True]],
    },
    "ImageProcessor": {
        "image_cleaner_type": "SSTImageCleaner",
        "use_telescope_frame": True,
    },
}


def with_defaults(config: Config, defaults: Mapping) -> Config:
    """
    Return ``config`` on top of ``defaults``: values in ``config`` take precedence.

    Parameters
    ----------
    config : traitlets.config.Config
        The user's configuration (config files and command line).
    defaults : Mapping
        Lower-priority default values, ``{ClassName: {trait: value}}``.
    """
    merged = Config(defaults)
    merged.merge(config)
    return merged
