"""
A tiny simulated data set for the chain (built once per session by conftest.py): 3 MC productions
(300 point gammas, 300 diffuse gammas, 400 protons at the Crab's culmination: zenith
27.5 deg, azimuth 180 deg) and 2 stereo runs of 2 s of a source at 2000 times the
MAGIC Crab, and a first local run of iactpipe-chain on it (small forests, one gamma
efficiency).
"""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from ctapipe.core import run_tool

from iactpipe.tools.chain import ChainTool

MC = {  # kind: (showers, seed, energy range, viewcone, source offset)
    "gamma_point": (300, 61, "1 TeV", "100 TeV", "0 deg", "0.4 deg"),
    "gamma_diffuse": (300, 62, "1 TeV", "100 TeV", "2.5 deg", "0 deg"),
    "proton": (400, 63, "2 TeV", "60 TeV", "3.5 deg", "0 deg"),
}
RUNS = {1001: "2024-01-10T21:16:55", 1002: "2024-01-10T21:30:00"}
SMALL = {
    "train": [
        '--RecoModel.model_config={"n_estimators": 20, "min_samples_leaf": 5}',
        '--NormSignDispModel.sign_config={"n_estimators": 20, "min_samples_leaf": 5}',
        "--ModelTrainer.cv_folds=2",
    ],
    # 300 point gammas: a cut from 5 gammas per energy bin (the default 10 leaves the
    # bins of the runs' few events without a cut, i.e. rejected, at this sample size)
    "irf": [
        "--gamma-efficiency",
        "0.7",
        "--EventCuts.theta_max=0.3 deg",
        "--EventCuts.min_events_per_bin=5",
    ],
}


def simulate_one(inputs: Path, name: str, config: dict, args: list[str]) -> None:
    """One iactpipe-simulate run in ``inputs`` (config written to ``<name>.yaml``)."""
    path = inputs / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = [str(Path(sys.executable).parent / "iactpipe-simulate"), f"--config={path}", *args]
    result = subprocess.run(argv, cwd=inputs, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def observation_job(obs_id: int, start: str, camera: dict | None = None) -> tuple:
    """``(name, config, args)`` of a 2 s run of the tiny data set (``camera``: extra
    CameraResponse settings, e.g. dead pixels), for `simulate_one`."""
    run = {
        "start_time": start,
        "source_flux_scale": 2000.0,
        "proton_flux_scale": 0.3,
        "gamma_energy_min": "1 TeV",
        "gamma_scatter_radius": "300 m",
    }
    config = {"ObservationRun": run, **({"CameraResponse": camera} if camera else {})}
    args = [
        "--mode=observation",
        "--duration=2 s",
        f"--seed={obs_id}",
        f"--obs-id={obs_id}",
        f"--output=run{obs_id}.h5",
    ]
    return f"run{obs_id}", config, args


def simulate(inputs: Path) -> None:
    """The MC productions and the runs, R1 files in ``inputs`` (two simulations at a time:
    the 2 cores of CI)."""
    jobs = []
    for kind, (n, seed, e_min, e_max, viewcone, offset) in MC.items():
        generator = {
            "particle": kind.split("_")[0],
            "spectral_index": 1.5,
            "energy_min": e_min,
            "energy_max": e_max,
            "max_scatter_radius": "300 m",
            "viewcone": viewcone,
            "source_offset": offset,
            "zenith": "27.5 deg",
            "azimuth": "180 deg",
        }
        args = [
            "--mode=mc",
            f"--seed={seed}",
            f"--obs-id={seed}",
            f"-n={n}",
            f"--output={kind}.r1.h5",
        ]
        jobs.append((kind, {"ShowerGenerator": generator}, args))
    for obs_id, start in RUNS.items():
        jobs.append(observation_job(obs_id, start))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: simulate_one(inputs, *job), jobs))


#: the quick look without what the tests do not read (the ON/OFF counts are the same):
#: 2 flux points, one light-curve bin per night, 0.05 deg sky-map pixels (a third less time)
ANALYSIS = {
    # the toy library's ragged energy dispersion: the aeff-max threshold and one OFF
    # region, as the SST-1M Crab test of tests/analysis pins them
    "SpectrumAnalysis": {"n_flux_points": 2, "n_off_regions": 1, "safe_methods": ["aeff-max"]},
    "LightCurveAnalysis": {"time_bins": "night"},
    "SkyMapAnalysis": {"bin_size": "0.05 deg"},
}


