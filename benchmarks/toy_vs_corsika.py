"""The toy's semi-analytic shower model against CORSIKA: Cherenkov photon density at the
ground versus distance from the shower axis.

CORSIKA: CTA prod4 run 102 (``../shared/data/corsika``; Paranal, 2150 m, 20 deg zenith,
gammas, 240-900 nm, no atmospheric extinction in CORSIKA): the photons of every telescope
sphere (radius 3 m, cross-section 28.3 m^2), per TeV, versus the sphere's distance from
the shower axis. Toy: ``iactpipe.simulation.cherenkov.render_one_shower_pe`` for the same
energies, zenith and observation level (its default shape traits, unit mirror area and
efficiency, extinction switched off, every direction counted, first interaction drawn
from its exponential), photons per m^2 per TeV in its 300-600 nm band, scaled to
240-900 nm with the lambda^-2 Cherenkov spectrum (factor 1 / 0.545).

Run: ``python benchmarks/toy_vs_corsika.py [--plot docs/_static]``; prints the density
per TeV in 25 m bins of core distance for three energy bands and the toy / CORSIKA ratio.
"""

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from traitlets.config import Config

from iactpipe.instrument.telescope import sst1m_telescope
from iactpipe.simulation.atmosphere import X0_G_CM2
from iactpipe.simulation.cherenkov import (
    PHOTONS_PER_RADIATION_LENGTH,
    CherenkovImageModel,
    render_one_shower_pe,
)
from iactpipe.simulation.corsika import (
    CorsikaPhotonImager,
    corsika_telescope_positions,
    read_corsika_events,
)
from iactpipe.simulation.generator import ShowerBatch
from iactpipe.simulation.geometry import altaz_to_ground_vector

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CORSIKA = DATA / "corsika" / "run102_gamma_za20deg_azm0deg-paranal-sst.corsika.zst"
#: fraction of a lambda^-2 spectrum between 240-900 nm that lies in 300-600 nm
BAND_300_600_OF_240_900 = (1 / 300 - 1 / 600) / (1 / 240 - 1 / 900)
DISTANCE_BINS_M = np.arange(0.0, 401.0, 25.0)
ENERGY_BANDS_TEV = ((0.1, 0.3), (0.3, 1.0), (1.0, 5.0))
#: toy shape traits (CherenkovImageModel defaults): lateral scale, electron angle (deg),
#: ring width; track fraction
TOY_SHAPE = (0.5, 0.7, 0.25)
TOY_TRACK_FRACTION = 0.1
SIZE_BINS_PE = (50, 100, 200, 400, 1e5)
IMPACT_BANDS_M = ((0, 100), (100, 150), (150, 200), (200, 300), (300, 500))


def _impact(pos, core, axis):
    rel = pos - core
    return np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1)


def corsika_densities(max_showers=None):
    """Rows (energy TeV, distance m, photons per m^2) for every telescope sphere."""
    tel = corsika_telescope_positions(CORSIKA)
    area = np.pi * tel[0, 3] ** 2
    rows = []
    for event in read_corsika_events(CORSIKA, max_showers):
        axis = altaz_to_ground_vector(event.alt_rad, event.az_rad)
        core = np.array([event.core_x_m, event.core_y_m, 0.0])
        dist = _impact(tel[:, :3], core, axis)
        photons = np.zeros(len(tel))
        for k, b in event.bunches.items():
            photons[k] = b["photons"].sum()
        rows += [(event.energy_tev, d, p / area) for d, p in zip(dist, photons, strict=True)]
    return np.array(rows)


def toy_density(
    energy_tev,
    zenith_rad,
    obs_height_m,
    distances_m,
    rng,
    n_showers=8,
    shape=TOY_SHAPE,
    track_fraction=TOY_TRACK_FRACTION,
):
    """Toy photons per m^2 (240-900 nm equivalent) at ``distances_m`` from the axis,
    averaged over ``n_showers`` first-interaction depths (exponential, 9/7 X0)."""
    d = altaz_to_ground_vector(np.pi / 2 - zenith_rad, 0.0)
    # telescopes across the axis on both sides (the geomagnetic field is not modelled)
    zero = np.zeros_like(distances_m)
    pos = np.concatenate([np.c_[zero, distances_m, zero], np.c_[zero, -distances_m, zero]])
    params = np.array([shape[0], np.deg2rad(shape[1]), shape[2], 1e12, 0.0])
    per_track = track_fraction * PHOTONS_PER_RADIATION_LENGTH / BAND_300_600_OF_240_900
    n_bunch = 4000
    total = np.zeros(len(pos))
    for _ in range(n_showers):
        x_start = rng.exponential(9 / 7 * X0_G_CM2)
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


