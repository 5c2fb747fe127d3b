"""Observation runs: a tracked source in wobble mode plus cosmic-ray protons.

Gamma rays follow the MAGIC log-parabola of the Crab Nebula (Aleksic et al., JHEAP 5-6
(2015) 30, pyirf ``CRAB_MAGIC_JHEAP2015``); protons the CTA IRF-document power law
(pyirf ``IRFDOC_PROTON_SPECTRUM``), isotropic within a view cone. Arrival times are a
Poisson process (uniform order statistics) with nanosecond resolution. The pointing is
the wobble position (source offset in RA/Dec at a position angle), converted to alt/az for
Ondřejov with astropy, so the zenith angle follows the source during the run.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, Angle, EarthLocation, SkyCoord
from astropy.time import Time
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity, Float, List, Unicode
from pyirf.spectral import CRAB_MAGIC_JHEAP2015, IRFDOC_PROTON_SPECTRUM

from ..io.traits import BoundedQuantity, check_ordered
from .generator import ShowerBatch, ShowerGenerator
from .geometry import altaz_to_fov

__all__ = ["ObservationPlan", "ObservationRun"]


@dataclass
class ObservationPlan:
    """Showers of a run ordered in time (ns since start) with the pointing per shower."""

    start: Time
    time_ns: np.ndarray
    batches: dict[str, ShowerBatch]
    #: for each entry of ``time_ns``: particle name and index into ``batches``
    particle: np.ndarray
    index: np.ndarray
    pointing_icrs: SkyCoord
    #: pointing grid: time (ns from start), alt (rad), unwrapped az (rad)
    grid: tuple[np.ndarray, np.ndarray, np.ndarray]

    def __len__(self) -> int:
        return len(self.time_ns)

    def pointing_at(self, time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pointing (alt, az) in rad at ``time_ns`` after the start."""
        grid_ns, alt, az = self.grid
        return np.interp(time_ns, grid_ns, alt), np.interp(time_ns, grid_ns, az) % (2 * np.pi)


