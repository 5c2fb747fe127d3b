"""
``iactpipe-chain --dqm`` on the tiny data set (conftest.py) with a third run whose
cameras have a group of 7 dead pixels: the DQM step judges the runs from their DL1, the
faulty run is dropped before DL2 with the DQM's reason, the clean runs go on to DL3 and
the report.
"""

import json

from astropy.table import Table
from chain_data import RUNS, observation_job, run_chain, simulate_one, write_config

from iactpipe.instrument import sst1m_subarray

FAULTY = 1004  # 1003 is the corrupted-input test's


def dead_pixel_group() -> list[int]:
    geometry = sst1m_subarray(tel_ids=(21, 22)).tel[21].camera.geometry
    return sorted([700, *map(int, geometry.neighbors[700])])


def test_dqm_drops_the_run_with_dead_pixels(tiny_chain, chain_copy):
    inputs = tiny_chain["inputs"]
    simulate_one(
        inputs, *observation_job(FAULTY, "2024-01-10T21:45:00", {"dead_pixels": dead_pixel_group()})
    )
    chain = write_config(
        chain_copy.parent / "chain_dqm.yaml", inputs, [*RUNS, FAULTY], tiny_chain["dl2_dl3"]
    )

    code, status = run_chain(chain, chain_copy, "--dqm")
    assert code == 0, status
    assert status["dqm"] == "ok"
    table = Table.read(chain_copy / "dqm/run_quality.ecsv")
    good = {(int(row["obs_id"]), int(row["tel_id"])): bool(row["good"]) for row in table}
    assert good == {
        (obs_id, tel_id): obs_id != FAULTY for obs_id in (*RUNS, FAULTY) for tel_id in (21, 22)
    }
    for step in (f"dl1-dl2 run {FAULTY}", f"dl2-dl3 run {FAULTY}"):
        assert status[step].startswith("skipped: bad quality ("), status[step]
        assert "7 dead pixels" in status[step]
    for obs_id in RUNS:
        assert status[f"dl2-dl3 run {obs_id}"] == "ok"
    assert not (chain_copy / f"dl3/20240110/dl3_obs{FAULTY:08d}.fits.gz").exists()
    summary = json.loads((chain_copy / "analysis/Crab/summary.json").read_text())
    assert summary["observations"] == sorted(RUNS)

    # the DQM's table is an output like any other: a second run has nothing to do
    code, status = run_chain(chain, chain_copy, "--dqm")
    assert code == 0
    for name, value in status.items():
        assert value == "up to date" or value.startswith("skipped: bad quality"), name
