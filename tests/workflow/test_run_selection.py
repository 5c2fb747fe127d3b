"""The run-quality table of iactpipe-dqm drives the run selection of the chain: a run
flagged bad is dropped before DL2 (listed as "skipped: bad quality (<reasons>)") and the
index and the report go on with the good runs."""

import json

import pytest
from chain_data import run_chain

from iactpipe.quality.selection import run_quality_table
from iactpipe.tools.chain import CHAIN_TOOLS
from iactpipe.workflow import ChainOptions, ChainRunner, DataSet, StageConfigs, build_graph

REASON = "tel 22: dead pixels 130 > 50"


def write_table(path, bad_obs_id):
    rows = [
        {
            "obs_id": obs_id,
            "tel_id": tel_id,
            "good": not bad,
            "reasons": ["dead pixels 130 > 50"] if bad else [],
            "nsb_level": 1.2,
            "zenith": 27.5,
            "livetime": 2.0,
            "night": "20240110",
            "source": "Crab",
            "file": f"run{obs_id}_tel{tel_id:03d}.dl1.h5",
        }
        for obs_id in (1001, 1002)
        for tel_id in (21, 22)
        for bad in [obs_id == bad_obs_id and tel_id == 22]
    ]
    run_quality_table(rows).write(path, format="ascii.ecsv")
    return path


@pytest.fixture
def dataset(tmp_path):
    runs = [
        {
            "obs_id": r,
            "night": "20240110",
            "source": "Crab",
            "files": {21: f"run{r}_tel021.h5", 22: f"run{r}_tel022.h5"},
        }
        for r in (1001, 1002)
    ]
    mc = [
        {"name": k, "kind": k, "files": [f"{k}.h5"]}
        for k in ("gamma_point", "gamma_diffuse", "proton")
    ]
    return DataSet(base_dir=str(tmp_path), mc_productions=mc, observed_runs=runs)


def test_plan_drops_the_bad_run(dataset, tmp_path):
    table = write_table(tmp_path / "run_quality.ecsv", 1002)
    graph = build_graph(dataset, StageConfigs(), ChainOptions(run_quality=table), tools=CHAIN_TOOLS)
    plan = {o.step.name: o for o in ChainRunner(graph, tmp_path / "out", progress=False).plan()}
    for step in ("dl1-dl2 run 1002", "dl2-dl3 run 1002"):
        assert plan[step].status == f"skipped: bad quality ({REASON})"
    for step in (
        "r0-dl1 run 1002 tel 22",
        "dl1-stereo run 1002",
        "dl1-dl2 run 1001",
        "dl2-dl3 run 1001",
        "index",
        "analysis Crab",
    ):
        assert plan[step].status == "would run", step


def test_dqm_step_feeds_the_selection(dataset):
    graph = build_graph(dataset, StageConfigs(), ChainOptions(dqm=True), tools=CHAIN_TOOLS)
    dqm = graph.steps["dqm"]
    assert set(dqm.deps) == {f"r0-dl1 run {r} tel {t}" for r in (1001, 1002) for t in (21, 22)}
    assert dqm.args.count("--input") == 4
    assert dqm.primary_output.as_posix() == "dqm/run_quality.ecsv"
    for run in (1001, 1002):
        assert "dqm" in graph.steps[f"dl1-dl2 run {run}"].deps
        assert graph.steps[f"dl1-dl2 run {run}"].gate is not None


def test_chain_drops_a_run_flagged_bad(tiny_chain, chain_copy, tmp_path):
    """On the finished tiny chain, run 1002 flagged bad: its DL2 and DL3 are removed and
    skipped with the table's reasons, the index and the report keep run 1001 only."""
    table = write_table(tmp_path / "run_quality.ecsv", 1002)
    code, status = run_chain(tiny_chain["config"], chain_copy, f"--run-quality={table}")
    assert code == 0
    for step in ("dl1-dl2 run 1002", "dl2-dl3 run 1002"):
        assert status[step] == f"skipped: bad quality ({REASON})"
    assert not (chain_copy / "dl3/20240110/dl3_obs00001002.fits.gz").exists()
    assert (chain_copy / "dl3/20240110/dl3_obs00001001.fits.gz").exists()
    assert status["index"] == status["analysis Crab"] == "ok"
    assert status["dl2-dl3 run 1001"] == "up to date"
    summary = json.loads((chain_copy / "analysis/Crab/summary.json").read_text())
    assert summary["observations"] == [1001]
