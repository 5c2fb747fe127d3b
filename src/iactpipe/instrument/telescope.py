"""The SST-1M telescope description: SST-1M optics with a DigiCam camera."""

from ctapipe.instrument import CameraDescription, TelescopeDescription

from .camera import DIGICAM_NAME, digicam_geometry, digicam_readout
from .optics import sst1m_optics

__all__ = ["sst1m_telescope"]


def sst1m_telescope() -> TelescopeDescription:
    """The SST-1M telescope, ``str(tel) == "SST_1M_DigiCam"``.

    Every SST-1M telescope (simulated or real, whatever its id) uses this one
    description: ctapipe keys trained models and per-type settings by telescope
    description, so a single description is what lets a model trained on simulated
    telescopes 1, 2 be applied to telescopes 21, 22.

    Returns
    -------
    ctapipe.instrument.TelescopeDescription
    """
    optics = sst1m_optics()
    camera = CameraDescription(
        name=DIGICAM_NAME,
        geometry=digicam_geometry(focal_length=optics.effective_focal_length),
        readout=digicam_readout(),
    )
    return TelescopeDescription(name="SST", optics=optics, camera=camera)
