"""A fast, semi-analytic toy simulator of SST-1M showers, cameras and observation runs.

A toy, not a replacement for CORSIKA + sim_telarray: see ``docs/simulate.rst`` for the
parametrisations and their sources.
"""

from .camera import CameraResponse, pulse_template
from .cherenkov import CherenkovImageModel
from .generator import ShowerBatch, ShowerGenerator
from .observation import ObservationPlan, ObservationRun
from .source import TelescopeFileHeader, ToySimulationSource, single_telescope_event
from .trigger import CameraTrigger

__all__ = [
    "CameraResponse",
    "CameraTrigger",
    "CherenkovImageModel",
    "ObservationPlan",
    "ObservationRun",
    "ShowerBatch",
    "ShowerGenerator",
    "TelescopeFileHeader",
    "ToySimulationSource",
    "pulse_template",
    "single_telescope_event",
]
