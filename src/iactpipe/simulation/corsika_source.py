"""``CorsikaSimulationSource``: SST-1M MC events from CORSIKA IACT photon bunches.

The photons of every telescope sphere of a CORSIKA IACT file are ray-traced through the
SST-1M optics onto DigiCam (`iactpipe.simulation.corsika.CorsikaPhotonImager`), then go
through the toy simulator's camera response and trigger
(`iactpipe.simulation.camera.CameraResponse`, `iactpipe.simulation.trigger.CameraTrigger`),
so ``iactpipe-simulate --input-corsika FILE`` writes the same files as the toy.
Telescope ids are the CORSIKA telescope index + 1 (as sim_telarray numbers them), at
the CORSIKA positions; event ids are sim_telarray's (shower x 100 + reuse - 1).
"""

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from ctapipe.containers import (
    ArrayEventContainer,
    CoordinateFrameType,
    DL1CameraContainer,
    EventIndexContainer,
    EventType,
    ObservationBlockContainer,
    SimulatedCameraContainer,
    SimulatedEventContainer,
    SimulatedShowerContainer,
    SimulationConfigContainer,
    TelescopeImpactParameterContainer,
)
from ctapipe.core.traits import Float, Int
from ctapipe.instrument import SubarrayDescription
from tqdm.auto import tqdm
from traitlets import TraitError

from ..instrument.telescope import sst1m_telescope
from .corsika import (
    CorsikaEvent,
    CorsikaPhotonImager,
    corsika_run_info,
    corsika_telescope_positions,
    read_corsika_events,
)
from .geometry import altaz_to_ground_vector
from .source import ToySimulationSource

__all__ = ["CorsikaSimulationSource"]

#: CTA-South (Paranal) array reference of the CTA prod4 simulations (lon, lat in deg);
#: the height is the observation level of the CORSIKA file
PARANAL_LON_LAT_DEG = (-70.316345, -24.683429)


