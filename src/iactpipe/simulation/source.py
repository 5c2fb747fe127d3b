"""``ToySimulationSource``: a ctapipe ``EventSource`` that simulates SST-1M events.

MC mode yields array events (tel ids 1, 2 by default) with shower truth; observation
mode yields single-telescope events (tel ids 21, 22) of a run, each telescope with its
own event counter, clock offset and jitter, dead time and interleaved pedestal events.
"""

from collections.abc import Generator, Iterator

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time
from ctapipe.containers import (
    ArrayEventContainer,
    CoordinateFrameType,
    EventIndexContainer,
    EventType,
    ObservationBlockContainer,
    PointingMode,
    R0CameraContainer,
    R1CameraContainer,
    SchedulingBlockContainer,
    SimulatedShowerDistribution,
    SimulationConfigContainer,
    TelescopePointingContainer,
    TelescopeTriggerContainer,
)
from ctapipe.core.traits import Bool, CaselessStrEnum, Float, Int, List
from ctapipe.io import DataLevel, EventSource
from tqdm.auto import tqdm

from ..instrument import DATA_TEL_IDS, MC_TEL_IDS, ONDREJOV_LOCATION, sst1m_subarray
from ..io.event_block import PIXEL_STORED, MCEventBlock, MCEventBlockBuilder
from ..io.traits import BoundedQuantity
from .atmosphere import table_profile
from .camera import CameraResponse
from .cherenkov import CherenkovImageModel
from .generator import (
    PARTICLE_IDS,
    ShowerBatch,
    ShowerGenerator,
    impact_distances,
    shower_truth_rows,
)
from .observation import ObservationRun
from .streams import StreamSeeder
from .trigger import CameraTrigger

__all__ = ["ToySimulationSource"]

#: MC events per block when the source is iterated event by event (see `event_blocks`)
MC_BLOCK_EVENTS = 64
#: truth of events without a shower (pedestals)
NO_TRUTH = (-1, -1, np.nan, np.nan, np.nan, np.nan, np.nan)