def write_config(path: Path, inputs: Path, runs, dl2_dl3: Path) -> Path:
    """The chain config of the tiny data set (``runs``: obs ids with files in ``inputs``)."""
    analysis = path.with_name("analysis.yaml")
    analysis.write_text(yaml.safe_dump(ANALYSIS))
    config = {
        "DataSet": {
            "base_dir": str(inputs),
            "mc_productions": [{"name": k, "kind": k, "files": [f"{k}.r1.h5"]} for k in MC],
            "observed_runs": [
                {
                    "obs_id": r,
                    "night": "20240110",
                    "source": "Crab",
                    "files": {21: f"run{r}_tel021.h5", 22: f"run{r}_tel022.h5"},
                }
                for r in runs
            ],
        },
        "StageConfigs": {
            "dl2_dl3_data": str(dl2_dl3),
            "analysis_data": str(analysis),
            "extra_args": SMALL,
        },
        "StepExecutor": {"jobs": 2},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def run_chain(config: Path, out: Path, *args: str) -> tuple[int, dict[str, str]]:
    """Run iactpipe-chain; returns the exit code and ``{step: status}``."""
    tool = ChainTool()
    argv = [f"--config={config}", f"--output={out}", "--no-progress", *args]
    code = run_tool(tool, argv=argv, raises=False)
    return code, {o.step.name: o.status for o in tool.outcomes}


#: the two-node variant (conftest.py ``node_chain``): the tiny data set's MC is the node
#: at the Crab's culmination; a second node at zenith 40 deg with the same sizes, and a
#: third run at zenith 34.4 deg (azimuth 225 deg), between the nodes
NODES = {"culmination": (27.5, 180.0), "zd40": (40.0, 180.0)}
NODE_RUN = {1004: "2024-01-10T23:00:00"}


def simulate_second_node(inputs: Path) -> None:
    """The zenith-40 node's MC (``<kind>_zd40.r1.h5``) and the run of NODE_RUN."""
    jobs = []
    for kind, (n, seed, e_min, e_max, viewcone, offset) in MC.items():
        generator = {
            "particle": kind.split("_")[0],
            "spectral_index": 1.5,
            "energy_min": e_min,
            "energy_max": e_max,
            "max_scatter_radius": "300 m",
            "viewcone": viewcone,
            "source_offset": offset,
            "zenith": f"{NODES['zd40'][0]} deg",
            "azimuth": f"{NODES['zd40'][1]} deg",
        }
        args = ["--mode=mc", f"--seed={seed + 10}", f"--obs-id={seed + 10}", f"-n={n}"]
        args.append(f"--output={kind}_zd40.r1.h5")
        jobs.append((f"{kind}_zd40", {"ShowerGenerator": generator}, args))
    jobs += [observation_job(obs_id, start) for obs_id, start in NODE_RUN.items()]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: simulate_one(inputs, *job), jobs))


def write_node_config(path: Path, inputs: Path, node_inputs: Path, dl2_dl3: Path) -> Path:
    """The tiny data set as a two-node production (NODES) with the runs and NODE_RUN: the
    first node's productions keep their names and files (their DL1 steps stay done)."""
    config = yaml.safe_load(write_config(path, inputs, RUNS, dl2_dl3).read_text())
    data = config["DataSet"]
    for entry in data["mc_productions"]:
        entry["pointing"] = list(NODES["culmination"])
    data["mc_productions"] += [
        {
            "name": f"{k}_zd40",
            "kind": k,
            "files": [str(node_inputs / f"{k}_zd40.r1.h5")],
            "pointing": list(NODES["zd40"]),
        }
        for k in MC
    ]
    data["observed_runs"] += [
        {
            "obs_id": r,
            "night": "20240110",
            "source": "Crab",
            "files": {t: str(node_inputs / f"run{r}_tel{t:03d}.h5") for t in (21, 22)},
        }
        for r in NODE_RUN
    ]
    path.write_text(yaml.safe_dump(config))
    return path
