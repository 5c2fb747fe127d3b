"""
Accuracy and speed of the background acceptance model made from the runs
(`iactpipe.analysis.acceptance`) with more statistics than the unit test: ``--runs``
background-only runs of ``--hours`` each sampled directly from the CTAO prod5 North
background IRF (tests/analysis/background_sampling.py), 0.5 deg wobble, one night (the
runs span several zenith angles, so cos-zenith bins and interpolation are exercised),
a fake 1 TeV point source inside the exclusion circle at the target.

For each model (radial 0.1 deg bins; 2D 0.25 deg bins in RA/Dec and in Alt/Az
alignment), 5 energy bins per decade above 0.1 TeV: the pull (model - truth) / sigma
and the relative deviation in the bins inside 2 deg with at least 100 events, and the
largest deviation among the bins whose Poisson error is below 3 %.

With ``--baccmod-python PY`` (an interpreter with ``baccmod`` and gammapy 2.1, e.g.
a throwaway venv: ``python3.13 -m venv /tmp/bacc && /tmp/bacc/bin/pip install baccmod
gammapy==2.1``; baccmod is not an iactpipe dependency, see docs/analysis.rst), the runs
are also written as DL3 files and BAccMod's ``RadialAcceptanceMapCreator`` makes the
radial model from them with the same exclusion and bins: the peer.

Run: python benchmarks/acceptance_model.py [--runs 4] [--hours 1] [--baccmod-python PY]

Result (2026-12-06, shared 2-core machine under load; also in docs/analysis.rst):
4 runs of 1 h (617 000 events, 2 cos-zenith bins): radial 0.1 deg, 90 bins with >= 100
events: pull mean +0.11, rms 1.02, the 32 bins with error < 3 % within 6.5 % (21 s);
2D 0.25 deg RA/Dec: 413 bins, pull +0.09 rms 1.08 (5 s); 2D Alt/Az: 410 bins, pull
+0.04 rms 1.06 (44 s). With --runs 2 --baccmod-python: BAccMod 0.4.1's radial model of
the same runs, same exclusion and bins, agrees with the truth as well as iactpipe's
(18 bins with error < 3 %: mean +0.6 %, largest 4.7 %, both; within 0.8 % of each
other), iactpipe 7-10 s, BAccMod 42-45 s (separate process, start and reading included).
"""

import argparse
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analysis"))
from background_sampling import load_prod5_bkg, sample_run, true_rate

from iactpipe.analysis.acceptance import (
    FoV2DBackgroundAcceptanceModel,
    RadialBackgroundAcceptanceModel,
)

TARGET = SkyCoord(83.63, 22.01, unit="deg")


def runs(n: int, hours: float):
    """``n`` background runs (plus the fake source) and the exclusion mask."""
    from gammapy.data import observatory_locations
    from gammapy.maps import WcsGeom
    from regions import CircleSkyRegion

    bkg = load_prod5_bkg()
    rng = np.random.default_rng(11)
    source = SkyCoord([TARGET.ra.deg] * 3000, [TARGET.dec.deg] * 3000, unit="deg")
    start = Time("2024-01-10T21:00")
    observations = [
        sample_run(
            bkg,
            1 + i,
            TARGET.directional_offset_by(90 * u.deg * i, 0.5 * u.deg),
            hours * u.h,
            start + i * (hours * u.h + 2 * u.min),
            rng,
            observatory_locations["cta_north"],
            extra=source,
        )
        for i in range(n)
    ]
    geom = WcsGeom.create(skydir=TARGET, width=7 * u.deg, binsz=0.02)
    return bkg, observations, ~geom.region_mask([CircleSkyRegion(TARGET, 0.3 * u.deg)])


def evaluate(name, maker, kind, bkg, observations, exclusion):
    """Print pull statistics and the largest deviation of one model."""
    t0 = time.perf_counter()
    acceptance = maker(observations, exclusion)
    seconds = time.perf_counter() - t0
    energy = maker.energy_axis()
    counts = sum(maker.run_histograms(o, energy, exclusion)[0] for o in observations)
    # the runs span several zenith bins: compare the live-time weighted mean model
    models = [acceptance.for_observation(o).data for o in observations]
    weights = [o.observation_live_time_duration.to_value(u.s) for o in observations]
    model = acceptance.models[0]
    data = np.average(models, axis=0, weights=weights)
    truth = true_rate(model, bkg, kind)
    if kind == "radial":
        centre = model.axes["offset"].center.to_value(u.deg)
        inside = (centre < 2.0)[np.newaxis]
    else:
        c = model.axes["fov_lon"].center.to_value(u.deg)
        inside = (np.hypot(c[:, None], c[None, :]) < 2.0)[np.newaxis]
    used = inside & (counts >= 100)
    pull = (data - truth)[used] / (truth[used] / np.sqrt(counts[used]))
    rich = inside & (counts * 0.03**2 >= 1)
    worst = np.max(np.abs(data[rich] / truth[rich] - 1)) if rich.any() else np.nan
    print(
        f"{name:26s} {len(acceptance.models)} zenith bins, {seconds:5.1f} s: "
        f"{used.sum():4d} bins >= 100 events, pull mean {pull.mean():+.2f} rms "
        f"{pull.std():.2f}; {rich.sum():3d} bins with error < 3 %: largest deviation "
        f"{100 * worst:.1f} %"
    )


