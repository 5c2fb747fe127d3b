"""`MCEventBlock`: consecutive array events of a simulated production, in columns.

A simulator that yields one ``ArrayEventContainer`` per event spends more CPU on the
containers (about 15 per event), their ``Quantity`` and ``Time`` values and the table
writer's row-by-row conversion of them than on writing the bytes. A block holds the same
events as numpy columns: `ChunkedDataWriter.write_block` appends them to the tables of
ctapipe's ``DataWriter`` a block at a time, and `MCEventBlock.events` rebuilds the
containers an ``EventSource`` yields (the same values, so both routes give the same file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.time import Time
from ctapipe.containers import (
    ArrayEventContainer,
    DL1CameraContainer,
    EventIndexContainer,
    EventType,
    PixelStatus,
    R0CameraContainer,
    R1CameraContainer,
    SimulatedCameraContainer,
    SimulatedEventContainer,
    SimulatedShowerContainer,
    TelescopeImpactParameterContainer,
    TelescopePointingContainer,
    TelescopeTriggerContainer,
)

__all__ = ["G_CM2", "PIXEL_STORED", "MCEventBlock", "MCEventBlockBuilder"]

PIXEL_STORED = np.uint8(PixelStatus.HIGH_GAIN_STORED)
#: unit of depths (built once: composing it costs about 0.3 ms)
G_CM2 = u.g / u.cm**2

#: per-event columns of a block (float64 unless named in `_INT_COLUMNS`)
_EVENT_COLUMNS = (
    "event_id",
    "energy_tev",
    "alt_rad",
    "az_rad",
    "core_x_m",
    "core_y_m",
    "h_first_int_m",
    "x_max_g_cm2",
    "pointing_alt_rad",
    "pointing_az_rad",
)
#: per telescope-event columns (one row per triggered telescope, events in order)
_TEL_COLUMNS = ("tel_event", "tel_id", "n_trigger_pixels", "true_image_sum", "impact_m")
_INT_COLUMNS = ("event_id", "tel_event", "tel_id", "n_trigger_pixels", "true_image_sum")


@dataclass
class MCEventBlock:
    """Consecutive triggered array events of an MC production (event type SUBARRAY).

    Per event (length n): ``event_id``, shower truth (``energy_tev``, ``alt_rad``,
    ``az_rad``, ``core_x_m``, ``core_y_m``, ``h_first_int_m`` above the observatory,
    ``x_max_g_cm2``), the pointing (``pointing_alt_rad``, ``pointing_az_rad``) and the
    trigger ``time``. Per triggered telescope of each event (length m, event by event,
    telescopes in subarray order): ``tel_event`` (index of its event), ``tel_id``,
    ``n_trigger_pixels``, ``true_image_sum``, ``impact_m``, ``true_image`` (m, n_pixels),
    ``r1`` (m arrays (n_pixels, n_samples), float32) and ``r0`` (m ADC arrays, or None).
    The waveforms stay separate arrays: stacking them would copy the bulk of the data
    once more before the writer converts them. ``r1_stored``: the R1 waveforms as the
    file stores them, made by ``r1_encoder`` (e.g.
    `ChunkedDataWriter.r1_waveform_encoder`) as each was made, while still in the CPU
    cache (converting a block's waveforms later reads them back from memory: about
    three times the CPU); None when not made.
    """

    obs_id: int
    first_count: int
    shower_primary_id: int
    time: Time
    event_id: np.ndarray
    energy_tev: np.ndarray
    alt_rad: np.ndarray
    az_rad: np.ndarray
    core_x_m: np.ndarray
    core_y_m: np.ndarray
    h_first_int_m: np.ndarray
    x_max_g_cm2: np.ndarray
    pointing_alt_rad: np.ndarray
    pointing_az_rad: np.ndarray
    tel_event: np.ndarray
    tel_id: np.ndarray
    n_trigger_pixels: np.ndarray
    true_image_sum: np.ndarray
    impact_m: np.ndarray
    true_image: np.ndarray
    r1: list[np.ndarray]
    r0: list[np.ndarray] | None = None
    r1_stored: list[np.ndarray] | None = None
    r1_encoder: Callable[[np.ndarray], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.event_id)

    def tel_ids_of(self, i: int) -> np.ndarray:
        """The triggered telescopes of event ``i``."""
        return self.tel_id[self.tel_event == i]

    def events(self) -> Iterator[ArrayEventContainer]:
        """The events as the containers an ``EventSource`` yields."""
        for i in range(len(self)):
            yield self.event(i)

    def event(self, i: int) -> ArrayEventContainer:
        """Event ``i`` as the containers an ``EventSource`` yields."""
        rows = range(*np.searchsorted(self.tel_event, [i, i + 1]))
        time = self.time[i]
        event = ArrayEventContainer(
            index=EventIndexContainer(obs_id=self.obs_id, event_id=int(self.event_id[i])),
            count=self.first_count + i,
        )
        event.trigger.time = time
        event.trigger.event_type = EventType.SUBARRAY
        event.trigger.tels_with_trigger = self.tel_id[rows.start : rows.stop].copy()
        event.simulation = SimulatedEventContainer(
            shower=SimulatedShowerContainer(
                energy=u.Quantity(self.energy_tev[i], u.TeV),
                alt=u.Quantity(self.alt_rad[i], u.rad),
                az=u.Quantity(self.az_rad[i], u.rad),
                core_x=u.Quantity(self.core_x_m[i], u.m),
                core_y=u.Quantity(self.core_y_m[i], u.m),
                h_first_int=u.Quantity(self.h_first_int_m[i], u.m),
                x_max=u.Quantity(self.x_max_g_cm2[i], G_CM2),
                starting_grammage=u.Quantity(0.0, G_CM2),
                shower_primary_id=self.shower_primary_id,
            )
        )
        for k in rows:
            tel_id = int(self.tel_id[k])
            event.simulation.tel[tel_id] = SimulatedCameraContainer(
                true_image_sum=int(self.true_image_sum[k]),
                true_image=self.true_image[k],
                impact=TelescopeImpactParameterContainer(
                    distance=u.Quantity(self.impact_m[k], u.m), distance_uncert=u.Quantity(0.0, u.m)
                ),
            )
            self._fill_telescope(event, i, k, tel_id, time)
            event.dl1.tel[tel_id] = DL1CameraContainer()
        return event

    def _fill_telescope(self, event, i: int, k: int, tel_id: int, time: Time):
        event.trigger.tel[tel_id] = TelescopeTriggerContainer(
            time=time,
            n_trigger_pixels=int(self.n_trigger_pixels[k]),
            event_type=EventType.SUBARRAY,
        )
        r1 = self.r1[k]
        event.r1.tel[tel_id] = R1CameraContainer(
            waveform=r1[np.newaxis],
            event_type=EventType.SUBARRAY,
            event_time=time,
            pixel_status=np.full(len(r1), PIXEL_STORED, dtype=np.uint8),
            selected_gain_channel=np.zeros(len(r1), dtype=np.int8),
        )
        if self.r0 is not None:
            event.r0.tel[tel_id] = R0CameraContainer(waveform=self.r0[k][np.newaxis])
        event.monitoring.tel[tel_id].pointing = TelescopePointingContainer(
            altitude=u.Quantity(self.pointing_alt_rad[i], u.rad),
            azimuth=u.Quantity(self.pointing_az_rad[i], u.rad),
        )


class MCEventBlockBuilder:
    """Collects events one by one (plain values, no containers) into an `MCEventBlock`.

    Parameters
    ----------
    obs_id, shower_primary_id : int
        Run and CORSIKA particle id of every event.
    first_count : int
        ``count`` of the first event (the number of events yielded before it).
    r1_encoder : callable or None
        Makes `MCEventBlock.r1_stored` from each R1 waveform as it is added.
    """

    def __init__(
        self,
        obs_id: int,
        shower_primary_id: int,
        first_count: int,
        r1_encoder: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.obs_id = obs_id
        self.shower_primary_id = shower_primary_id
        self.first_count = first_count
        self.r1_encoder = r1_encoder
        self._events = {name: [] for name in _EVENT_COLUMNS}
        self._tels = {name: [] for name in (*_TEL_COLUMNS, "true_image", "r1", "r0", "r1_stored")}

    def __len__(self) -> int:
        return len(self._events["event_id"])

    def add_event(self, event_id: int, **shower: float):
        """Start an event: its id and the per-event values named in `MCEventBlock`."""
        self._events["event_id"].append(event_id)
        for name in _EVENT_COLUMNS[1:]:
            self._events[name].append(shower[name])

    def add_telescope(self, tel_id: int, n_trigger_pixels: int, true_image, impact_m, r1, r0):
        """A triggered telescope of the last event (``r0`` None when not kept)."""
        columns = self._tels
        columns["tel_event"].append(len(self) - 1)
        columns["tel_id"].append(tel_id)
        columns["n_trigger_pixels"].append(n_trigger_pixels)
        columns["true_image_sum"].append(true_image.sum())
        columns["impact_m"].append(impact_m)
        columns["true_image"].append(true_image.astype(np.int32))
        columns["r1"].append(r1)
        columns["r0"].append(r0)
        if self.r1_encoder is not None:
            columns["r1_stored"].append(self.r1_encoder(r1))

    def block(self, time: Time) -> MCEventBlock:
        """The block; ``time``: the trigger time of each event."""
        columns = {
            name: np.array(values, dtype=np.int64 if name in _INT_COLUMNS else np.float64)
            for name, values in (*self._events.items(), *self._tels.items())
            if name not in ("true_image", "r1", "r0", "r1_stored")
        }
        r0 = self._tels["r0"]
        return MCEventBlock(
            obs_id=self.obs_id,
            first_count=self.first_count,
            shower_primary_id=self.shower_primary_id,
            time=time,
            true_image=np.stack(self._tels["true_image"]),
            r1=self._tels["r1"],
            r0=None if r0[0] is None else r0,
            r1_stored=None if self.r1_encoder is None else self._tels["r1_stored"],
            r1_encoder=self.r1_encoder,
            **columns,
        )
