"""iactpipe-chain as a Tool: help, the plan of a dry run, configuration errors, the SLURM
job script. (The chain on simulated data: tests/workflow.)"""

import signal
import sys

import pytest
import yaml
from ctapipe.core import run_tool

from iactpipe.tools.chain import ChainTool
from iactpipe.workflow import SlurmExecutor


@pytest.fixture
def config(tmp_path):
    """A data set of empty placeholder files (enough to plan, not to run)."""
    kinds = ("gamma_point", "gamma_diffuse", "proton")
    runs = {1001: ("run1001_tel021.h5", "run1001_tel022.h5")}
    for name in [f"{k}.r1.h5" for k in kinds] + list(runs[1001]):
        (tmp_path / name).write_text("")
    data = {
        "DataSet": {
            "mc_productions": [{"name": k, "kind": k, "files": [f"{k}.r1.h5"]} for k in kinds],
            "observed_runs": [
                {
                    "obs_id": 1001,
                    "night": "20240110",
                    "source": "Crab",
                    "files": {21: runs[1001][0], 22: runs[1001][1]},
                }
            ],
        }
    }
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_help_all():
    assert run_tool(ChainTool(), argv=["--help-all"]) == 0


def test_dry_run_prints_the_plan_and_runs_nothing(config, tmp_path, capsys):
    out = tmp_path / "out"
    tool = ChainTool()
    # relative file names refer to the config file's directory
    assert run_tool(tool, argv=[f"--config={config}", f"-o={out}", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"plan for {out} (18 steps)" in printed
    assert (
        f"[would run: new] r0-dl1 run 1001 tel 21: iactpipe-r0-dl1 --input "
        f"{tmp_path / 'run1001_tel021.h5'} --output "
        "dl1/20240110/Crab/tel_021/run001001_tel021.dl1.h5"
    ) in printed
    assert "[would run: upstream reruns] analysis Crab: iactpipe-analysis" in printed
    assert not out.exists()
    assert {o.status for o in tool.outcomes} == {"would run"}


@pytest.mark.parametrize(
    "args",
    [["--force=dl4"], ["--stages=dl2-dl3", "index"], ["--mode=mono3"], []],
    ids=["unknown stage", "two values for one option", "bad mode", "no output"],
)
def test_configuration_errors_exit_2(config, tmp_path, args):
    output = [] if not args else [f"-o={tmp_path / 'out'}"]
    assert run_tool(ChainTool(), argv=[f"--config={config}", *output, *args], raises=False) == 2
    assert not (tmp_path / "out").exists()


def test_data_set_errors_exit_2(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "DataSet": {
                    "mc_productions": [
                        {"name": "g", "kind": "gamma_point", "files": ["missing*.h5"]}
                    ]
                }
            }
        )
    )
    argv = [f"--config={path}", f"-o={tmp_path / 'o'}"]
    assert run_tool(ChainTool(), argv=argv, raises=False) == 2


def test_slurm_executor_builds_its_job_script(monkeypatch):
    # imported afresh, as in a chain run: its import sets SIGINT (see below)
    for name in [name for name in sys.modules if name.startswith("dask_jobqueue")]:
        monkeypatch.delitem(sys.modules, name)
    sigint_handler = signal.getsignal(signal.SIGINT)
    executor = SlurmExecutor(
        queue="short",
        account="sst1m",
        cores=2,
        memory="8GB",
        walltime="01:30:00",
        job_extra_directives=["--qos=normal"],
    )
    cluster = executor.make_cluster()
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in (
        "#SBATCH -p short",
        "#SBATCH -A sst1m",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH -t 01:30:00",
        "#SBATCH --qos=normal",
    ):
        assert line in script
    assert "--mem=" in script
    # dask_jobqueue sets SIGINT to sys.exit() on import: the executor keeps the process's
    assert signal.getsignal(signal.SIGINT) is sigint_handler