BACCMOD_SCRIPT = """
import sys
import astropy.units as u
from astropy.coordinates import SkyCoord
from gammapy.data import DataStore
from gammapy.maps import MapAxis
from regions import CircleSkyRegion
from baccmod import RadialAcceptanceMapCreator

files, out = sys.argv[1:-1], sys.argv[-1]
observations = DataStore.from_events_files(files).get_observations(required_irf=[])
energy = MapAxis.from_energy_bounds(0.1, 100, 5, per_decade=True, unit="TeV", name="energy")
offset = MapAxis.from_edges(list(x / 10 for x in range(26)), unit="deg", name="offset")
region = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.3 * u.deg)
creator = RadialAcceptanceMapCreator(energy, offset, exclude_regions=[region])
creator.create_model(observations).write(out, overwrite=True)
"""


def baccmod_peer(python: str, observations, maker, bkg, exclusion):
    """BAccMod's radial model of the same runs (another interpreter) against the truth."""
    import subprocess
    import tempfile

    from background_sampling import PROD5
    from gammapy.irf import Background2D, load_irf_dict_from_file

    aeff = load_irf_dict_from_file(PROD5)["aeff"]  # BAccMod's map maker reads its header
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for obs in observations:
            files.append(f"{tmp}/obs{obs.obs_id}.fits")
            obs.copy(in_memory=True, aeff=aeff).write(files[-1], include_irfs=True)
        t0 = time.perf_counter()
        subprocess.run([python, "-c", BACCMOD_SCRIPT, *files, f"{tmp}/bkg.fits"], check=True)
        seconds = time.perf_counter() - t0
        peer = Background2D.read(f"{tmp}/bkg.fits")
    ours = maker(observations, exclusion).models[0]
    truth = true_rate(ours, bkg, "radial")
    energy = maker.energy_axis()
    counts = sum(maker.run_histograms(o, energy, exclusion)[0] for o in observations)
    centre = ours.axes["offset"].center.to_value(u.deg)
    rich = (centre < 2.0)[np.newaxis] & (counts * 0.03**2 >= 1)
    for name, model in (("iactpipe radial", ours.data), ("BAccMod radial", peer.quantity)):
        data = u.Quantity(model, ours.unit).value
        worst = np.max(np.abs(data[rich] / truth[rich] - 1))
        mean = np.mean(data[rich] / truth[rich] - 1)
        print(
            f"{name:26s} {rich.sum():3d} bins with error < 3 %: mean deviation "
            f"{100 * mean:+.1f} %, largest {100 * worst:.1f} %"
        )
    difference = np.abs(ours.data[rich] / u.Quantity(peer.quantity, ours.unit).value[rich] - 1)
    print(f"iactpipe / BAccMod - 1 in these bins: largest {100 * np.max(difference):.2f} %")
    print(f"BAccMod (separate process, incl. start and reading) {seconds:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--baccmod-python", default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    bkg, observations, exclusion = runs(args.runs, args.hours)
    n = sum(len(o.events.table) for o in observations)
    print(
        f"{args.runs} runs of {args.hours} h, {n} events, sampled in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    common = {
        "energy_bins_per_decade": 5,
        "energy_min": 0.1 * u.TeV,
        "zenith_min_livetime": 1 * u.h,
    }
    evaluate(
        "radial 0.1 deg",
        RadialBackgroundAcceptanceModel(bin_size=0.1 * u.deg, **common),
        "radial",
        bkg,
        observations,
        exclusion,
    )
    for alignment in ("RADEC", "ALTAZ"):
        maker = FoV2DBackgroundAcceptanceModel(
            bin_size=0.25 * u.deg, fov_alignment=alignment, offset_max=2 * u.deg, **common
        )
        evaluate(f"2D 0.25 deg {alignment}", maker, "fov", bkg, observations, exclusion)
    if args.baccmod_python:
        radial = RadialBackgroundAcceptanceModel(bin_size=0.1 * u.deg, **common)
        baccmod_peer(args.baccmod_python, observations, radial, bkg, exclusion)


if __name__ == "__main__":
    main()
