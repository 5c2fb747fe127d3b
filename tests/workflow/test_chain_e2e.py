"""
iactpipe-chain end to end on the tiny data set (conftest.py): the second run skips every
step, a changed config value reruns exactly the dependent steps, a corrupted input fails
alone, and a dask LocalCluster gives byte-identical DL3 files.
"""

import json
import shutil
from pathlib import Path

from astropy.table import Table
from chain_data import RUNS, run_chain, write_config


def dl3_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("dl3/**/*.fits.gz"))}


def test_chain_resumes_and_reruns_exactly_the_dependent_steps(tiny_chain):
    out, config = tiny_chain["out"], tiny_chain["config"]
    assert tiny_chain["code"] == 0
    assert set(tiny_chain["status"].values()) == {"ok"}
    assert len(tiny_chain["status"]) == 23
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
    config_copy = step_dir / "dl3_obs00001001.fits.gz.config.yaml"
    assert config_copy.read_text() == tiny_chain["dl2_dl3"].read_text()
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
        "dl2-dl3 run 1001",
        "dl2-dl3 run 1002",
        "index",
        "analysis Crab",
    }
    assert {s for s in status.values() if s != "ok"} == {"up to date"}


def test_corrupted_input_fails_alone(tiny_chain, chain_copy):
    """A third run with a truncated telescope file: the other runs go to DL3 and the
    report; the summary names the bad file and the exit code is 1."""
    inputs, out = tiny_chain["inputs"], chain_copy
    shutil.copy(inputs / "run1002_tel021.h5", inputs / "run1003_tel021.h5")
    data = (inputs / "run1002_tel022.h5").read_bytes()
    bad = inputs / "run1003_tel022.h5"
    bad.write_bytes(data[: len(data) // 3])
    config = write_config(
        out.parent / "chain_bad.yaml", inputs, [*RUNS, 1003], tiny_chain["dl2_dl3"]
    )
    # the DL3 files of the good runs are redone in the same session as the failing step
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
    assert "upstream failed (r0-dl1 run 1003 tel 22)" in " ".join(table["status"])
    summary = json.loads((out / "analysis/Crab/summary.json").read_text())
    assert summary["observations"] == [1001, 1002]


def test_dask_local_cluster_gives_identical_dl3(tiny_chain, chain_copy):
    """DL2 -> IRFs -> DL3 of the tiny chain redone through a dask LocalCluster (every step
    from dl1-dl2 on): the DL3 files are byte-identical to the local executor's."""
    local = dl3_files(tiny_chain["out"])
    code, status = run_chain(
        tiny_chain["config"], chain_copy, "--executor=dask", "--force=dl1-dl2", "--no-analysis"
    )
    assert code == 0
    assert {name for name, s in status.items() if s == "ok"} == {
        "dl1-dl2 gamma_point/gamma_point",
        "dl1-dl2 gamma_diffuse/gamma_diffuse",
        "dl1-dl2 proton/proton",
        "dl1-dl2 run 1001",
        "dl1-dl2 run 1002",
        "irf",
        "dl2-dl3 run 1001",
        "dl2-dl3 run 1002",
        "index",
    }
    dask = dl3_files(chain_copy)
    runs = [name for name in local if "dl3_obs" in name]
    assert len(runs) == 2
    for name in runs:
        assert dask[name] == local[name], name
