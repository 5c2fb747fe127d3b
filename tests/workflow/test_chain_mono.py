"""
The mono branch of iactpipe-chain end to end on the tiny data set (conftest.py): one model
set, IRF library, DL3 tree and quick-look analysis per telescope, reusing the stereo run's
DL1 files; the source (2000 times the Crab, 2 x 2 s) is detected by each telescope alone
(measured: 5.1 and 5.3 sigma, excess 19 and 20 events).
"""

import json

import yaml
from chain_data import run_chain

TELESCOPES = (21, 22)


def test_mono_branch_per_telescope(tiny_chain, chain_copy):
    config = yaml.safe_load(tiny_chain["config"].read_text())
    config["DataSet"]["mode"] = "mono"
    # the shipped mono dl2-dl3 config (the stereo one carries the stereo IRFs' selection)
    del config["StageConfigs"]["dl2_dl3_data"]
    path = chain_copy.parent / "chain_mono.yaml"
    path.write_text(yaml.safe_dump(config))

    code, status = run_chain(path, chain_copy)
    assert code == 0, status
    assert set(status.values()) <= {"ok", "up to date"}
    # the per-telescope DL1 of the runs and MC are the stereo chain's
    reused = [name for name, s in status.items() if name.startswith("r0-dl1") and s == "up to date"]
    assert len(reused) == 2 * 2 + 3
    for tel_id in TELESCOPES:
        tel = f"tel_{tel_id:03d}"
        for obs_id in (1001, 1002):
            assert (chain_copy / f"dl3/{tel}/20240110/dl3_obs{obs_id:08d}.fits.gz").exists()
        assert (chain_copy / f"dl3/{tel}/obs-index.fits.gz").exists()
        summary = json.loads(
            (chain_copy / f"analysis/Crab_tel{tel_id:03d}/summary.json").read_text()
        )
        assert summary["observations"] == [1001, 1002]
        assert summary["significance"] > 3, (tel_id, summary["significance"])
        assert summary["excess"] > 10
    assert (chain_copy / "models_mono").is_dir() and (chain_copy / "irfs_mono").is_dir()
