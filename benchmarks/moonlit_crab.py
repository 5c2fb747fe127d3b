"""
Benchmark: a Crab-like run under moonlight, analysed by ``iactpipe-chain`` with the dark
MC and with MC tuned to the run's NSB level (issue 21).

Data set (as ``benchmarks/dl3_crab_fit.py``): MC at the run's pointing (zenith 27.5 deg,
azimuth 180 deg), simulated dark (40 MHz NSB per pixel): point gammas at the 0.4 deg
wobble offset (cuts, point-like IRFs), diffuse gammas and protons (training,
background). The run tracks the Crab in wobble mode at ``--flux-scale`` times the MAGIC
2015 log-parabola above ``--gamma-energy-min``, with the camera at ``--moon-mhz`` NSB per
pixel and interleaved pedestal events (50 Hz).

1. ``iactpipe-chain`` with the run at the dark level: the dark MC's models and IRFs;
2. ``iactpipe-tune-mc`` on the run's DL1 of each telescope (from step 1) against the MC;
3. ``iactpipe-chain`` again with the level ``moon`` (``DataSet.nsb_levels``: the two
   tunings) and the run at that level: the MC processed again tuned (waveform level),
   models and IRFs of the level (the dark MC steps are up to date);
4. gammapy's 1D ON/OFF log-parabola fit (curvature fixed to the injected one,
   `iactpipe.analysis.injected`) of each DL3, compared with the injection (pulls; the
   bias of the dark analysis is its fitted / injected amplitude and alpha difference).

Run: ``nice -n 5 .venv/bin/python benchmarks/moonlit_crab.py [--workdir DIR]``; prints
the fits and writes ``results.json`` (the numbers in docs/calibration.rst).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import astropy.units as u
import yaml
from astropy.coordinates import SkyCoord

from iactpipe.analysis.injected import fit_point_source_spectrum

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CRAB = SkyCoord(83.63308, 22.0145, unit="deg")
POINTING = {"zenith": "27.5 deg", "azimuth": "180 deg"}
OBS_ID = 3001
TRAIN = [
    '--RecoModel.model_config={"n_estimators": 50, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 50, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]
IRF = ["--gamma-efficiency", "0.7", "--EventCuts.theta_max=0.3 deg"]
ANALYSIS = {"SpectrumAnalysis": {"n_off_regions": 1, "safe_methods": ["aeff-max"]}}


def run(*argv, cwd=None) -> None:
    print("$", " ".join(str(a) for a in argv), flush=True)
    result = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def simulate(inputs: Path, args) -> None:
    """The dark MC productions and the moonlit run (R1 files in ``inputs``)."""
    emin = args.gamma_energy_min
    mc = {  # kind: (showers, seed, particle, energy range, viewcone, offset)
        "gamma_point": (args.n_point, 71, "gamma", emin, "100 TeV", "0 deg", "0.4 deg"),
        "gamma_diffuse": (args.n_diffuse, 72, "gamma", emin, "100 TeV", "2.5 deg", "0 deg"),
        "proton": (args.n_proton, 73, "proton", "2 TeV", "60 TeV", "3.5 deg", "0 deg"),
    }
    jobs = []
    for kind, (n, seed, particle, e_min, e_max, viewcone, offset) in mc.items():
        generator = {
            "particle": particle,
            "spectral_index": 2.0,
            "energy_min": e_min,
            "energy_max": e_max,
            "max_scatter_radius": "300 m",
            "viewcone": viewcone,
            "source_offset": offset,
            **POINTING,
        }
        argv = ["--mode=mc", f"--seed={seed}", f"--obs-id={seed}", f"-n={n}"]
        jobs.append((kind, {"ShowerGenerator": generator}, [*argv, f"--output={kind}.r1.h5"]))
    observation = {
        "ObservationRun": {
            "start_time": "2024-01-10T21:16:55",
            "source_flux_scale": args.flux_scale,
            "proton_flux_scale": args.proton_scale,
            "gamma_energy_min": emin,
            "gamma_scatter_radius": "300 m",
        },
        "ToySimulationSource": {"pedestal_rate": "50 Hz"},
        "CameraResponse": {"nsb_condition": "moon", "nsb_rate_moon_mhz": args.moon_mhz},
    }
    argv = ["--mode=observation", f"--duration={args.duration}", "--seed=17"]
    argv += [f"--obs-id={OBS_ID}", f"--output=run{OBS_ID}.h5"]
    jobs.append((f"run{OBS_ID}", observation, argv))

    def one(job):
        name, config, argv = job
        if (inputs / f"{name}.done").exists():
            return
        (inputs / f"{name}.yaml").write_text(yaml.safe_dump(config))
        run(BIN / "iactpipe-simulate", f"--config={name}.yaml", *argv, "--overwrite", cwd=inputs)
        (inputs / f"{name}.done").write_text("")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, jobs))


def chain_config(work: Path, inputs: Path, level: str, tunings=()) -> Path:
    analysis = work / "analysis.yaml"
    analysis.write_text(yaml.safe_dump(ANALYSIS))
    files = {21: f"run{OBS_ID}_tel021.h5", 22: f"run{OBS_ID}_tel022.h5"}
    dataset = {
        "base_dir": str(inputs),
        "mc_productions": [
            {"name": k, "kind": k, "files": [f"{k}.r1.h5"]}
            for k in ("gamma_point", "gamma_diffuse", "proton")
        ],
        "observed_runs": [
            {"obs_id": OBS_ID, "night": "20240110", "source": "Crab", "files": files}
        ],
    }
    if tunings:
        dataset["nsb_levels"] = {level: {"tuning": [str(t) for t in tunings]}}
        dataset["observed_runs"][0]["nsb_level"] = level
    config = {
        "DataSet": dataset,
        "StageConfigs": {
            "analysis_data": str(analysis),
            "extra_args": {"train": TRAIN, "irf": IRF, "r0_dl1_mc": ["--engine", "batch"]},
        },
        "StepExecutor": {"jobs": 2},
    }
    path = work / f"chain_{level}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tune(work: Path, out: Path) -> list[Path]:
    """iactpipe-tune-mc on the run's DL1 of each telescope against the dark MC."""
    tunings = []
    mc = out / "mc" / "gamma_diffuse" / "gamma_diffuse.dl1.h5"
    for tel_id in (21, 22):
        data = out / f"dl1/20240110/Crab/tel_{tel_id:03d}/run{OBS_ID:06d}_tel{tel_id:03d}.dl1.h5"
        tuning = work / "tuning" / f"tel{tel_id:03d}.yaml"
        if not tuning.exists():
            run(BIN / "iactpipe-tune-mc", f"--data={data}", f"--mc={mc}", f"--output={tuning}")
        tunings.append(tuning)
    return tunings