def profiles(
    rows, zenith_rad, obs_height_m, seed=1, shape=TOY_SHAPE, track_fraction=TOY_TRACK_FRACTION
):
    """Per energy band: (bin centres, CORSIKA mean density per TeV, toy per TeV, n)."""
    centres = 0.5 * (DISTANCE_BINS_M[1:] + DISTANCE_BINS_M[:-1])
    rng = np.random.default_rng(seed)
    out = {}
    for lo, hi in ENERGY_BANDS_TEV:
        band = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
        if len(band) == 0:
            continue
        idx = np.digitize(band[:, 1], DISTANCE_BINS_M) - 1
        n = np.bincount(idx[idx < len(centres)], minlength=len(centres))[: len(centres)]
        per_tev = band[:, 2] / band[:, 0]
        sums = np.bincount(idx[idx < len(centres)], weights=per_tev[idx < len(centres)])
        sums = np.pad(sums, (0, len(centres) - len(sums)))[: len(centres)]
        with np.errstate(invalid="ignore"):
            corsika = sums / n
        energies = np.unique(band[:, 0])
        toy = np.mean(
            [
                toy_density(e, zenith_rad, obs_height_m, centres, rng, 8, shape, track_fraction) / e
                for e in energies
            ],
            axis=0,
        )
        out[(lo, hi)] = (centres, corsika, toy, n)
    return out


def _moments(geometry, image):
    """Hillas width and length (m): square roots of the eigenvalues of the weighted
    covariance of the pixel positions."""
    x, y = geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m)
    return np.sqrt(np.linalg.eigvalsh(np.cov(x, y, aweights=image, ddof=0)))


def image_rows(model_config=None, seed=3):
    """Rows (energy, impact, size, width, length) of CORSIKA photons through the SST-1M
    optics (`CorsikaPhotonImager`, checked against sim_telarray) and (size, width,
    length) of the toy's true image of a shower of the same energy, direction and core,
    for every telescope with at least 50 true p.e. from CORSIKA (no cleaning)."""
    telescope = sst1m_telescope()
    geometry = telescope.camera.geometry
    config = Config({"CherenkovImageModel": {"preselection_safety": 0.0}})
    if model_config is not None:
        config.merge(model_config)
    model = CherenkovImageModel(geometry, telescope.optics.effective_focal_length, config=config)
    imager = CorsikaPhotonImager(geometry)
    pos = corsika_telescope_positions(CORSIKA)[:, :3]
    rng = np.random.default_rng(seed)
    rows = []
    for event in read_corsika_events(CORSIKA):
        one = np.ones(1)
        batch = ShowerBatch(
            "gamma",
            event.energy_tev * one,
            event.core_x_m * one,
            event.core_y_m * one,
            event.alt_rad * one,
            event.az_rad * one,
            rng.exponential(9 / 7 * X0_G_CM2, 1),
            event.alt_rad * one,
            event.az_rad * one,
            event.obs_height_m,
        )
        toy = model(rng, batch, 0, pos, event.obs_height_m, 0.0)
        axis = altaz_to_ground_vector(event.alt_rad, event.az_rad)
        impact = _impact(pos, np.array([event.core_x_m, event.core_y_m, 0.0]), axis)
        for k, bunches in event.bunches.items():
            ref = imager(rng, bunches, event.alt_rad, event.az_rad, event.obs_height_m).n_pe
            if ref.sum() < 50:
                continue
            ours = rng.poisson(toy.pe[k])
            shape_toy = _moments(geometry, ours) if ours.sum() >= 10 else (np.nan, np.nan)
            rows.append(
                (event.energy_tev, impact[k], ref.sum(), *_moments(geometry, ref))
                + (ours.sum(), *shape_toy)
            )
    return np.array(rows)