class ObservationRun(Component):
    """Plan an observation run: source and proton showers, times and pointing."""

    duration = BoundedQuantity(
        default_value=60 * u.s,
        physical_type=u.physical.time,
        min=0 * u.s,
        exclusive_min=True,
        help="Run duration",
    ).tag(config=True)
    start_time = Unicode("2024-01-10T22:00:00", help="Run start (UTC, ISO format)").tag(config=True)
    source_ra = AstroQuantity(
        default_value=83.63308 * u.deg, physical_type=u.physical.angle, help="Source RA"
    ).tag(config=True)
    source_dec = AstroQuantity(
        default_value=22.0145 * u.deg, physical_type=u.physical.angle, help="Source Dec"
    ).tag(config=True)
    wobble_offset = BoundedQuantity(
        default_value=0.4 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        help="Wobble offset",
    ).tag(config=True)
    wobble_angle = AstroQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        help="Position angle (east of north) of the pointing from the source",
    ).tag(config=True)
    source_flux_scale = Float(1.0, min=0.0, help="Source flux in units of the MAGIC Crab").tag(
        config=True
    )
    gamma_energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Min gamma energy",
    ).tag(config=True)
    proton_energy_min = BoundedQuantity(
        default_value=0.8 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Min proton energy",
    ).tag(config=True)
    energy_max = BoundedQuantity(
        default_value=100 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Max energy",
    ).tag(config=True)
    gamma_scatter_radius = BoundedQuantity(
        default_value=400 * u.m,
        physical_type=u.physical.length,
        min=0 * u.m,
        help="Gamma core radius",
    ).tag(config=True)
    proton_scatter_radius = BoundedQuantity(
        default_value=400 * u.m,
        physical_type=u.physical.length,
        min=0 * u.m,
        help="Proton core radius",
    ).tag(config=True)
    proton_viewcone = BoundedQuantity(
        default_value=4.5 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=180 * u.deg,
        help="Proton view cone",
    ).tag(config=True)
    proton_flux_scale = Float(
        1.0, min=0.0, help="Proton flux in units of the reference spectrum"
    ).tag(config=True)
    cloud_passages = List(
        List(Float(), minlen=3, maxlen=3),
        default_value=[],
        help=(
            "Clouds crossing the field of view: [start_s, end_s, transmission] per passage "
            "(seconds from the run start; transmission in [0, 1]). The Cherenkov light of "
            "showers arriving in the interval is scaled by the transmission, so the trigger "
            "rate drops physically (faint showers no longer trigger). Default: clear sky."
        ),
    ).tag(config=True)

    def __init__(self, location: EarthLocation, **kwargs):
        super().__init__(**kwargs)
        check_ordered(
            self, [("gamma_energy_min", "energy_max"), ("proton_energy_min", "energy_max")]
        )
        self.location = location
        e_max = self.energy_max.to_value(u.TeV)
        self.gamma = ShowerGenerator(
            parent=self,
            particle="gamma",
            spectral_index=-CRAB_MAGIC_JHEAP2015.a,
            spectral_curvature=-CRAB_MAGIC_JHEAP2015.b,
            energy_min=self.gamma_energy_min,
            energy_max=e_max * u.TeV,
            max_scatter_radius=self.gamma_scatter_radius,
        )
        self.proton = ShowerGenerator(
            parent=self,
            particle="proton",
            spectral_index=-IRFDOC_PROTON_SPECTRUM.index,
            energy_min=self.proton_energy_min,
            energy_max=e_max * u.TeV,
            max_scatter_radius=self.proton_scatter_radius,
            viewcone=self.proton_viewcone,
        )

    def transmission_at(self, time_ns: float) -> float:
        """Atmospheric transmission (1 = clear) at ``time_ns`` after the run start.

        Overlapping passages multiply (two cloud layers).
        """
        transmission = 1.0
        for start_s, end_s, passage_transmission in self.cloud_passages:
            if start_s * 1e9 <= time_ns < end_s * 1e9:
                transmission *= passage_transmission
        return transmission

    @property
    def source_icrs(self) -> SkyCoord:
        """Source position."""
        return SkyCoord(ra=self.source_ra, dec=self.source_dec, frame="icrs")

    @property
    def pointing_icrs(self) -> SkyCoord:
        """Wobble pointing position."""
        return self.source_icrs.directional_offset_by(
            Angle(self.wobble_angle), Angle(self.wobble_offset)
        )

    def rates(self) -> dict[str, u.Quantity]:
        """Thrown shower rates (Hz) of the source gammas and the protons."""
        e_grid = np.geomspace(self.gamma_energy_min, self.energy_max, 400)
        area_g = np.pi * self.gamma_scatter_radius**2
        flux_g = np.trapezoid(CRAB_MAGIC_JHEAP2015(e_grid), e_grid) * self.source_flux_scale
        e_grid = np.geomspace(self.proton_energy_min, self.energy_max, 400)
        area_p = np.pi * self.proton_scatter_radius**2
        solid_angle = 2 * np.pi * (1 - np.cos(self.proton_viewcone)) * u.sr
        flux_p = np.trapezoid(IRFDOC_PROTON_SPECTRUM(e_grid), e_grid) * self.proton_flux_scale
        return {
            "gamma": (flux_g * area_g).to(u.Hz),
            "proton": (flux_p * area_p * solid_angle).to(u.Hz),
        }

    def pointing_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pointing alt/az (rad) at Ondřejov every 10 s of the run (time in ns from start)."""
        start = Time(self.start_time, scale="utc")
        dt = self.duration.to_value(u.s)
        grid_s = np.linspace(0, dt, max(2, int(dt / 10) + 2))
        frame = AltAz(obstime=start + grid_s * u.s, location=self.location)
        altaz = self.pointing_icrs.transform_to(frame)
        return grid_s * 1e9, altaz.alt.rad, np.unwrap(altaz.az.rad)

    def plan(self, rng: np.random.Generator) -> ObservationPlan:
        """Draw the showers of the run."""
        start = Time(self.start_time, scale="utc")
        duration_ns = int(self.duration.to_value(u.ns))
        batches, times, particles, indices = {}, [], [], []
        grid = self.pointing_grid()
        plan = ObservationPlan(
            start, np.empty(0), {}, np.empty(0), np.empty(0), self.pointing_icrs, grid
        )
        for name, rate in self.rates().items():
            n = rng.poisson(rate.to_value(u.Hz) * self.duration.to_value(u.s))
            t_ns = np.sort(rng.integers(0, duration_ns, size=n))
            alt0, az0 = plan.pointing_at(t_ns)
            offsets = None
            if name == "gamma":
                frame = AltAz(obstime=start + t_ns * u.ns, location=self.location)
                src = self.source_icrs.transform_to(frame)
                offsets = (
                    np.array(
                        [
                            altaz_to_fov(a, z, a0, z0)
                            for a, z, a0, z0 in zip(
                                src.alt.rad, src.az.rad, alt0, az0, strict=False
                            )
                        ]
                    )
                    .reshape(-1, 2)
                    .T
                )
            generator = self.gamma if name == "gamma" else self.proton
            batches[name] = generator(rng, n, alt0, az0, offsets_rad=offsets)
            times.append(t_ns)
            particles.append(np.full(n, name))
            indices.append(np.arange(n))
        time_ns = np.concatenate(times)
        order = np.argsort(time_ns, kind="stable")
        self.log.info("planned showers: %s", {k: len(b) for k, b in batches.items()})
        plan.time_ns = time_ns[order]
        plan.batches = batches
        plan.particle = np.concatenate(particles)[order]
        plan.index = np.concatenate(indices)[order]
        return plan
