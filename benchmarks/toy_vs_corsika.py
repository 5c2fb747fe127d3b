"""The toy's semi-analytic shower model against CORSIKA: Cherenkov photon density at the
ground versus distance from the shower axis, and true image size/width/length.

CORSIKA: CTA prod4 run 102 (``../shared/data/corsika``; Paranal, 2150 m, 20 deg zenith,
gammas, 240-900 nm, no atmospheric extinction in CORSIKA). The comparisons are
`iactpipe.simulation.shower_model_check` (see its docstring).

Run: ``python benchmarks/toy_vs_corsika.py [--images] [--untuned] [--plot docs/_static]``;
prints the density per TeV in 25 m bins of core distance for three energy bands and the
toy / CORSIKA ratio, with ``--images`` the image comparison. The toy uses the
``CherenkovImageModel`` defaults (tuned to this file), ``--untuned`` the model before the
tuning (``cherenkov.UNTUNED_MODEL``); single traits are overridden with the options.
"""

import argparse
from pathlib import Path

import numpy as np
from traitlets.config import Config

from iactpipe.simulation.cherenkov import UNTUNED_MODEL
from iactpipe.simulation.corsika import read_corsika_events
from iactpipe.simulation.shower_model_check import (
    corsika_densities,
    density_profiles,
    image_model,
    image_rows,
    median_ratio_50_300,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CORSIKA = DATA / "corsika" / "run102_gamma_za20deg_azm0deg-paranal-sst.corsika.zst"
SIZE_BINS_PE = (50, 100, 200, 400, 1e5)
IMPACT_BANDS_M = ((0, 100), (100, 150), (150, 200), (200, 300), (300, 500))
#: command-line option -> CherenkovImageModel trait
OVERRIDES = {
    "lateral_scale": "lateral_scale",
    "electron_angle_deg": "electron_angle_deg",
    "track_fraction": "track_fraction",
    "quench": "post_max_quench_per_x0",
    "energy_index": "yield_energy_index",
}


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


def model_config(args) -> Config:
    """The CherenkovImageModel config of the command line."""
    traits = dict(UNTUNED_MODEL) if args.untuned else {}
    for option, trait in OVERRIDES.items():
        if getattr(args, option) is not None:
            traits[trait] = getattr(args, option)
    return Config({"CherenkovImageModel": traits})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-showers", type=int, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="directory of the PNG figure")
    parser.add_argument("--untuned", action="store_true", help="the model before the tuning")
    for option in OVERRIDES:
        parser.add_argument("--" + option.replace("_", "-"), type=float, default=None)
    parser.add_argument("--figure-name", default="toy_vs_corsika_density.png")
    parser.add_argument("--images", action="store_true", help="also compare image size/shape")
    args = parser.parse_args()
    model = image_model(model_config(args))
    rows = corsika_densities(CORSIKA, args.max_showers)
    first = next(read_corsika_events(CORSIKA, 1))
    zenith = np.pi / 2 - first.alt_rad
    result = density_profiles(rows, model, zenith, first.obs_height_m, 1)
    for (lo, hi), (centres, corsika, toy, n) in result.items():
        print(f"{lo}-{hi} TeV: distance (m), CORSIKA, toy (photons/m^2/TeV), toy/CORSIKA, n")
        for c, a, b, k in zip(centres, corsika, toy, n, strict=True):
            print(f"  {c:5.0f} {a:8.1f} {b:8.1f} {b / a:6.2f} {k:5d}")
        print(f"  50-300 m: median toy/CORSIKA {median_ratio_50_300(centres, corsika, toy, n):.2f}")
    if args.images:
        summarise_images(image_rows(CORSIKA, model, max_showers=args.max_showers))
    if args.plot:
        plot(result, args.plot / args.figure_name, model)


def plot(result, path, model):
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
            f"gammas, 20 deg, 2150 m; toy lateral {model.lateral_scale:g}, "
            f"angle {model.electron_angle_deg:g} deg, track {model.track_fraction:g},\n"
            f"quench {model.post_max_quench_per_x0:g}/X0, E^{model.yield_energy_index:g}"
        ),
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
