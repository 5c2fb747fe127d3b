"""
iactpipe-chain end to end on a tiny simulated data set (3 MC productions, 2 stereo runs of
2 s of a Crab-like source): the second run skips every step, a changed config value
reruns exactly the dependent steps, a corrupted input fails alone, and a dask
LocalCluster gives byte-identical DL3 files.
"""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from astropy.table import Table
from ctapipe.core import run_tool

from iactpipe.tools.chain import ChainTool
from iactpipe.tools.simulate import SimulateTool
from iactpipe.workflow import DATA_CONFIGS, SlurmExecutor

MC = {  # kind: (showers, seed, energy range, viewcone, offset, spectral index)
    "gamma_point": (300, 61, "1 TeV", "100 TeV", "0 deg", "0.4 deg"),
    "gamma_diffuse": (300, 62, "1 TeV", "100 TeV", "2.5 deg", "0 deg"),
    "proton": (400, 63, "2 TeV", "60 TeV", "3.5 deg", "0 deg"),
}
RUNS = {1001: "2024-01-10T21:16:55", 1002: "2024-01-10T21:30:00"}
SMALL = {
    "train": ['--RecoModel.model_config={"n_estimators": 20, "min_samples_leaf": 5}',
              '--NormSignDispModel.sign_config={"n_estimators": 20, "min_samples_leaf": 5}',
              "--ModelTrainer.cv_folds=2"],
    "irf": ["--gamma-efficiency", "0.7", "--EventCuts.theta_max=0.3 deg"],
}  # fmt: skip


def simulate(inputs: Path) -> None:
    for kind, (n, seed, e_min, e_max, viewcone, offset) in MC.items():
        generator = {"particle": kind.split("_")[0], "spectral_index": 1.5, "energy_min": e_min,
                     "energy_max": e_max, "max_scatter_radius": "300 m", "viewcone": viewcone,
                     "source_offset": offset, "zenith": "27.5 deg",
                     "azimuth": "180 deg"}  # fmt: skip
        config = inputs / f"{kind}.yaml"
        config.write_text(yaml.safe_dump({"ShowerGenerator": generator}))
        argv = [f"--config={config}", "--mode=mc", f"--seed={seed}", f"--obs-id={seed}",
                f"-n={n}", f"--output={inputs / kind}.r1.h5"]  # fmt: skip
        assert run_tool(SimulateTool(), argv=argv, cwd=inputs) == 0
    for obs_id, start in RUNS.items():
        config = inputs / f"run{obs_id}.yaml"
        run = {"start_time": start, "source_flux_scale": 2000.0, "proton_flux_scale": 0.3,
               "gamma_energy_min": "1 TeV", "gamma_scatter_radius": "300 m"}  # fmt: skip
        config.write_text(yaml.safe_dump({"ObservationRun": run}))
        argv = [
            f"--config={config}",
            "--mode=observation",
            "--duration=2 s",
            f"--seed={obs_id}",
            f"--obs-id={obs_id}",
            f"--output={inputs}/run{obs_id}.h5",
        ]
        assert run_tool(SimulateTool(), argv=argv, cwd=inputs) == 0


def write_config(path: Path, inputs: Path, runs, dl2_dl3: Path) -> Path:
    config = {
        "DataSet": {
            "base_dir": str(inputs),
            "mc_productions": [{"name": k, "kind": k, "files": [f"{k}.r1.h5"]} for k in MC],
            "observed_runs": [{"obs_id": r, "night": "20240110", "source": "Crab",
                               "files": {21: f"run{r}_tel021.h5", 22: f"run{r}_tel022.h5"}}
                              for r in runs],
        },
        "StageConfigs": {"dl2_dl3_data": str(dl2_dl3), "extra_args": SMALL},
        "StepExecutor": {"jobs": 2},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_chain(tmp_path_factory):
    """The tiny data set and a first local run of the chain on it."""
    tmp = tmp_path_factory.mktemp("chain")
    inputs = tmp / "inputs"
    inputs.mkdir()
    simulate(inputs)
    dl2_dl3 = tmp / "dl2_dl3.yaml"
    shutil.copy(DATA_CONFIGS / "dl2_dl3_data_stereo.yaml", dl2_dl3)
    config = write_config(tmp / "chain.yaml", inputs, RUNS, dl2_dl3)
    tool = ChainTool()
    code = run_tool(tool, argv=[f"--config={config}", f"--output={tmp / 'out'}", "--no-progress"])
    return {"tmp": tmp, "inputs": inputs, "config": config, "dl2_dl3": dl2_dl3,
            "out": tmp / "out", "code": code, "outcomes": tool.outcomes}  # fmt: skip


def run_chain(config: Path, out: Path, *args: str) -> tuple[int, dict[str, str]]:
    tool = ChainTool()
    code = run_tool(tool, argv=[f"--config={config}", f"--output={out}", "--no-progress", *args])
    return code, {o.step.name: o.status for o in tool.outcomes}


def dl3_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("dl3/**/*.fits.gz"))}