class ToySimulationSource(EventSource):
    """Simulated SST-1M events from the toy shower, Cherenkov and camera models.

    Not a file reader: ``is_compatible`` is always False, so ``EventSource(path)`` never
    picks it. Construct it directly (the ``iactpipe-simulate`` tool does).
    """

    mode = CaselessStrEnum(
        ["mc", "observation"], default_value="mc", help="MC production or observation run"
    ).tag(config=True)
    seed = Int(0, help="Seed of all random numbers (same seed, same events)").tag(config=True)
    obs_id = Int(1, help="Observation (run) id").tag(config=True)
    tel_ids = List(
        Int(), default_value=[], help="Telescope ids (default: 1, 2 for MC; 21, 22 for data)"
    ).tag(config=True)
    write_r0 = Bool(False, help="Also fill R0 (ADC) waveforms").tag(config=True)
    pedestal_rate = BoundedQuantity(
        default_value=10 * u.Hz,
        physical_type=u.physical.frequency,
        min=0 * u.Hz,
        help="Observation: interleaved pedestal (SKY_PEDESTAL) events per telescope",
    ).tag(config=True)
    dead_time = BoundedQuantity(
        default_value=20 * u.us,
        physical_type=u.physical.time,
        min=0 * u.s,
        help="Dead time per trigger",
    ).tag(config=True)
    clock_offset_ns = List(
        Float(), default_value=[0.0, 250.0], help="Observation: clock offset per telescope (ns)"
    ).tag(config=True)
    clock_jitter_ns = Float(
        20.0, min=0.0, help="Observation: random clock jitter per event and telescope (ns, sigma)"
    ).tag(config=True)
    progress_bar = Bool(False, help="Show a progress bar over showers").tag(config=True)

    def __init__(self, input_url=None, config=None, parent=None, **kwargs):
        super().__init__(input_url=input_url, config=config, parent=parent, **kwargs)
        self._subarray = self._make_subarray()
        if self.allowed_tels:
            self._subarray = self._subarray.select_subarray(self.allowed_tels)
        tel = self._subarray.tel[self._subarray.tel_ids[0]]
        geometry = tel.camera.geometry
        self.image_model = CherenkovImageModel(
            geometry, tel.optics.effective_focal_length, parent=self
        )
        self.camera = CameraResponse(tel.camera.readout, geometry.n_pixels, parent=self)
        self.trigger = CameraTrigger(geometry, parent=self)
        self.generator = ShowerGenerator(parent=self)
        self.run = ObservationRun(ONDREJOV_LOCATION, parent=self)
        self.n_thrown = 0
        self.n_triggered = {tel_id: 0 for tel_id in self._subarray.tel_ids}
        self._hist = np.zeros((50, 40))
        self._start = Time(self.run.start_time, scale="utc")
        self._pointing_rows = {tel_id: [] for tel_id in self._subarray.tel_ids}
        self._truth_rows = {tel_id: [] for tel_id in self._subarray.tel_ids}
        self.metadata["is_simulation"] = self.is_simulation

    def _make_subarray(self):
        """The simulated telescopes (before ``allowed_tels``)."""
        ids = self.tel_ids or (MC_TEL_IDS if self.mode == "mc" else DATA_TEL_IDS)
        return sst1m_subarray(tel_ids=tuple(ids))

    @staticmethod
    def is_compatible(file_path) -> bool:
        """Never reads files."""
        return False

    @property
    def is_simulation(self) -> bool:
        """MC productions carry simulation truth; observation runs look like data."""
        return self.mode == "mc"

    @property
    def datalevels(self) -> tuple[DataLevel, ...]:
        """R0 and R1 waveforms."""
        return (DataLevel.R0, DataLevel.R1) if self.write_r0 else (DataLevel.R1,)

    @property
    def subarray(self):
        """The SST-1M subarray (``iactpipe.instrument.sst1m_subarray``)."""
        return self._subarray

    @property
    def atmosphere_density_profile(self):
        """The exponential atmosphere of the simulator, tabulated."""
        return table_profile()

    @property
    def scheduling_blocks(self) -> dict[int, SchedulingBlockContainer]:
        """One scheduling block per run."""
        mode = PointingMode.DRIFT if self.mode == "mc" else PointingMode.TRACK
        return {
            self.obs_id: SchedulingBlockContainer(sb_id=np.uint64(self.obs_id), pointing_mode=mode)
        }

    @property
    def observation_blocks(self) -> dict[int, ObservationBlockContainer]:
        """One observation block per run, with the (wobble) pointing."""
        if self.mode == "mc":
            lon, lat = self.generator.azimuth, 90 * u.deg - self.generator.zenith
            frame = CoordinateFrameType.ALTAZ
        else:
            lon, lat = self.run.pointing_icrs.ra, self.run.pointing_icrs.dec
            frame = CoordinateFrameType.ICRS
        ob = ObservationBlockContainer(
            obs_id=np.uint64(self.obs_id),
            sb_id=np.uint64(self.obs_id),
            subarray_pointing_lat=lat.to(u.deg),
            subarray_pointing_lon=lon.to(u.deg),
            subarray_pointing_frame=frame,
            actual_start_time=self._start,
        )
        if self.mode == "observation":
            ob.actual_duration = self.run.duration.to(u.s)
        return {self.obs_id: ob}

    @property
    def simulation_config(self) -> dict[int, SimulationConfigContainer]:
        """What was thrown (MC mode), as ``SimulationConfigContainer``."""
        if self.mode != "mc":
            return {}
        g = self.generator
        return {
            self.obs_id: SimulationConfigContainer(
                run_number=np.int32(self.obs_id),
                energy_range_min=g.energy_min.to(u.TeV),
                energy_range_max=g.energy_max.to(u.TeV),
                prod_site_alt=g.observatory_height_m * u.m,
                spectral_index=-g.spectral_index,
                n_showers=g.n_showers,
                shower_reuse=1,
                max_alt=90 * u.deg - g.zenith,
                min_alt=90 * u.deg - g.zenith,
                max_az=g.azimuth,
                min_az=g.azimuth,
                diffuse=g.is_diffuse,
                max_viewcone_radius=g.viewcone.to(u.deg),
                min_viewcone_radius=0 * u.deg,
                max_scatter_range=g.max_scatter_radius.to(u.m),
                min_scatter_range=0 * u.m,
                core_pos_mode=1,
            )
        }

    @property
    def simulated_shower_distributions(self) -> dict[int, SimulatedShowerDistribution]:
        """Thrown showers in (core distance, energy) bins, complete after iteration."""
        if self.mode != "mc":
            return {}
        return {
            self.obs_id: SimulatedShowerDistribution(
                obs_id=self.obs_id,
                hist_id=6,
                n_entries=int(self._hist.sum()),
                bins_core_dist=self._core_bins * u.m,
                bins_energy=self._energy_bins * u.TeV,
                histogram=self._hist.copy(),
            )
        }

    @property
    def _core_bins(self) -> np.ndarray:
        return np.linspace(0, self.generator.max_scatter_radius.to_value(u.m), 51)

    @property
    def _energy_bins(self) -> np.ndarray:
        g = self.generator
        return np.geomspace(g.energy_min.to_value(u.TeV), g.energy_max.to_value(u.TeV), 41)

    def _count_thrown(self, core_dist: float, energy: float):
        """Add one shower to the thrown histogram (as ``np.histogram2d``: right edges of the
        last bins inclusive, outside values dropped)."""
        if not hasattr(self, "_bins"):
            self._bins = (self._core_bins, self._energy_bins)
        k = self._thrown_bins(np.atleast_1d(core_dist), np.atleast_1d(energy))[0]
        if k >= 0:
            self._hist.flat[k] += 1

    def _thrown_bins(self, core_dist: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Flat index into the thrown histogram of each shower (-1: outside), binned as
        ``np.histogram2d`` does (right edges of the last bins inclusive)."""
        if not hasattr(self, "_bins"):
            self._bins = (self._core_bins, self._energy_bins)
        flat = np.zeros(len(core_dist), dtype=np.int64)
        inside = np.ones(len(core_dist), dtype=bool)
        for value, edges in zip((core_dist, energy), self._bins, strict=True):
            inside &= (edges[0] <= value) & (value <= edges[-1])
            idx = np.minimum(np.searchsorted(edges, value, side="right") - 1, len(edges) - 2)
            flat = flat * (len(edges) - 1) + idx
        return np.where(inside, flat, -1)

    def pixel_baselines_adc(self, tel_id: int) -> np.ndarray:
        """True baseline per pixel of ``tel_id`` (ADC, NSB shift included), once iterating."""
        return self.camera.pixel_baselines_adc(self._nsb[tel_id])

    def pointing_table(self, tel_id: int) -> Table:
        """Pointing (time, alt/az, RA/Dec) of ``tel_id`` at its events (observation mode)."""
        rows = self._pointing_rows[tel_id]
        table = Table(rows=rows, names=["time", "altitude", "azimuth"])
        table["time"] = Time(table["time"], format="mjd", scale="tai")
        table["altitude"].unit = u.rad
        table["azimuth"].unit = u.rad
        icrs = self.run.pointing_icrs
        table["ra"] = np.full(len(table), icrs.ra.deg) * u.deg
        table["dec"] = np.full(len(table), icrs.dec.deg) * u.deg
        return table

    def truth_table(self, tel_id: int) -> Table:
        """Observation mode: the true shower of each event of ``tel_id`` (side-car table).

        One row per telescope event (pedestals: ``true_shower_id`` and ``particle_id`` -1,
        NaN truth); ``true_shower_id`` is the shower's number in the run, shared by the
        telescopes that saw it. Written by ``iactpipe-simulate`` to
        ``/simulation_truth/observation/tel_NNN``.
        """
        names = [
            "obs_id",
            "event_id",
            "tel_id",
            "true_shower_id",
            "particle_id",
            "true_energy",
            "true_alt",
            "true_az",
            "true_core_x",
            "true_core_y",
        ]
        dtypes = [np.int32, np.int64, np.int16, np.int64, np.int16] + [np.float64] * 5
        rows = self._truth_rows[tel_id]
        table = Table(
            [np.array([r[k] for r in rows], dtype=d) for k, d in enumerate(dtypes)], names=names
        )
        for name, unit in (
            ("true_energy", u.TeV),
            ("true_alt", u.deg),
            ("true_az", u.deg),
            ("true_core_x", u.m),
            ("true_core_y", u.m),
        ):
            table[name].unit = unit
        return table

    def _random_streams(self):
        """The shower and per-telescope random streams of a run (and the NSB they draw)."""
        shower_rng = np.random.default_rng([self.seed, 0])
        tel_rngs = {t: np.random.default_rng([self.seed, int(t)]) for t in self.subarray.tel_ids}
        self._nsb = {t: self.camera.pixel_nsb_rates_mhz(r) for t, r in tel_rngs.items()}
        self._positions = self._tel_positions()
        # the per-shower (stream 0) and per-telescope streams of `_simulate_telescopes`
        self._streams = StreamSeeder(self.seed, [0, *map(int, self.subarray.tel_ids)])
        return shower_rng, tel_rngs

    def _generator(self) -> Generator[ArrayEventContainer, None, None]:
        shower_rng, tel_rngs = self._random_streams()
        if self.mode == "mc":
            yield from self._mc_events(shower_rng, tel_rngs)
        else:
            yield from self._observation_events(shower_rng, tel_rngs)

    def _tel_positions(self) -> np.ndarray:
        return np.array([self.subarray.positions[t].to_value(u.m) for t in self.subarray.tel_ids])

    @property
    def _min_render_pe(self) -> float:
        """Expected p.e. below which a telescope is neither rendered nor digitised."""
        return self.trigger.skip_fraction * self.trigger.threshold_adc / self.camera.gain_adc_per_pe

    def _may_render(self, batch: ShowerBatch) -> np.ndarray:
        """Showers of ``batch`` worth calling `_simulate_telescopes` for (the others
        render nothing, see `CherenkovImageModel.may_render`)."""
        return self.image_model.may_render(
            batch, self._positions, batch.obs_height_m, self._min_render_pe
        )

    def _simulate_telescopes(
        self, key: int, batch: ShowerBatch, i: int, transmission: float = 1.0, setup=None
    ):
        """Images, trigger and waveforms of shower ``i``; returns {tel_id: result}.

        Every shower (``key``: its number in the production or run) and every telescope
        of it draws from its own random stream, so a telescope that is not rendered (see
        `CherenkovImageModel.max_total_pe`) changes nothing for the others.
        ``transmission`` (< 1 under a cloud) scales the Cherenkov light. ``setup``:
        `CherenkovImageModel.cascade_setup` of ``batch`` (or None).
        """
        shower_rng = self._streams(0, key)
        min_pe = self._min_render_pe
        images = self.image_model(
            shower_rng, batch, i, self._positions, batch.obs_height_m, min_pe, setup
        )
        if transmission != 1.0:
            # time moments are light-weighted sums: scaling all three keeps the mean times
            images.pe *= transmission
            images.t_sum *= transmission
            images.t2_sum *= transmission
        jitter = shower_rng.normal(0, self.camera.signal_time_jitter_ns)
        results = {}
        gain = self.camera.gain_adc_per_pe
        mean_t = spread = None
        for k, tel_id in enumerate(self.subarray.tel_ids):
            results[tel_id] = {"true_image": None, "r0": None}
            if not images.rendered[k]:
                continue
            # the expected image decides whether to digitise; the telescope's own random
            # stream (true image, waveforms) is drawn only then: a telescope that cannot
            # trigger needs neither (only triggered telescopes' true images are written)
            if not self.trigger.can_trigger(images.pe[k], gain):
                continue
            rng = self._streams(int(tel_id), key)
            n_pe = rng.poisson(images.pe[k])
            results[tel_id]["true_image"] = n_pe
            if mean_t is None:
                mean_t, spread = images.time_moments()
            t_ref = np.sum(images.t_sum[k]) / np.sum(images.pe[k])
            times = mean_t[k] - t_ref + self.camera.signal_time_ns + jitter
            r0 = self.camera.r0_waveforms(rng, n_pe, times, spread[k], self._nsb[tel_id])
            baseline = self.camera.baseline_adc + self.camera.baseline_shift_adc
            sample, n_patches = self.trigger(r0, baseline)
            if sample >= 0:
                results[tel_id].update(r0=r0, n_patches=n_patches)
        return images, results

    def _fill_telescope(self, event, tel_id, r0, n_patches, time, event_type, alt, az):
        r1 = self.camera.r1_from_r0(r0, self._nsb[tel_id])
        event.trigger.tel[tel_id] = TelescopeTriggerContainer(
            time=time, n_trigger_pixels=n_patches, event_type=event_type
        )
        event.r1.tel[tel_id] = R1CameraContainer(
            waveform=r1[np.newaxis],
            event_type=event_type,
            event_time=time,
            pixel_status=np.full(len(r1), PIXEL_STORED, dtype=np.uint8),
            selected_gain_channel=np.zeros(len(r1), dtype=np.int8),
        )
        if self.write_r0:
            event.r0.tel[tel_id] = R0CameraContainer(waveform=r0[np.newaxis])
        event.monitoring.tel[tel_id].pointing = TelescopePointingContainer(
            altitude=u.Quantity(alt, u.rad), azimuth=u.Quantity(az, u.rad)
        )

    @property
    def yields_event_blocks(self) -> bool:
        """True when `event_blocks` can be iterated instead of the source (MC mode)."""
        return self.mode == "mc"

    def event_blocks(
        self, block_size: int = MC_BLOCK_EVENTS, r1_encoder=None
    ) -> Iterator[MCEventBlock]:
        """MC mode: the events `ToySimulationSource` yields, ``block_size`` at a time in
        columns (`iactpipe.io.event_block.MCEventBlock`), without per-event containers.
        Same seed, same events, whichever of the two is iterated. ``r1_encoder``: makes
        the stored R1 waveforms (``MCEventBlock.r1_stored``) as they are made."""
        if self.mode != "mc":
            raise ValueError("event blocks are made in MC mode only")
        shower_rng, _ = self._random_streams()
        yield from self._mc_blocks(shower_rng, block_size, r1_encoder)

    def _mc_events(self, shower_rng, tel_rngs):
        for block in self._mc_blocks(shower_rng, MC_BLOCK_EVENTS):
            yield from block.events()

    def _mc_blocks(self, shower_rng, block_size: int, r1_encoder=None) -> Iterator[MCEventBlock]:
        g = self.generator
        batch = g(shower_rng, g.n_showers)
        h_first = g.first_interaction_height_m(batch) - batch.obs_height_m
        # per-shower values as Python lists: indexing numpy arrays shower by shower costs
        # more than the whole-batch arithmetic (the same values)
        may_render = self._may_render(batch).tolist()
        # the render set-up of all showers at once (gammas; None for protons)
        setup = self.image_model.cascade_setup(batch, self._positions, batch.obs_height_m)
        thrown_bins = self._thrown_bins(
            np.hypot(batch.core_x_m, batch.core_y_m), batch.energy_tev
        ).tolist()
        truth = shower_truth_rows(batch, h_first)
        impact = impact_distances(batch, self._positions).tolist()
        # one event per ms: the times of all possible events at once (Time arithmetic
        # costs about 1 ms per call)
        times = self._start + np.arange(len(batch)) * u.ms
        block = MCEventBlockBuilder(self.obs_id, g.particle_id, 0, r1_encoder)
        hist = self._hist.reshape(-1)  # a view: counts go into the histogram
        for i in tqdm(range(len(batch)), disable=not self.progress_bar, desc="showers"):
            self.n_thrown += 1
            if thrown_bins[i] >= 0:
                hist[thrown_bins[i]] += 1
            if not may_render[i]:
                continue
            images, results = self._simulate_telescopes(i, batch, i, setup=setup)
            if all(r["r0"] is None for r in results.values()):
                continue
            self._add_mc_event(block, i, truth[i], images.x_max_g_cm2, impact[i], results)
            if len(block) == block_size:
                count = block.first_count
                yield block.block(times[count : count + len(block)])
                block = MCEventBlockBuilder(
                    self.obs_id, g.particle_id, count + len(block), r1_encoder
                )
        if len(block):
            count = block.first_count
            yield block.block(times[count : count + len(block)])

    def _add_mc_event(self, block, i, truth, x_max_g_cm2, impact, results):
        """Add shower ``i`` (``truth``: its `shower_truth_rows` values, ``impact``: its
        `impact_distances`) and its triggered telescopes (R1 made here) to ``block``."""
        block.add_event(i + 1, x_max_g_cm2=x_max_g_cm2, **truth)
        write_r0 = self.write_r0
        for k, tel_id in enumerate(self.subarray.tel_ids):
            res = results[tel_id]
            # only the triggered telescopes' truth is kept (as sim_telarray does)
            if res["r0"] is None:
                continue
            self.n_triggered[tel_id] += 1
            block.add_telescope(
                tel_id,
                res["n_patches"],
                res["true_image"],
                impact[k],
                self.camera.r1_from_r0(res["r0"], self._nsb[tel_id]),
                res["r0"] if write_r0 else None,
            )

    def _observation_events(self, shower_rng, tel_rngs):
        plan = self.run.plan(shower_rng)
        tel_ids = list(self.subarray.tel_ids)
        all_ids = list(self.tel_ids or DATA_TEL_IDS)
        offsets = {
            t: self.clock_offset_ns[all_ids.index(t) % len(self.clock_offset_ns)] for t in tel_ids
        }
        period_ns = int(1e9 / self.pedestal_rate.to_value(u.Hz))
        next_ped = {t: int(tel_rngs[t].integers(0, period_ns)) for t in tel_ids}
        busy_until = dict.fromkeys(tel_ids, -1)
        dead_ns = int(self.dead_time.to_value(u.ns))
        end_ns = int(self.run.duration.to_value(u.ns))
        state = {"counters": dict.fromkeys(tel_ids, 0), "offsets": offsets, "plan": plan}
        # the run start in TAI once (a scale conversion per event cost about 0.2 ms)
        state["start_tai"] = plan.start.tai
        may_render = {name: self._may_render(b) for name, b in plan.batches.items()}
        setups = {
            name: self.image_model.cascade_setup(b, self._positions, b.obs_height_m)
            for name, b in plan.batches.items()
        }
        for j in tqdm(range(len(plan)), disable=not self.progress_bar, desc="showers"):
            t_ns = int(plan.time_ns[j])
            for tel_id in tel_ids:
                while next_ped[tel_id] < t_ns:
                    yield self._pedestal_event(tel_id, next_ped[tel_id], tel_rngs, state)
                    next_ped[tel_id] += period_ns
            batch = plan.batches[plan.particle[j]]
            self.n_thrown += 1
            if not may_render[plan.particle[j]][plan.index[j]]:
                continue
            transmission = self.run.transmission_at(t_ns)
            _, results = self._simulate_telescopes(
                j, batch, plan.index[j], transmission, setups[plan.particle[j]]
            )
            for tel_id in tel_ids:
                res = results[tel_id]
                if res["r0"] is None or t_ns < busy_until[tel_id]:
                    continue
                busy_until[tel_id] = t_ns + dead_ns
                self.n_triggered[tel_id] += 1
                i = plan.index[j]
                truth = (
                    j + 1,
                    PARTICLE_IDS[batch.particle],
                    batch.energy_tev[i],
                    np.rad2deg(batch.alt_rad[i]),
                    np.rad2deg(batch.az_rad[i]),
                    batch.core_x_m[i],
                    batch.core_y_m[i],
                )
                yield self._telescope_event(
                    tel_id,
                    t_ns,
                    res["r0"],
                    res["n_patches"],
                    EventType.SUBARRAY,
                    tel_rngs,
                    state,
                    truth,
                )
        for tel_id in tel_ids:
            while next_ped[tel_id] < end_ns:
                yield self._pedestal_event(tel_id, next_ped[tel_id], tel_rngs, state)
                next_ped[tel_id] += period_ns

    def _pedestal_event(self, tel_id, t_ns, tel_rngs, state):
        n_pix = self.camera.n_pixels
        zeros = np.zeros(n_pix)
        r0 = self.camera.r0_waveforms(
            tel_rngs[tel_id], np.zeros(n_pix, dtype=int), zeros, zeros, self._nsb[tel_id]
        )
        return self._telescope_event(tel_id, t_ns, r0, 0, EventType.SKY_PEDESTAL, tel_rngs, state)

    def _telescope_event(
        self, tel_id, t_ns, r0, n_patches, event_type, tel_rngs, state, truth=NO_TRUTH
    ):
        """One telescope's event with its own counter and clock; ``truth`` (true shower id,
        particle id, energy, alt, az, core x, core y) goes to `truth_table`."""
        state["counters"][tel_id] += 1
        event_id = state["counters"][tel_id]
        plan = state["plan"]
        local_ns = (
            t_ns + state["offsets"][tel_id] + tel_rngs[tel_id].normal(0, self.clock_jitter_ns)
        )
        time = state["start_tai"] + u.Quantity(np.round(local_ns), u.ns)
        alt, az = plan.pointing_at(np.array([t_ns]))
        event = ArrayEventContainer(
            index=EventIndexContainer(obs_id=self.obs_id, event_id=event_id),
            count=event_id - 1,
            simulation=None,
        )
        event.trigger.time = time
        event.trigger.event_type = event_type
        event.trigger.tels_with_trigger = np.array([tel_id])
        self._fill_telescope(event, tel_id, r0, n_patches, time, event_type, alt[0], az[0])
        self._pointing_rows[tel_id].append((time.mjd, alt[0], az[0]))  # time is TAI
        self._truth_rows[tel_id].append((self.obs_id, event_id, tel_id, *truth))
        return event
