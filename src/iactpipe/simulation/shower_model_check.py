"""The toy's semi-analytic shower model (`CherenkovImageModel`) against CORSIKA photons.

Two comparisons on the showers of a CORSIKA IACT file (CTA prod4 run 102 in
``../shared/data/corsika``: gammas, Paranal 2150 m, 20 deg zenith, 240-900 nm, no
atmospheric extinction in CORSIKA), used by ``benchmarks/toy_vs_corsika.py`` and
``tests/simulation/test_toy_vs_corsika.py``:

* `density_profiles`: Cherenkov photons per m^2 per TeV at the ground versus the
  distance of each telescope sphere from the shower axis, CORSIKA against the toy
  (`render_one_shower_pe` at the CORSIKA energies, zenith and observation level, unit
  mirror area and efficiency, extinction off, every direction counted, first interaction
  drawn from its exponential; its 300-600 nm photons scaled to 240-900 nm with the
  lambda^-2 spectrum, factor 1 / 0.545).
* `image_rows`: true images in the SST-1M camera, CORSIKA photons through
  `CorsikaPhotonImager` (which agrees with sim_telarray) against the toy's image of a
  shower of the same energy, direction and core at the same telescope.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.instrument import CameraGeometry
from traitlets.config import Config

from ..instrument.telescope import sst1m_telescope
from .atmosphere import X0_G_CM2
from .cherenkov import PHOTONS_PER_RADIATION_LENGTH, CherenkovImageModel, render_one_shower_pe
from .corsika import CorsikaPhotonImager, corsika_telescope_positions, read_corsika_events
from .generator import ShowerBatch
from .geometry import altaz_to_ground_vector

__all__ = [
    "BAND_300_600_OF_240_900",
    "DISTANCE_BINS_M",
    "ENERGY_BANDS_TEV",
    "corsika_densities",
    "density_profiles",
    "image_model",
    "image_rows",
    "median_ratio_50_300",
    "toy_density",
]

#: fraction of a lambda^-2 spectrum between 240-900 nm that lies in 300-600 nm
BAND_300_600_OF_240_900 = (1 / 300 - 1 / 600) / (1 / 240 - 1 / 900)
DISTANCE_BINS_M = np.arange(0.0, 401.0, 25.0)
ENERGY_BANDS_TEV = ((0.1, 0.3), (0.3, 1.0), (1.0, 5.0))
#: mean depth of the first interaction of a gamma (exponential)
MEAN_FIRST_DEPTH_G_CM2 = 9 / 7 * X0_G_CM2


def _impact(pos: np.ndarray, core: np.ndarray, axis: np.ndarray) -> np.ndarray:
    rel = pos - core
    return np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1)


def image_model(config: Config | None = None) -> CherenkovImageModel:
    """The toy model for the SST-1M camera with ``config`` (no light-pool pre-selection)."""
    telescope = sst1m_telescope()
    full = Config({"CherenkovImageModel": {"preselection_safety": 0.0}})
    if config is not None:
        full.merge(config)
    return CherenkovImageModel(
        telescope.camera.geometry, telescope.optics.effective_focal_length, config=full
    )


def corsika_densities(path: Path, max_showers: int | None = None) -> np.ndarray:
    """Rows (energy TeV, distance from the axis m, photons per m^2) for every telescope
    sphere of every shower and core reuse (of the first ``max_showers`` showers)."""
    tel = corsika_telescope_positions(path)
    area = np.pi * tel[0, 3] ** 2
    rows = []
    for event in read_corsika_events(path, max_showers):
        axis = altaz_to_ground_vector(event.alt_rad, event.az_rad)
        core = np.array([event.core_x_m, event.core_y_m, 0.0])
        dist = _impact(tel[:, :3], core, axis)
        photons = np.zeros(len(tel))
        for k, b in event.bunches.items():
            photons[k] = b["photons"].sum()
        rows += [(event.energy_tev, d, p / area) for d, p in zip(dist, photons, strict=True)]
    return np.array(rows)


def toy_density(
    model: CherenkovImageModel,
    energy_tev: float,
    zenith_rad: float,
    obs_height_m: float,
    distances_m: np.ndarray,
    rng: np.random.Generator,
    n_showers: int = 8,
    n_bunch: int = 4000,
) -> np.ndarray:
    """Toy photons per m^2 (240-900 nm equivalent) at ``distances_m`` from the axis,
    averaged over ``n_showers`` first-interaction depths (exponential, 9/7 X0), with the
    shape and light yield of ``model`` (its mirror area, efficiency, extinction and PSF
    are not used)."""
    d = altaz_to_ground_vector(np.pi / 2 - zenith_rad, 0.0)
    # telescopes across the axis on both sides (the geomagnetic field is not modelled)
    zero = np.zeros_like(distances_m)
    pos = np.concatenate([np.c_[zero, distances_m, zero], np.c_[zero, -distances_m, zero]])
    params = model.params.copy()
    params[3], params[4] = 1e12, 0.0  # no extinction (CORSIKA has none), no PSF
    per_track = model.track_fraction * PHOTONS_PER_RADIATION_LENGTH / BAND_300_600_OF_240_900
    total = np.zeros(len(pos))
    for _ in range(n_showers):
        x_start = rng.exponential(MEAN_FIRST_DEPTH_G_CM2)
        total += render_one_shower_pe(
            energy_tev,
            x_start,
            d,
            pos,
            obs_height_m,
            np.pi / 2 - zenith_rad,
            per_track,
            params,
            n_bunch,
            rng,
        )
    return total.reshape(2, -1).mean(axis=0) / n_showers


def density_profiles(
    rows: np.ndarray,
    model: CherenkovImageModel,
    zenith_rad: float,
    obs_height_m: float,
    seed: int = 1,
    n_showers: int = 8,
) -> dict:
    """Per energy band of `ENERGY_BANDS_TEV`: (bin centres m, CORSIKA mean density per
    TeV, toy density per TeV, number of CORSIKA spheres per bin), the toy averaged over
    the CORSIKA energies of the band."""
    centres = 0.5 * (DISTANCE_BINS_M[1:] + DISTANCE_BINS_M[:-1])
    rng = np.random.default_rng(seed)
    out = {}
    for lo, hi in ENERGY_BANDS_TEV:
        band = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
        if len(band) == 0:
            continue
        idx = np.digitize(band[:, 1], DISTANCE_BINS_M) - 1
        inside = idx < len(centres)
        n = np.bincount(idx[inside], minlength=len(centres))
        sums = np.bincount(idx[inside], (band[:, 2] / band[:, 0])[inside], len(centres))
        with np.errstate(invalid="ignore"):
            corsika = sums / n
        toy = np.mean(
            [
                toy_density(model, e, zenith_rad, obs_height_m, centres, rng, n_showers) / e
                for e in np.unique(band[:, 0])
            ],
            axis=0,
        )
        out[(lo, hi)] = (centres, corsika, toy, n)
    return out


def median_ratio_50_300(centres, corsika, toy, n, min_spheres: int = 5) -> float:
    """Median toy / CORSIKA density over the 50-300 m bins with at least ``min_spheres``
    CORSIKA spheres."""
    sel = (centres >= 50) & (centres <= 300) & (n >= min_spheres)
    return float(np.median(toy[sel] / corsika[sel]))


def _moments(geometry: CameraGeometry, image: np.ndarray) -> np.ndarray:
    """Hillas width and length (m): square roots of the eigenvalues of the weighted
    covariance of the pixel positions."""
    x, y = geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m)
    return np.sqrt(np.linalg.eigvalsh(np.cov(x, y, aweights=image, ddof=0)))


def image_rows(
    path: Path,
    model: CherenkovImageModel,
    seed: int = 3,
    max_showers: int | None = None,
    min_pe: float = 50.0,
) -> np.ndarray:
    """Rows (energy, impact, size, width, length) of the CORSIKA photons' true image and
    (size, width, length) of the toy's true image (Poisson-drawn) of a shower of the same
    energy, direction and core, for every telescope with at least ``min_pe`` true p.e.
    from CORSIKA (no cleaning; toy width/length NaN below 10 p.e.)."""
    geometry = sst1m_telescope().camera.geometry
    imager = CorsikaPhotonImager(geometry)
    pos = corsika_telescope_positions(path)[:, :3]
    rng = np.random.default_rng(seed)
    rows = []
    for event in read_corsika_events(path, max_showers):
        one = np.ones(1)
        batch = ShowerBatch(
            "gamma",
            event.energy_tev * one,
            event.core_x_m * one,
            event.core_y_m * one,
            event.alt_rad * one,
            event.az_rad * one,
            rng.exponential(MEAN_FIRST_DEPTH_G_CM2, 1),
            event.alt_rad * one,
            event.az_rad * one,
            event.obs_height_m,
        )
        toy = model(rng, batch, 0, pos, event.obs_height_m, 0.0)
        axis = altaz_to_ground_vector(event.alt_rad, event.az_rad)
        impact = _impact(pos, np.array([event.core_x_m, event.core_y_m, 0.0]), axis)
        for k, bunches in event.bunches.items():
            ref = imager(rng, bunches, event.alt_rad, event.az_rad, event.obs_height_m).n_pe
            if ref.sum() < min_pe:
                continue
            ours = rng.poisson(toy.pe[k])
            shape_toy = _moments(geometry, ours) if ours.sum() >= 10 else (np.nan, np.nan)
            rows.append(
                (event.energy_tev, impact[k], ref.sum(), *_moments(geometry, ref))
                + (ours.sum(), *shape_toy)
            )
    return np.array(rows)
