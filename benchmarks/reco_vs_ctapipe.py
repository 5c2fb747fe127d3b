"""
iactpipe-train / iactpipe-dl1-dl2 against ctapipe's train and apply tools, same inputs.

Both sides get the same stereo DL1 training and test files (iactpipe-simulate ->
iactpipe-r0-dl1 -> iactpipe-dl1-stereo), the same features (mono image features plus
h_max and impact distance), the same forests (150 trees regression, 100 classification)
and the same event selection. Both train one model per telescope type (iactpipe's
default ``model_key``) on every selected event; ctapipe combines with
StereoMeanCombiner, iactpipe resolves the disp sign.

Usage::

    python benchmarks/reco_vs_ctapipe.py --gammas gtrain.h5 --protons ptrain.h5 \\
        --gamma-test gtest.h5 --proton-test ptest.h5 --workdir /tmp/bench

Prints energy resolution / bias, angular resolution per true-energy bin and the AUC.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np

from iactpipe.reco.evaluation import (
    auc_of,
    ctapipe_peer_config,
    dl2_performance,
    with_true_impact,
)

BINS = np.array([1, 2, 5, 10, 20, 50]) * u.TeV


def ctapipe_config(n_trees_reg: int, n_trees_clf: int, seed: int) -> dict:
    """ctapipe tools' config with the same features, forests and selection as iactpipe."""
    reg = {"n_estimators": n_trees_reg, "min_samples_leaf": 5, "random_state": seed}
    clf = {"n_estimators": n_trees_clf, "min_samples_leaf": 5, "random_state": seed}
    return ctapipe_peer_config(reg, clf, prefix="ctapipe")


def run(argv: list[str]) -> None:
    """Run a command, stop on failure."""
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"  {Path(argv[0]).name} {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("gammas", "protons", "gamma-test", "proton-test", "workdir"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--trees-regression", type=int, default=150)
    parser.add_argument("--trees-classification", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    config = work / "ctapipe.json"
    config.write_text(
        json.dumps(ctapipe_config(args.trees_regression, args.trees_classification, args.seed))
    )

    # ---- ctapipe: train per type (signal_fraction 0.5, its default), StereoMeanCombiner
    ct_gammas = with_true_impact(args.gammas, work / f"ctapipe_input_{args.gammas.name}")
    ct_protons = with_true_impact(args.protons, work / f"ctapipe_input_{args.protons.name}")
    ct = {k: work / f"ctapipe_{k}.pkl" for k in ("energy", "clf", "disp")}
    run(
        [
            bindir / "ctapipe-train-energy-regressor",
            "-i",
            ct_gammas,
            "-o",
            ct["energy"],
            "-c",
            config,
            "--overwrite",
        ]
    )
    run(
        [
            bindir / "ctapipe-train-disp-reconstructor",
            "-i",
            ct_gammas,
            "-o",
            ct["disp"],
            "-c",
            config,
            "--overwrite",
        ]
    )
    run(
        [
            bindir / "ctapipe-train-particle-classifier",
            "--signal",
            ct_gammas,
            "--background",
            ct_protons,
            "-o",
            ct["clf"],
            "-c",
            config,
            "--overwrite",
        ]
    )
    ct_out = {}
    for name, path in (("gamma", args.gamma_test), ("proton", args.proton_test)):
        ct_out[name] = work / f"ctapipe_{name}.dl2.h5"
        run(
            [
                bindir / "ctapipe-apply-models",
                "-i",
                path,
                "-o",
                ct_out[name],
                "-c",
                config,
                "--reconstructor",
                ct["energy"],
                "--reconstructor",
                ct["clf"],
                "--reconstructor",
                ct["disp"],
                "--overwrite",
            ]
        )

    # ---- iactpipe: defaults (per type, all events), stereo features, sign resolution
    models = work / "iactpipe_models"
    reg = json.dumps({"n_estimators": args.trees_regression, "min_samples_leaf": 5})
    clf = json.dumps({"n_estimators": args.trees_classification, "min_samples_leaf": 5})
    run(
        [
            bindir / "iactpipe-train",
            "-g",
            args.gammas,
            "-p",
            args.protons,
            "-o",
            models,
            "--stereo",
            "--overwrite",
            "--seed",
            str(args.seed),
            f"--EnergyModel.model_config={reg}",
            f"--NormSignDispModel.model_config={reg}",
            f"--ParticleModel.model_config={clf}",
            f"--NormSignDispModel.sign_config={clf}",
            "--ModelTrainer.cv_folds=2",
        ]
    )
    ip_out = {}
    for name, path in (("gamma", args.gamma_test), ("proton", args.proton_test)):
        ip_out[name] = work / f"iactpipe_{name}.dl2.h5"
        run(
            [
                bindir / "iactpipe-dl1-dl2",
                "-i",
                path,
                "-m",
                models,
                "-o",
                ip_out[name],
                "--overwrite",
            ]
        )

    # ---- the table
    ct_perf = dl2_performance(ct_out["gamma"], "ctapipe_energy", "ctapipe_disp", BINS)
    ip_perf = dl2_performance(ip_out["gamma"], "EnergyModel", "disp", BINS)
    auc_ct = auc_of(ct_out["gamma"], ct_out["proton"], "ctapipe_gammaness")
    auc_ip = auc_of(ip_out["gamma"], ip_out["proton"], "ParticleModel")
    print("stereo events (two valid telescopes), test gammas")
    print(
        f"{'E_true [TeV]':>14} {'n':>5} | {'E res ct':>8} {'E res ip':>8} | {'bias ct':>7} "
        f"{'bias ip':>7} | {'R68 ct':>6} {'R68 ip':>6} {'R68 ip mono':>11}  [deg]"
    )
    c, i, m = ct_perf["stereo"], ip_perf["stereo"], ip_perf.get("mono")
    for k in range(len(BINS) - 1):
        mono = m["angular_resolution"][k].to_value(u.deg) if m is not None else np.nan
        print(
            f"{BINS[k].value:6.1f}-{BINS[k + 1].value:6.1f} {i['n_events'][k]:5d} | "
            f"{c['energy_resolution'][k]:8.3f} {i['energy_resolution'][k]:8.3f} | "
            f"{c['energy_bias'][k]:7.3f} {i['energy_bias'][k]:7.3f} | "
            f"{c['angular_resolution'][k].to_value(u.deg):6.3f} "
            f"{i['angular_resolution'][k].to_value(u.deg):6.3f} {mono:11.3f}"
        )
    print(
        f"AUC (combined gammaness, test gammas vs protons): ctapipe {auc_ct:.4f}, "
        f"iactpipe {auc_ip:.4f}"
    )


if __name__ == "__main__":
    main()
