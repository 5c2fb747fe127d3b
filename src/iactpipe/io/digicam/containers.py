"""Containers of the DigiCam raw data (R0) read by `SST1MEventSource`."""

from enum import IntFlag

from ctapipe.containers import EventType, R0CameraContainer
from ctapipe.core import Field

__all__ = ["CameraEventType", "DigiCamR0CameraContainer", "camera_to_ctapipe_event_type"]


class CameraEventType(IntFlag):
    """DigiCam camera trigger bits (``event_type`` of the zfits event; digicampipe #244)."""

    UNKNOWN = 0x0
    PATCH7 = 0x1  #: trigger algorithm 0, 7-patch clusters
    PATCH19 = 0x2  #: trigger algorithm 1, 19-patch clusters
    MUON = 0x4  #: trigger algorithm 2, muon
    INTERNAL = 0x8  #: internal (or external) trigger: interleaved pedestal events
    EXTERNAL_MASTER = 0x10
    CONTINUOUS = 0x80  #: continuous readout marker


def camera_to_ctapipe_event_type(camera_event_type: int) -> EventType:
    """
    ctapipe `~ctapipe.containers.EventType` of a DigiCam camera trigger type.

    Internal triggers are the interleaved (random) pedestal events: ``SKY_PEDESTAL``.
    Shower triggers (7-patch, 19-patch, muon algorithms) are ``SUBARRAY``. Continuous
    readout is ``DAQ``; anything else ``UNKNOWN``.
    """
    flags = CameraEventType(int(camera_event_type) & 0xFF)
    if flags & CameraEventType.INTERNAL:
        return EventType.SKY_PEDESTAL
    if flags & (CameraEventType.PATCH7 | CameraEventType.PATCH19 | CameraEventType.MUON):
        return EventType.SUBARRAY
    if flags & CameraEventType.CONTINUOUS:
        return EventType.DAQ
    return EventType.UNKNOWN


class DigiCamR0CameraContainer(R0CameraContainer):
    """ctapipe R0 of one DigiCam event, with the DigiCam-specific fields (software order)."""

    baseline = Field(
        None,
        "Baseline computed by DigiCam from the samples before the event, in ADC"
        " (n_pixels), already divided by the stored scale",
    )
    pixel_flags = Field(None, "DigiCam pixel flags (n_pixels)")
    camera_event_type = Field(None, "DigiCam trigger bits, see CameraEventType")
    camera_event_number = Field(-1, "Event number counted by the camera")
    local_time_ns = Field(-1, "Camera clock time (ns since 1970, TAI)")
    white_rabbit_time_ns = Field(-1, "White Rabbit trigger time (ns since 1970, TAI), -1 if absent")