def summarise_images(rows):
    """Median toy / CORSIKA size per impact band; median width and length per size bin
    (CORSIKA size) of the images the toy also has with at least 50 p.e."""
    for lo, hi in IMPACT_BANDS_M:
        sel = (rows[:, 1] >= lo) & (rows[:, 1] < hi)
        ratio = np.median(rows[sel, 5] / rows[sel, 2]) if sel.any() else np.nan
        print(
            f"  impact {lo:3.0f}-{hi:3.0f} m: {sel.sum():3d} images, size toy/CORSIKA {ratio:.2f}"
        )
    both = rows[:, 5] >= 50
    print(
        f"  same telescope event, both >= 50 p.e. ({both.sum()}): median toy/CORSIKA width "
        f"{np.median(rows[both, 6] / rows[both, 3]):.2f}, "
        f"length {np.median(rows[both, 7] / rows[both, 4]):.2f}"
    )
    for lo, hi in zip(SIZE_BINS_PE[:-1], SIZE_BINS_PE[1:], strict=True):
        ref = (rows[:, 2] >= lo) & (rows[:, 2] < hi)
        toy = (rows[:, 5] >= lo) & (rows[:, 5] < hi)
        w = np.median(rows[toy, 6]) / np.median(rows[ref, 3])
        length = np.median(rows[toy, 7]) / np.median(rows[ref, 4])
        print(
            f"  size {lo:4.0f}-{hi:6.0f} p.e.: {ref.sum():3d} CORSIKA, {toy.sum():3d} toy images,"
            f" width toy/CORSIKA {w:.2f}, length {length:.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-showers", type=int, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="directory of the PNG figure")
    parser.add_argument("--lateral-scale", type=float, default=TOY_SHAPE[0])
    parser.add_argument("--electron-angle-deg", type=float, default=TOY_SHAPE[1])
    parser.add_argument("--track-fraction", type=float, default=TOY_TRACK_FRACTION)
    parser.add_argument("--figure-name", default="toy_vs_corsika_density.png")
    parser.add_argument("--images", action="store_true", help="also compare image size/shape")
    args = parser.parse_args()
    shape = (args.lateral_scale, args.electron_angle_deg, TOY_SHAPE[2])
    rows = corsika_densities(args.max_showers)
    first = next(read_corsika_events(CORSIKA, 1))
    zenith = np.pi / 2 - first.alt_rad
    result = profiles(rows, zenith, first.obs_height_m, 1, shape, args.track_fraction)
    for (lo, hi), (centres, corsika, toy, n) in result.items():
        print(f"{lo}-{hi} TeV: distance (m), CORSIKA, toy (photons/m^2/TeV), toy/CORSIKA, n")
        for c, a, b, k in zip(centres, corsika, toy, n, strict=True):
            print(f"  {c:5.0f} {a:8.1f} {b:8.1f} {b / a:6.2f} {k:5d}")
        sel = (centres >= 50) & (centres <= 300) & (n >= 5)
        print(f"  50-300 m: median toy/CORSIKA {np.median(toy[sel] / corsika[sel]):.2f}")
    if args.images:
        config = Config(
            {
                "CherenkovImageModel": {
                    "lateral_scale": args.lateral_scale,
                    "electron_angle_deg": args.electron_angle_deg,
                    "track_fraction": args.track_fraction,
                }
            }
        )
        summarise_images(image_rows(config))
    if args.plot:
        plot(result, args.plot / args.figure_name, shape, args.track_fraction)


def plot(result, path, shape=TOY_SHAPE, track_fraction=TOY_TRACK_FRACTION):
    """Density per TeV vs distance from the axis, CORSIKA points and toy lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for (lo, hi), (centres, corsika, toy, _) in result.items():
        line = ax.semilogy(centres, corsika, "o", label=f"CORSIKA {lo}-{hi} TeV")[0]
        ax.semilogy(centres, toy, "-", color=line.get_color(), label=f"toy {lo}-{hi} TeV")
    ax.axvspan(50, 300, color="0.9", zorder=0)
    ax.set(
        xlabel="distance from the shower axis (m)",
        ylabel="Cherenkov photons (240-900 nm) / m$^2$ / TeV",
        title=(
            f"gammas, 20 deg, 2150 m; toy lateral {shape[0]}, "
            f"angle {shape[1]} deg, track {track_fraction}"
        ),
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
