"""Per-telescope output files of a simulation: the header a file of one telescope
carries (`TelescopeFileHeader`, for ctapipe's ``DataWriter``) and the events reduced to
that telescope (`single_telescope_event`). ``iactpipe-simulate`` writes one file per
telescope for observation runs, zfits output and ``--split``, as the cameras
do.
"""

from typing import TYPE_CHECKING

import numpy as np
from ctapipe.containers import (
    ArrayEventContainer,
    SimulatedEventContainer,
    SimulatedShowerDistribution,
)

if TYPE_CHECKING:
    from .source import ToySimulationSource

__all__ = ["TelescopeFileHeader", "single_telescope_event"]


def single_telescope_event(event: ArrayEventContainer, tel_id: int) -> ArrayEventContainer:
    """A copy of ``event`` holding only telescope ``tel_id`` (for per-telescope files)."""
    out = ArrayEventContainer(index=event.index, count=event.count, simulation=None)
    out.trigger.time = event.trigger.tel[tel_id].time
    out.trigger.event_type = event.trigger.event_type
    out.trigger.tels_with_trigger = np.array([tel_id])
    out.trigger.tel[tel_id] = event.trigger.tel[tel_id]
    out.r1.tel[tel_id] = event.r1.tel[tel_id]
    if tel_id in event.r0.tel:
        out.r0.tel[tel_id] = event.r0.tel[tel_id]
    out.monitoring.tel[tel_id] = event.monitoring.tel[tel_id]
    out.monitoring.pointing = event.monitoring.pointing
    if event.simulation is not None:
        out.simulation = SimulatedEventContainer(shower=event.simulation.shower)
        out.simulation.tel[tel_id] = event.simulation.tel[tel_id]
        out.dl1.tel[tel_id] = event.dl1.tel[tel_id]
    return out


class TelescopeFileHeader:
    """Header information of one per-telescope output file, for ctapipe's ``DataWriter``.

    Exposes what ``DataWriter`` reads from an event source (subarray, blocks, simulation
    configuration, atmosphere), with the subarray reduced to one telescope.
    """

    def __init__(self, source: "ToySimulationSource", tel_id: int):
        self.source = source
        self.tel_id = tel_id
        self.subarray = source.subarray.select_subarray([tel_id])
        self.is_simulation = source.is_simulation
        self.scheduling_blocks = source.scheduling_blocks
        self.observation_blocks = source.observation_blocks
        self.simulation_config = source.simulation_config
        self.atmosphere_density_profile = source.atmosphere_density_profile
        self.obs_ids = source.obs_ids

    @property
    def simulated_shower_distributions(self) -> dict[int, SimulatedShowerDistribution]:
        """The thrown-shower histogram of the whole production."""
        return self.source.simulated_shower_distributions
