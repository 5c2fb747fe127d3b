"""SST-1M DigiCam raw data: zfits event source, containers and pixel order."""

from .containers import CameraEventType, DigiCamR0CameraContainer, camera_to_ctapipe_event_type
from .pixel_mapping import readout_modules, readout_pixel_ids, software_order
from .source import SST1MEventSource, detect_baseline_scale, is_digicam_zfits, run_files

__all__ = [
    "CameraEventType",
    "DigiCamR0CameraContainer",
    "SST1MEventSource",
    "camera_to_ctapipe_event_type",
    "detect_baseline_scale",
    "is_digicam_zfits",
    "readout_modules",
    "readout_pixel_ids",
    "run_files",
    "software_order",
]
