"""CORSIKA IACT photon bunches through the SST-1M optics onto DigiCam pixels.

`read_corsika_events` reads a CORSIKA IACT file (``eventio.IACTFile``; one event per
shower and core reuse) into `CorsikaEvent` records; `CorsikaPhotonImager` turns the photon
bunches of one telescope sphere into a true photo-electron image with arrival times:
Davies-Cotton ray tracing (`iactpipe.simulation.optics`), camera-body shadowing, a
constant mast/basket transmission, atmospheric extinction from the emission height
and one wavelength-averaged photon-to-p.e. efficiency (mirror reflectivity, window,
light guides, SiPM PDE over the Cherenkov spectrum of the file), Poisson per bunch.

Coordinates: CORSIKA's IACT output gives bunch positions (cm) relative to each telescope
sphere centre in the array frame (x north, y west, the ground frame of ctapipe) and
direction cosines of the photons' travel; the primary's azimuth is CORSIKA's momentum
azimuth rotated by the array angle (``ARRANG``) into that frame.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float
from ctapipe.instrument import CameraGeometry

from .atmosphere import RHO0_G_CM3, SCALE_HEIGHT_M, vertical_depth
from .cherenkov import PixelLookup
from .optics import DaviesCottonOptics

__all__ = [
    "CorsikaEvent",
    "CorsikaPhotonImager",
    "TrueImage",
    "corsika_run_info",
    "corsika_telescope_positions",
    "read_corsika_events",
]


@dataclass
class CorsikaEvent:
    """One CORSIKA shower with one core position (SI units: TeV, m, rad)."""

    shower: int
    reuse: int
    energy_tev: float
    alt_rad: float
    az_rad: float
    core_x_m: float
    core_y_m: float
    h_first_int_m: float
    obs_height_m: float
    #: photon bunches per telescope index (0-based, CORSIKA order) with light
    bunches: dict = field(repr=False)

    @property
    def event_id(self) -> int:
        """sim_telarray's event id: shower number x 100 + reuse - 1 (``reuse`` counts
        from 1, as ``eventio`` does)."""
        return 100 * self.shower + self.reuse - 1


def read_corsika_events(path, max_showers: int | None = None) -> Iterator[CorsikaEvent]:
    """Events of a CORSIKA IACT file (``eventio.IACTFile``), in file order."""
    from eventio import IACTFile

    with IACTFile(str(path)) as f:
        for event in f:
            h = event.header
            if max_showers is not None and h["event_number"] > max_showers:
                return
            alt, az = _source_altaz(h)
            yield CorsikaEvent(
                shower=int(h["event_number"]),
                reuse=int(event.reuse),
                energy_tev=float(h["total_energy"]) / 1e3,
                alt_rad=alt,
                az_rad=az,
                core_x_m=float(event.impact_x) / 100.0,
                core_y_m=float(event.impact_y) / 100.0,
                h_first_int_m=abs(float(h["first_interaction_height"])) / 100.0,
                obs_height_m=float(h["observation_height"][0]) / 100.0,
                bunches={k: b for k, b in event.photon_bunches.items() if len(b)},
            )


def _source_altaz(header) -> tuple[float, float]:
    """(alt, az) in rad of the primary's arrival direction in the array frame."""
    phi = np.arctan2(header["momentum_y"], header["momentum_x"])
    phi -= header["angle_array_x_magnetic_north"]
    zenith = header["zenith"]
    # source direction = minus the momentum; azimuth from north towards east
    vx, vy = -np.cos(phi) * np.sin(zenith), -np.sin(phi) * np.sin(zenith)
    return float(np.pi / 2 - zenith), float(np.arctan2(-vy, vx) % (2 * np.pi))


def corsika_run_info(path) -> dict:
    """What a CORSIKA IACT file says about the run: number of showers (reads the file),
    and from the first event header energy range (TeV), spectral index (positive), core
    reuse, zenith and azimuth (deg) of the primaries, observation level (m)."""
    from eventio import IACTFile

    with IACTFile(str(path)) as f:
        showers = set()
        for event in f:
            showers.add(int(event.header["event_number"]))
            if len(showers) == 1:
                h = event.header
    alt, az = _source_altaz(h)
    return {
        "n_showers": len(showers),
        "energy_min_tev": float(h["energy_min"]) / 1e3,
        "energy_max_tev": float(h["energy_max"]) / 1e3,
        "spectral_index": -float(h["energy_spectrum_slope"]),
        "n_reuse": int(h["n_reuse"]),
        "zenith_deg": 90.0 - float(np.rad2deg(alt)),
        "az_deg": float(np.rad2deg(az)),
        "obs_height_m": float(h["observation_height"][0]) / 100.0,
    }


