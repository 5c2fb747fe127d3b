"""R0 -> R1 calibration of SST-1M data and pedestal (NSB) monitoring.

- `R0R1Calibrator`: baseline subtraction, dc -> p.e., saturation and bad-pixel flags,
  NSB voltage-drop correction (model in `iactpipe.calib.voltage_drop`).
- `PedestalMonitor`: sliding-window pedestal statistics in p.e. for the image cleaner
  and the DL1 monitoring tables, from the images as extracted (`ExtractedImages`: before
  the invalid-pixel interpolation).
- `read_pixel_calibration`: per-pixel calibration files.
"""

from .calibration_file import PixelCalibration, read_pixel_calibration
from .pedestal import (
    ExtractedImages,
    PedestalMonitor,
    SlidingWindowStatistics,
    quiet_pixel_mask,
    std_outliers,
)
from .r0r1 import R0R1Calibrator, calibrate_waveforms, pulse_area_ns
from .voltage_drop import gain_factor_from_baseline_shift, nsb_rate_from_gain_factor

__all__ = [
    "ExtractedImages",
    "PedestalMonitor",
    "PixelCalibration",
    "R0R1Calibrator",
    "SlidingWindowStatistics",
    "calibrate_waveforms",
    "gain_factor_from_baseline_shift",
    "nsb_rate_from_gain_factor",
    "pulse_area_ns",
    "quiet_pixel_mask",
    "read_pixel_calibration",
    "std_outliers",
]
