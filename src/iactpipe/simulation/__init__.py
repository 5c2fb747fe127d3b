"""A fast, semi-analytic toy simulator of SST-1M showers, cameras and observation runs.

A toy, not a replacement for CORSIKA + sim_telarray: see ``docs/simulate.rst`` for the
parametrisations and their sources.
"""

from .camera import CameraResponse, pulse_template
from .cherenkov import CherenkovImageModel
from .corsika import CorsikaPhotonImager
from .corsika_source import CorsikaSimulationSource
from .generator import ShowerBatch, ShowerGenerator
from .observation import ObservationPlan, ObservationRun
from .optics import DaviesCottonOptics
from .source import ToySimulationSource
from .telescope_files import TelescopeFileHeader, single_telescope_event
from .trigger import CameraTrigger

__all__ = [
    "CameraResponse",
    "CameraTrigger",
    "CherenkovImageModel",
    "CorsikaPhotonImager",
    "CorsikaSimulationSource",
    "DaviesCottonOptics",
    "ObservationPlan",
    "ObservationRun",
    "ShowerBatch",
    "ShowerGenerator",
    "TelescopeFileHeader",
    "ToySimulationSource",
    "pulse_template",
    "single_telescope_event",
]