class CorsikaSimulationSource(ToySimulationSource):
    """MC events (mode ``mc`` only) from a CORSIKA IACT file, e.g. CTA prod4 run 102.

    Not chosen by ``EventSource(path)`` (``is_compatible`` is False): the
    ``iactpipe-simulate`` tool constructs it for ``--input-corsika``.
    """

    max_showers = Int(
        None, allow_none=True, min=1, help="Read only the first N CORSIKA showers (all: None)"
    ).tag(config=True)
    max_core_distance_m = Float(
        2500.0,
        min=0.0,
        help=(
            "Outer edge (m) of the core-distance bins of the thrown-shower histogram "
            "(the CORSIKA scatter radius, not stored in the IACT file)"
        ),
    ).tag(config=True)

    def __init__(self, input_url=None, config=None, parent=None, **kwargs):
        super().__init__(input_url=input_url, config=config, parent=parent, **kwargs)
        if self.mode != "mc":
            raise TraitError(
                f"CorsikaSimulationSource.mode: CORSIKA input makes MC productions only, "
                f"not {self.mode!r}"
            )
        geometry = self.subarray.tel[self.subarray.tel_ids[0]].camera.geometry
        self.imager = CorsikaPhotonImager(geometry, parent=self)

    def _make_subarray(self) -> SubarrayDescription:
        """SST-1M telescopes (ids: CORSIKA index + 1) at the CORSIKA telescope positions."""
        try:
            self.run_info = corsika_run_info(self.input_url)
            positions = corsika_telescope_positions(self.input_url)
        except Exception as err:  # eventio raises ValueError, WrongType, EOFError, ...
            raise TraitError(
                f"CorsikaSimulationSource.input_url: {self.input_url} is not a readable "
                f"CORSIKA IACT file ({type(err).__name__}: {err})"
            ) from err
        telescope = sst1m_telescope()
        location = EarthLocation.from_geodetic(
            *PARANAL_LON_LAT_DEG, height=self.run_info["obs_height_m"] * u.m
        )
        return SubarrayDescription(
            name="CORSIKA_SST1M",
            tel_positions={k + 1: pos[:3] * u.m for k, pos in enumerate(positions)},
            tel_descriptions={k + 1: telescope for k in range(len(positions))},
            reference_location=location,
        )

    @property
    def observation_blocks(self) -> dict[int, ObservationBlockContainer]:
        """One observation block, pointing at the CORSIKA primaries' direction."""
        info = self.run_info
        return {
            self.obs_id: ObservationBlockContainer(
                obs_id=np.uint64(self.obs_id),
                sb_id=np.uint64(self.obs_id),
                subarray_pointing_lat=(90 - info["zenith_deg"]) * u.deg,
                subarray_pointing_lon=info["az_deg"] * u.deg,
                subarray_pointing_frame=CoordinateFrameType.ALTAZ,
                actual_start_time=self._start,
            )
        }

    @property
    def simulation_config(self) -> dict[int, SimulationConfigContainer]:
        """What CORSIKA threw (energy range, slope, direction, reuse, site height)."""
        info = self.run_info
        alt = (90 - info["zenith_deg"]) * u.deg
        return {
            self.obs_id: SimulationConfigContainer(
                run_number=np.int32(self.obs_id),
                energy_range_min=info["energy_min_tev"] * u.TeV,
                energy_range_max=info["energy_max_tev"] * u.TeV,
                prod_site_alt=info["obs_height_m"] * u.m,
                spectral_index=info["spectral_index"],
                n_showers=min(info["n_showers"], self.max_showers or info["n_showers"]),
                shower_reuse=int(info["n_reuse"]),
                max_alt=alt,
                min_alt=alt,
                max_az=info["az_deg"] * u.deg,
                min_az=info["az_deg"] * u.deg,
                diffuse=False,
                max_viewcone_radius=0 * u.deg,
                min_viewcone_radius=0 * u.deg,
                max_scatter_range=self.max_core_distance_m * u.m,
                min_scatter_range=0 * u.m,
                core_pos_mode=1,
            )
        }

    @property
    def _core_bins(self) -> np.ndarray:
        return np.linspace(0, self.max_core_distance_m, 51)

    @property
    def _energy_bins(self) -> np.ndarray:
        info = self.run_info
        return np.geomspace(info["energy_min_tev"], info["energy_max_tev"], 41)

    @property
    def yields_event_blocks(self) -> bool:
        """Events come one by one (`ToySimulationSource.event_blocks` is the toy's)."""
        return False

    def _generator(self):
        tel_rngs = {t: np.random.default_rng([self.seed, int(t)]) for t in self.subarray.tel_ids}
        self._nsb = {t: self.camera.pixel_nsb_rates_mhz(r) for t, r in tel_rngs.items()}
        events = read_corsika_events(self.input_url, self.max_showers)
        count = 0
        for key, shower in enumerate(tqdm(events, disable=not self.progress_bar, desc="events")):
            self.n_thrown += 1
            self._count_thrown(np.hypot(shower.core_x_m, shower.core_y_m), shower.energy_tev)
            event = self._corsika_event(key, shower, count)
            if event is not None:
                count += 1
                yield event

    def _telescope_response(self, key: int, shower: CorsikaEvent):
        """{tel_id: (true image, r0, n_patches)} of the telescopes with light."""
        jitter = np.random.default_rng([self.seed, 0, 1, key]).normal(
            0, self.camera.signal_time_jitter_ns
        )
        baseline = self.camera.baseline_adc + self.camera.baseline_shift_adc
        out = {}
        for tel_id in self.subarray.tel_ids:
            bunches = shower.bunches.get(tel_id - 1)
            if bunches is None:
                continue
            rng = np.random.default_rng([self.seed, int(tel_id), 1, key])
            image = self.imager(rng, bunches, shower.alt_rad, shower.az_rad, shower.obs_height_m)
            if image.n_pe.sum() == 0:
                continue
            out[tel_id] = (image.n_pe, None, 0)
            if not self.trigger.can_trigger(image.n_pe, self.camera.gain_adc_per_pe):
                continue
            t_ref = np.sum(image.n_pe * image.mean_time_ns) / np.sum(image.n_pe)
            times = image.mean_time_ns - t_ref + self.camera.signal_time_ns + jitter
            r0 = self.camera.r0_waveforms(
                rng, image.n_pe, times, image.time_spread_ns, self._nsb[tel_id]
            )
            sample, n_patches = self.trigger(r0, baseline)
            if sample >= 0:
                out[tel_id] = (image.n_pe, r0, n_patches)
        return out

    def _corsika_event(self, key: int, shower: CorsikaEvent, count: int):
        """The array event of one CORSIKA shower/core, or None without a trigger."""
        response = self._telescope_response(key, shower)
        triggered = [t for t, (_, r0, _) in response.items() if r0 is not None]
        if not triggered:
            return None
        time = self._start + count * u.ms
        event = ArrayEventContainer(
            index=EventIndexContainer(obs_id=self.obs_id, event_id=shower.event_id), count=count
        )
        event.trigger.time = time
        event.trigger.event_type = EventType.SUBARRAY
        event.trigger.tels_with_trigger = np.array(triggered)
        event.simulation = SimulatedEventContainer(
            shower=SimulatedShowerContainer(
                energy=shower.energy_tev * u.TeV,
                alt=shower.alt_rad * u.rad,
                az=shower.az_rad * u.rad,
                core_x=shower.core_x_m * u.m,
                core_y=shower.core_y_m * u.m,
                h_first_int=(shower.h_first_int_m - shower.obs_height_m) * u.m,
                x_max=np.nan * u.g / u.cm**2,
                starting_grammage=0 * u.g / u.cm**2,
                shower_primary_id=0,
            )
        )
        axis = altaz_to_ground_vector(shower.alt_rad, shower.az_rad)
        core = np.array([shower.core_x_m, shower.core_y_m, 0.0])
        for tel_id in triggered:
            true_image, r0, n_patches = response[tel_id]
            rel = self.subarray.positions[tel_id].to_value(u.m) - core
            impact = np.linalg.norm(rel - np.dot(rel, axis) * axis)
            event.simulation.tel[tel_id] = SimulatedCameraContainer(
                true_image_sum=int(true_image.sum()),
                true_image=true_image.astype(np.int32),
                impact=TelescopeImpactParameterContainer(
                    distance=impact * u.m, distance_uncert=0 * u.m
                ),
            )
            self.n_triggered[tel_id] += 1
            self._fill_telescope(
                event,
                tel_id,
                r0,
                n_patches,
                time,
                EventType.SUBARRAY,
                shower.alt_rad,
                shower.az_rad,
            )
            event.dl1.tel[tel_id] = DL1CameraContainer()
        return event