def corsika_telescope_positions(path) -> np.ndarray:
    """(n, 4) telescope sphere x, y, z, radius (m) of a CORSIKA IACT file."""
    from eventio import IACTFile

    with IACTFile(str(path)) as f:
        pos = f.telescope_positions
        return np.column_stack([pos["x"], pos["y"], pos["z"], pos["r"]]) / 100.0


@dataclass
class TrueImage:
    """True photo-electrons of one telescope: per pixel count, mean and r.m.s. time (ns)."""

    n_pe: np.ndarray
    mean_time_ns: np.ndarray
    time_spread_ns: np.ndarray


class CorsikaPhotonImager(Component):
    """True p.e. images of CORSIKA photon bunches in an SST-1M telescope with DigiCam.

    The efficiency is one wavelength-averaged number over the file's Cherenkov spectrum
    (``docs/simulate.rst`` gives how it was chosen and checked against sim_telarray).
    """

    photon_detection_efficiency = Float(
        0.131,
        min=0.0,
        max=1.0,
        help=(
            "Photon to p.e. probability averaged over the CORSIKA wavelength band "
            "(240-900 nm for CTA prod4): mirror reflectivity x window x light guide x "
            "SiPM PDE; 0.131 matches sim_telarray's SST-1M prod4 curves (total true p.e. "
            "of CTA prod4 run 102, docs/simulate.rst)"
        ),
    ).tag(config=True)
    telescope_transmission = Float(
        0.82,
        min=0.0,
        max=1.0,
        help="Transmission of masts and camera basket (sim_telarray TELESCOPE_TRANSMISSION)",
    ).tag(config=True)
    extinction_depth_g_cm2 = Float(
        2500.0,
        min=1.0,
        help="Vertical depth for one e-fold of atmospheric extinction (as the toy model)",
    ).tag(config=True)

    def __init__(self, geometry: CameraGeometry, **kwargs):
        super().__init__(**kwargs)
        self.optics = DaviesCottonOptics(parent=self)
        self.lookup = PixelLookup(geometry)

    def detection_probability(self, bunches, obs_height_m: float, cos_zenith: float):
        """Expected p.e. per bunch before optics: size x efficiencies x extinction."""
        h_em = np.asarray(bunches["zem"], np.float64) / 100.0
        dx = vertical_depth(obs_height_m) - RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M * np.exp(
            -h_em / SCALE_HEIGHT_M
        )
        transmission = np.exp(-np.clip(dx, 0, None) / cos_zenith / self.extinction_depth_g_cm2)
        eff = self.photon_detection_efficiency * self.telescope_transmission
        return np.asarray(bunches["photons"], np.float64) * eff * transmission

    def __call__(
        self,
        rng: np.random.Generator,
        bunches: np.ndarray,
        alt_rad: float,
        az_rad: float,
        obs_height_m: float,
    ) -> TrueImage:
        """True image of one telescope from its photon bunches (CORSIKA units)."""
        n_pix = self.lookup.n_pixels
        x, y, t, status = self.optics(
            bunches["x"] / 100.0,
            bunches["y"] / 100.0,
            bunches["cx"],
            bunches["cy"],
            bunches["time"],
            alt_rad,
            az_rad,
        )
        ok = status == 0
        i = np.floor((x[ok] - self.lookup.x0) / self.lookup.cell_m).astype(np.int64)
        j = np.floor((y[ok] - self.lookup.y0) / self.lookup.cell_m).astype(np.int64)
        nx, ny = self.lookup.table.shape
        inside = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
        pix = np.full(len(i), -1)
        pix[inside] = self.lookup.table[i[inside], j[inside]]
        mean_pe = self.detection_probability(bunches[ok], obs_height_m, np.sin(alt_rad))
        n = rng.poisson(mean_pe)
        hit = (pix >= 0) & (n > 0)
        pix, n, t = pix[hit], n[hit], t[ok][hit]
        n_pe = np.bincount(pix, weights=n, minlength=n_pix)
        t_sum = np.bincount(pix, weights=n * t, minlength=n_pix)
        t2_sum = np.bincount(pix, weights=n * t * t, minlength=n_pix)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_t = np.where(n_pe > 0, t_sum / n_pe, 0.0)
            var = np.where(n_pe > 0, t2_sum / n_pe, 0.0) - mean_t**2
        return TrueImage(n_pe.astype(np.int64), mean_t, np.sqrt(np.clip(var, 0, None)))
