"""
Models for every pointing: nearest node, cos(zenith) interpolation and the ideal model.

Toy MC (iactpipe-simulate -> iactpipe-r0-dl1 -> iactpipe-dl1-stereo) of diffuse gammas
and protons at zenith 20 and 40 deg (azimuth 0) trains a two-node model library; the same
MC at 30 deg trains the ideal model. A test set at 30 deg (point gammas at 0.4 deg
offset, protons) is reconstructed with (a) the nearest node (``--ModelChoice.method
nearest``), (b) the interpolation in cos(zenith) between the 20 and 40 deg nodes and
(c) the 30 deg model. Printed: energy bias and resolution and angular resolution per
true-energy bin, their means over the bins with enough events, the gammaness AUC, and
the fraction of the energy-bias gap between (a) and (c) that (b) closes.

Usage::

    nice -n 5 python benchmarks/model_interpolation.py --workdir /tmp/bench [--scale 1]

Simulated files are kept in the work directory and reused by a second call.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import yaml

from iactpipe.reco.evaluation import auc_of, dl2_performance, read_dl2

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BINS = np.array([1, 2, 5, 10, 20, 50, 100]) * u.TeV
FORESTS = [
    '--RecoModel.model_config={"n_estimators": 60, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 60, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]


def run(argv: list[str]) -> None:
    """Run a command, stop on failure."""
    t0 = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed:\n{result.stderr[-3000:]}")
    print(f"  {Path(argv[0]).name} {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def simulate(workdir: Path, name: str, particle: str, zenith: float, n: int, seed: int) -> Path:
    """Toy MC of ``particle`` at ``zenith`` (azimuth 0) taken to stereo DL1 (cached)."""
    stereo = workdir / f"{name}.h5"
    if stereo.exists():
        return stereo
    point = name.startswith("test_gamma")
    generator = {
        "particle": particle,
        "spectral_index": 2.0 if particle == "gamma" else 2.7,
        "energy_min": "1 TeV" if particle == "gamma" else "2 TeV",
        "energy_max": "100 TeV",
        "max_scatter_radius": "300 m",
        "viewcone": "0 deg" if point else ("2.5 deg" if particle == "gamma" else "3.5 deg"),
        "source_offset": "0.4 deg" if point else "0 deg",
        "zenith": f"{zenith} deg",
        "azimuth": "0 deg",
    }
    config = {
        "ToySimulationSource": {"mode": "mc", "seed": seed, "obs_id": seed},
        "ShowerGenerator": generator,
    }
    config_path = workdir / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    r1, dl1 = workdir / f"{name}.r1.h5", workdir / f"{name}.dl1.h5"
    run([BIN / "iactpipe-simulate", f"--config={config_path}", "-n", str(n), f"--output={r1}"])
    r0_config = REPO / "data_configs" / "r0_dl1_mc.yaml"
    run([BIN / "iactpipe-r0-dl1", f"--config={r0_config}", f"--input={r1}", f"--output={dl1}"])
    run([BIN / "iactpipe-dl1-stereo", f"--input={dl1}", f"--output={stereo}"])
    r1.unlink()
    dl1.unlink()
    return stereo


#: name: (particle, zenith (deg), showers, seed): the samples of the numbers in docs/reco.rst
#: (uneven because the simulator was slow on a loaded machine: the classifier's events
#: are capped by --n-events-classifier for every model)
SAMPLES = {
    "gamma_20": ("gamma", 20, 1500, 100),
    "proton_20": ("proton", 20, 1500, 200),
    "gamma_40": ("gamma", 40, 1500, 101),
    "proton_40": ("proton", 40, 500, 201),
    "gamma_30": ("gamma", 30, 1000, 102),
    "proton_30": ("proton", 30, 500, 202),
    "test_gamma_30": ("gamma", 30, 1500, 301),
    "test_proton_30": ("proton", 30, 700, 302),
}


def simulate_all(workdir: Path, scale: float) -> dict[str, Path]:
    """The training MC at 20, 30 and 40 deg and the test set at 30 deg (``SAMPLES``)."""
    files = {}
    for name, (particle, zenith, n, seed) in SAMPLES.items():
        key = name.removesuffix("_30") if name.startswith("test") else name
        files[key] = simulate(workdir, name, particle, zenith, max(int(n * scale), 10), seed)
    return files


def train(workdir: Path, files: dict[str, Path], n_classifier: int) -> tuple[Path, Path]:
    """The two-node library (20, 40 deg) and the ideal 30 deg model (cached)."""
    library, ideal = workdir / "library", workdir / "ideal_30"
    common = [*FORESTS, "--stereo", f"--n-events-classifier={n_classifier}", "--seed=1"]
    for zenith in (20, 40):
        if not (library / f"zd{zenith}_az000" / "nsb_dark").exists():
            g, p = files[f"gamma_{zenith}"], files[f"proton_{zenith}"]
            run([BIN / "iactpipe-train", *common, f"-g={g}", f"-p={p}", f"--library={library}"])
    if not ideal.exists():
        g, p = files["gamma_30"], files["proton_30"]
        run([BIN / "iactpipe-train", *common, f"-g={g}", f"-p={p}", f"-o={ideal}"])
    return library, ideal


def apply(workdir: Path, files: dict[str, Path], name: str, models: Path, *extra: str) -> dict:
    """DL2 of the 30 deg test gammas and protons with ``models`` (cached)."""
    out = {}
    for particle in ("gamma", "proton"):
        target = workdir / f"test_{particle}.{name}.dl2.h5"
        if not target.exists():
            source = files[f"test_{particle}"]
            run([BIN / "iactpipe-dl1-dl2", f"-i={source}", f"-m={models}", f"-o={target}", *extra])
        out[particle] = target
    return out


def summary(dl2: dict[str, Path]) -> dict:
    """Per-bin stereo performance and its means over bins with >= 10 events; the AUC."""
    table = dl2_performance(dl2["gamma"], "EnergyModel", "disp", BINS)["stereo"]
    auc = auc_of(dl2["gamma"], dl2["proton"], "ParticleModel")
    ok = np.isfinite(np.asarray(table["energy_bias"], float))
    ok &= np.isfinite(u.Quantity(table["angular_resolution"]).value)
    mean = {
        "energy_bias": float(np.mean(np.abs(np.asarray(table["energy_bias"], float)[ok]))),
        "energy_resolution": float(np.mean(np.asarray(table["energy_resolution"], float)[ok])),
        "angular_resolution": float(np.mean(u.Quantity(table["angular_resolution"])[ok].value)),
    }
    return {"table": table, "auc": auc, "mean": mean, "bins": ok}


def report(results: dict[str, dict]) -> None:
    """Print the per-bin and mean numbers and the fraction of the bias gap closed."""
    names = list(results)
    first = results[names[0]]["table"]
    ok = np.logical_and.reduce([r["bins"] for r in results.values()])
    print("true energy (TeV)   " + "  ".join(f"{n:>28s}" for n in names))
    print("                    " + "  ".join(f"{'bias   res    ang(deg)':>28s}" for n in names))
    for k in np.flatnonzero(ok):
        low = u.Quantity(first["true_energy_low"][k]).to_value(u.TeV)
        high = u.Quantity(first["true_energy_high"][k]).to_value(u.TeV)
        cells = []
        for r in results.values():
            t = r["table"]
            ang = u.Quantity(t["angular_resolution"][k]).to_value(u.deg)
            cells.append(
                f"{float(t['energy_bias'][k]):+7.3f} {float(t['energy_resolution'][k]):6.3f} "
                f"{ang:7.3f}"
            )
        print(f"{low:7.1f}-{high:6.1f}       " + "  ".join(f"{c:>28s}" for c in cells))
    for name, r in results.items():
        bias = np.asarray(r["table"]["energy_bias"], float)[ok]
        r["mean_bias"] = float(np.mean(bias))
        r["mean_abs_bias"] = float(np.mean(np.abs(bias)))
        print(
            f"{name:>12s}: mean bias {r['mean_bias']:+.4f}  mean |bias| {r['mean_abs_bias']:.4f}"
            f"  mean resolution {r['mean']['energy_resolution']:.4f}"
            f"  mean ang. res. {r['mean']['angular_resolution']:.4f} deg  AUC {r['auc']:.4f}"
        )
    nearest, interp, ideal = (results[n] for n in names)
    gap = (
        np.asarray(nearest["table"]["energy_bias"], float)[ok]
        - np.asarray(ideal["table"]["energy_bias"], float)[ok]
    )
    rest = (
        np.asarray(interp["table"]["energy_bias"], float)[ok]
        - np.asarray(ideal["table"]["energy_bias"], float)[ok]
    )
    closed = 1 - np.mean(np.abs(rest)) / np.mean(np.abs(gap))
    print(
        f"energy-bias gap to the 30 deg model: nearest {np.mean(np.abs(gap)):.4f}, "
        f"interpolation {np.mean(np.abs(rest)):.4f}: interpolation closes {closed:.0%} of it"
    )


def _bin_bias(true: np.ndarray, reco: np.ndarray, bins: np.ndarray) -> np.ndarray:
    index = np.digitize(true, bins) - 1
    return np.array(
        [np.median(reco[index == k] / true[index == k] - 1) for k in range(len(bins) - 1)]
    )


def bootstrap_closure(dl2: dict[str, Path], n_resamples: int, seed: int = 0) -> np.ndarray:
    """
    The fraction of the energy-bias gap that interpolation closes, on ``n_resamples``
    bootstrap resamples of the test gammas (the same events for the three methods:
    stereo events with a valid energy in all three; bins with >= 10 events).
    """
    energies = []
    for path in dl2.values():
        events, _ = read_dl2(path)
        energies.append(np.asarray(u.Quantity(events["EnergyModel_energy"]).to_value(u.TeV)))
        n_tel = np.asarray(events["EnergyModel_telescopes"]).sum(axis=1)
        true = np.asarray(u.Quantity(events["true_energy"]).to_value(u.TeV))
        energies[-1] = np.where(n_tel >= 2, energies[-1], np.nan)
    ok = np.logical_and.reduce([np.isfinite(e) for e in energies])
    true, energies = true[ok], [e[ok] for e in energies]
    bins = BINS.to_value(u.TeV)
    counts = np.histogram(true, bins)[0]
    keep = counts >= 10
    rng = np.random.default_rng(seed)
    closed = []
    for _ in range(n_resamples):
        rows = rng.integers(0, len(true), len(true))
        nearest, interp, ideal = (_bin_bias(true[rows], e[rows], bins)[keep] for e in energies)
        closed.append(1 - np.mean(np.abs(interp - ideal)) / np.mean(np.abs(nearest - ideal)))
    return np.array(closed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="x the SAMPLES sizes")
    parser.add_argument("--n-events-classifier", type=int, default=2000)
    parser.add_argument("--simulate-only", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    files = simulate_all(args.workdir, args.scale)
    if args.simulate_only:
        return
    library, ideal = train(args.workdir, files, args.n_events_classifier)
    results = {
        "nearest node": summary(
            apply(args.workdir, files, "nearest", library, "--node-choice=nearest")
        ),
        "interpolated": summary(
            apply(args.workdir, files, "interp", library, "--node-choice=interpolate")
        ),
        "30 deg model": summary(apply(args.workdir, files, "ideal", ideal)),
    }
    report(results)
    closed = bootstrap_closure(
        {
            name: args.workdir / f"test_gamma.{name}.dl2.h5"
            for name in ("nearest", "interp", "ideal")
        },
        200,
    )
    low, median, high = np.percentile(closed, [16, 50, 84])
    print(
        f"bootstrap of the test gammas (200): gap closed {median:.0%} "
        f"(68 % interval {low:.0%} to {high:.0%}); closes >= half in {np.mean(closed >= 0.5):.0%}"
    )


if __name__ == "__main__":
    main()