def fit(dl3: Path, args) -> dict:
    e_min = u.Quantity(args.gamma_energy_min)
    result = fit_point_source_spectrum(
        dl3,
        CRAB,
        args.flux_scale,
        reference=5 * u.TeV,
        energy_range=(1.5 * e_min, 60 * u.TeV),
        true_energy_range=(e_min, 100 * u.TeV),
    )
    print(result.summary(), flush=True)
    return {
        "fitted": result.fitted,
        "injected": result.injected,
        "pulls": result.pulls,
        "n_on": result.n_on,
        "n_off": result.n_off,
        "excess": result.excess,
        "success": result.success,
        "amplitude_ratio": result.fitted["amplitude"][0] / result.injected["amplitude"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("moonlit_crab_benchmark"))
    parser.add_argument("--moon-mhz", type=float, default=250.0)
    parser.add_argument("--duration", default="20 s")
    parser.add_argument("--flux-scale", type=float, default=20000.0)
    parser.add_argument("--proton-scale", type=float, default=0.02)
    parser.add_argument("--gamma-energy-min", default="2 TeV")
    parser.add_argument("--n-point", type=int, default=4000)
    parser.add_argument("--n-diffuse", type=int, default=1500)
    parser.add_argument("--n-proton", type=int, default=2000)
    args = parser.parse_args()
    work = args.workdir.absolute()
    inputs, out = work / "inputs", work / "out"
    inputs.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    simulate(inputs, args)
    results = {"settings": {k: str(v) for k, v in vars(args).items()}}
    chain = [BIN / "iactpipe-chain", f"--output={out}", "--no-progress"]
    run(*chain, f"--config={chain_config(work, inputs, 'dark')}")
    shutil.copytree(out / "dl3", work / "dl3_dark", dirs_exist_ok=True)
    tunings = tune(work, out)
    results["tuning"] = [json.loads(t.with_suffix(".json").read_text()) for t in tunings]
    run(*chain, f"--config={chain_config(work, inputs, 'moon', tunings)}")
    for name, dl3 in (("dark_mc", work / "dl3_dark"), ("tuned_mc", out / "dl3")):
        print(f"\n{name}:")
        results[name] = fit(dl3, args)
    results["wall_time_s"] = time.time() - t0
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults in {work / 'results.json'} ({results['wall_time_s']:.0f} s)")


if __name__ == "__main__":
    main()
