"""Stereo performance of the toy before and after its shower model was tuned to CORSIKA.

For each model (``untuned``: ``cherenkov.UNTUNED_MODEL`` by config; ``tuned``: the
defaults) the same small chain: ``iactpipe-simulate`` (training gammas diffuse 3 deg,
protons diffuse 4 deg, test gammas point-like at the camera centre, test protons;
20 deg zenith, cores within 250 m) -> ``iactpipe-r0-dl1`` (data_configs/r0_dl1_mc.yaml)
-> ``iactpipe-dl1-stereo`` -> ``iactpipe-train --stereo`` (small forests) ->
``iactpipe-dl1-dl2``, then per true-energy bin the stereo angular resolution (68 %
containment) and energy resolution (pyirf's definition, half the 15.9-84.1 %
inter-quantile of reco/true - 1), the AUC of the combined gammaness, and the AUC of a
single width cut on telescope images of 80-600 p.e. (cleaned; the figure of
tests/simulation's ``test_protons_wider_but_not_trivially``).

Published SST-1M stereo performance (A&A 699, A255 (2025)): about 0.10 deg and ~10 %
energy resolution at a few TeV.

Run: ``python benchmarks/toy_performance.py --workdir /tmp/toy_perf [--scale 1.0]``
(2.6 min of CPU for both models at scale 1, 6.5 min wall on 2 loaded cores;
``--models tuned`` for one).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import yaml
from ctapipe.core import run_tool
from ctapipe.io import TableLoader

from iactpipe.reco.evaluation import auc_of, dl2_performance
from iactpipe.reco.metrics import roc
from iactpipe.simulation.cherenkov import UNTUNED_MODEL
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.dl1_stereo import DL1StereoTool
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool
from iactpipe.tools.train import TrainTool

REPO = Path(__file__).resolve().parents[1]
BINS = np.array([1.0, 3.0, 10.0]) * u.TeV
FORESTS = [
    '--RecoModel.model_config={"n_estimators": 60, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 60, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]
#: name -> (particle, number of showers at scale 1, seed, view cone)
SETS = {
    "gamma_train": ("gamma", 2400, 41, "3 deg"),
    "proton_train": ("proton", 1800, 42, "4 deg"),
    "gamma_test": ("gamma", 2000, 43, "0 deg"),
    "proton_test": ("proton", 1400, 44, "4 deg"),
}
MODELS = {"untuned": UNTUNED_MODEL, "tuned": {}}


def simulate(work: Path, name: str, model: dict, scale: float) -> Path:
    """Simulated stereo DL1 file (with the mono parameters) of one set."""
    particle, n, seed, viewcone = SETS[name]
    config = {
        "ToySimulationSource": {"mode": "mc", "seed": seed, "obs_id": seed},
        "ShowerGenerator": {
            "particle": particle,
            "spectral_index": 1.5,
            "energy_min": "0.7 TeV" if particle == "gamma" else "2 TeV",
            "energy_max": "15 TeV" if particle == "gamma" else "60 TeV",
            "max_scatter_radius": "250 m",
            "viewcone": viewcone,
            "zenith": "20 deg",
            "azimuth": "0 deg",
        },
        "CherenkovImageModel": dict(model),
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    r1, dl1, stereo = work / f"{name}.r1.h5", work / f"{name}.dl1.h5", work / f"{name}.h5"
    argv = [f"--config={path}", "-n", str(int(n * scale)), f"--output={r1}", "--overwrite"]
    assert run_tool(SimulateTool(), argv=argv) == 0
    r0_config = REPO / "data_configs" / "r0_dl1_mc.yaml"
    argv = [f"--config={r0_config}", f"--input={r1}", f"--output={dl1}", "--overwrite"]
    assert run_tool(R0DL1Tool(), argv=argv) == 0
    argv = [f"--input={dl1}", f"--output={stereo}", "--keep-mono", "--overwrite"]
    assert run_tool(DL1StereoTool(), argv=argv) == 0
    r1.unlink()
    return stereo


def width_auc(gamma: Path, proton: Path) -> tuple[float, int, int]:
    """AUC of a single width cut, protons vs gammas, images of 80-600 p.e."""
    widths = []
    for path in (gamma, proton):
        with TableLoader(path) as loader:
            tel = loader.read_telescope_events(dl1_parameters=True, simulated=False)
        size = np.asarray(tel["hillas_intensity"])
        sel = (size > 80) & (size < 600) & np.isfinite(np.asarray(tel["hillas_width"]))
        widths.append(np.asarray(tel["hillas_width"])[sel])
    labels = np.r_[np.zeros(len(widths[0])), np.ones(len(widths[1]))]
    return roc(labels, np.r_[widths[0], widths[1]])[2], len(widths[0]), len(widths[1])


def run_model(work: Path, model: dict, scale: float) -> dict:
    """Simulate, train, apply; the performance numbers of one model."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    files = {name: simulate(work, name, model, scale) for name in SETS}
    t_sim = time.process_time() - t0
    models = work / "models"
    argv = [
        f"--gammas={files['gamma_train']}",
        f"--protons={files['proton_train']}",
        f"--output={models}",
        "--stereo",
        "--overwrite",
        *FORESTS,
    ]
    assert run_tool(TrainTool(), argv=argv) == 0
    dl2 = {}
    for name in ("gamma_test", "proton_test"):
        dl2[name] = work / f"{name}.dl2.h5"
        argv = [f"--input={files[name]}", f"--models={models}", f"--output={dl2[name]}"]
        assert run_tool(DL1DL2Tool(), argv=argv + ["--overwrite"]) == 0
    perf = dl2_performance(dl2["gamma_test"], "EnergyModel", "disp", BINS)["stereo"]
    return {
        "perf": perf,
        "auc": auc_of(dl2["gamma_test"], dl2["proton_test"], "ParticleModel"),
        "width_auc": width_auc(files["gamma_test"], files["proton_test"]),
        "cpu_sim_s": t_sim,
        "cpu_s": time.process_time() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="factor on the set sizes")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    results = {m: run_model(args.workdir / m, MODELS[m], args.scale) for m in args.models}
    print(f"{'model':>8} {'E_true [TeV]':>12} {'n':>5} {'R68 [deg]':>9} {'E res':>6} {'E bias':>6}")
    for name, res in results.items():
        p = res["perf"]
        for k in range(len(BINS) - 1):
            print(
                f"{name:>8} {BINS[k].value:5.0f}-{BINS[k + 1].value:<6.0f} "
                f"{p['n_events'][k]:5d} {p['angular_resolution'][k].to_value(u.deg):9.3f} "
                f"{p['energy_resolution'][k]:6.3f} {p['energy_bias'][k]:6.3f}"
            )
        w_auc, n_g, n_p = res["width_auc"]
        print(
            f"{name:>8} AUC gammaness {res['auc']:.3f}; width AUC {w_auc:.3f} "
            f"({n_g} gamma, {n_p} proton images of 80-600 p.e.); CPU {res['cpu_s']:.0f} s "
            f"(simulation {res['cpu_sim_s']:.0f} s)"
        )
    print("published SST-1M stereo (A&A 699, A255 (2025)): about 0.10 deg, ~10 % at a few TeV")


if __name__ == "__main__":
    main()