def test_chain_resumes_and_reruns_exactly_the_dependent_steps(tiny_chain):
    out, config = tiny_chain["out"], tiny_chain["config"]
    assert tiny_chain["code"] == 0
    assert {o.status for o in tiny_chain["outcomes"]} == {"ok"}
    assert len(tiny_chain["outcomes"]) == 23
    assert set(dl3_files(out)) == {
        "dl3/20240110/dl3_obs00001001.fits.gz",
        "dl3/20240110/dl3_obs00001002.fits.gz",
        "dl3/hdu-index.fits.gz",
        "dl3/obs-index.fits.gz",
    }
    summary = json.loads((out / "analysis/Crab/summary.json").read_text())
    assert summary["observations"] == [1001, 1002]
    # each step's effective config and log next to its outputs
    step_dir = out / "dl3/20240110"
    assert (step_dir / "dl3_obs00001001.fits.gz.config.yaml").read_text() == (
        tiny_chain["dl2_dl3"].read_text()
    )
    assert "iactpipe-dl2-dl3" in (step_dir / "dl3_obs00001001.fits.gz.log").read_text()

    code, status = run_chain(config, out)
    assert code == 0 and set(status.values()) == {"up to date"}

    dl2_dl3 = tiny_chain["dl2_dl3"]
    text = dl2_dl3.read_text()
    assert "chunk_size: 100000" in text
    dl2_dl3.write_text(text.replace("chunk_size: 100000", "chunk_size: 50000"))
    code, status = run_chain(config, out)
    assert code == 0
    assert {name for name, s in status.items() if s == "ok"} == {
        "dl2-dl3 run 1001", "dl2-dl3 run 1002", "index", "analysis Crab"}  # fmt: skip
    assert {s for name, s in status.items() if s != "ok"} == {"up to date"}


def test_corrupted_input_fails_alone(tiny_chain):
    """A third run with a truncated telescope file: the other runs go to DL3 and the
    report; the summary names the bad file and the exit code is 1."""
    tmp, inputs = tiny_chain["tmp"], tiny_chain["inputs"]
    shutil.copy(inputs / "run1002_tel021.h5", inputs / "run1003_tel021.h5")
    data = (inputs / "run1002_tel022.h5").read_bytes()
    bad = inputs / "run1003_tel022.h5"
    bad.write_bytes(data[: len(data) // 3])
    config = write_config(tmp / "chain_bad.yaml", inputs, [*RUNS, 1003], tiny_chain["dl2_dl3"])
    out = tmp / "out_bad"
    # the finished chain (mtimes kept, so its steps are up to date); the DL3 files of the
    # good runs are redone in the same session as the failing step
    shutil.copytree(tiny_chain["out"], out)
    code, status = run_chain(config, out, "--force=dl2-dl3")
    assert code == 1
    assert status["r0-dl1 run 1003 tel 22"] == "failed"
    assert status["r0-dl1 run 1003 tel 21"] == "ok"
    for step in ("dl1-stereo run 1003", "dl1-dl2 run 1003", "dl2-dl3 run 1003"):
        assert status[step] == "skipped: upstream failed"
    for step in ("dl2-dl3 run 1001", "dl2-dl3 run 1002", "index", "analysis Crab"):
        assert status[step] == "ok"
    table = Table.read(out / "chain_summary.ecsv")
    row = table[list(table["step"]).index("r0-dl1 run 1003 tel 22")]
    assert row["input"] == str(bad) and str(bad) in row["error"]
    summary = json.loads((out / "analysis/Crab/summary.json").read_text())
    assert summary["observations"] == [1001, 1002]


def test_dask_local_cluster_gives_identical_dl3(tiny_chain):
    out = tiny_chain["tmp"] / "out_dask"
    code, status = run_chain(tiny_chain["config"], out, "--executor=dask",
                             "--DaskExecutor.processes=False", "--no-analysis")  # fmt: skip
    assert code == 0 and set(status.values()) == {"ok"}
    local, dask = dl3_files(tiny_chain["out"]), dl3_files(out)
    runs = [name for name in local if "dl3_obs" in name]
    assert len(runs) == 2
    for name in runs:
        assert dask[name] == local[name], name


def test_dry_run_help_and_errors(tiny_chain, tmp_path, capsys):
    out = tmp_path / "plan"
    assert run_tool(ChainTool(), argv=[f"--config={tiny_chain['config']}", f"-o={out}",
                                       "--dry-run"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "[would run: new] r0-dl1 run 1001 tel 21: iactpipe-r0-dl1" in printed
    assert not out.exists()
    assert run_tool(ChainTool(), argv=["--help-all"]) == 0
    argv = [f"--config={tiny_chain['config']}", f"-o={out}", "--force=dl4"]
    assert run_tool(ChainTool(), argv=argv) == 2


def test_slurm_executor_builds_its_job_script():
    executor = SlurmExecutor(queue="short", account="sst1m", cores=2, memory="8GB",
                             walltime="01:30:00",
                             job_extra_directives=["--qos=normal"])  # fmt: skip
    cluster = executor.make_cluster()
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A sst1m", "#SBATCH --cpus-per-task=2",
                 "#SBATCH -t 01:30:00", "#SBATCH --qos=normal"):  # fmt: skip
        assert line in script
    assert "--mem=" in script
