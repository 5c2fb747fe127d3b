"""iactpipe-acceptance on third-party point-like DL3 (no background IRF): the model is
written and attached, so that plain gammapy reads it as the runs' background."""

import shutil

import pytest
from ctapipe.core import run_tool

from iactpipe.tools.acceptance import AcceptanceTool


def test_acceptance_tool_attaches_model(third_party_point_like, tmp_path):
    from gammapy.data import DataStore
    from gammapy.irf import Background2D

    dl3 = tmp_path / "dl3"
    shutil.copytree(third_party_point_like, dl3)
    assert DataStore.from_dir(dl3).obs(100, required_irf="point-like").bkg is None
    argv = [
        f"--input={dl3}",
        f"--output={dl3 / 'acceptance'}",
        "--target=crab",
        "--attach",
        "--RadialBackgroundAcceptanceModel.energy_bins_per_decade=3",
    ]
    assert run_tool(AcceptanceTool(), argv=argv) == 0
    store = DataStore.from_dir(dl3)
    for obs_id in store.obs_table["OBS_ID"]:
        bkg = store.obs(obs_id, required_irf="point-like").bkg
        assert isinstance(bkg, Background2D)
        assert bkg.data[:, 0].max() > 0
    # existing files: refused without --overwrite (exit 2, one line)
    assert run_tool(AcceptanceTool(), argv=argv, raises=False) == 2


@pytest.mark.parametrize("bad", ["--exclusion-file=/nonexistent.reg", "--target=nosuchsource"])
def test_acceptance_tool_bad_input(bad, tmp_path):
    argv = [f"--input={tmp_path}", f"--output={tmp_path / 'out'}", bad]
    # a missing file is refused by the trait (traitlets' exit 1), an unknown target: 2
    assert run_tool(AcceptanceTool(), argv=argv, raises=False) in (1, 2)
    assert not (tmp_path / "out").exists()


def test_acceptance_tool_help():
    assert run_tool(AcceptanceTool(), argv=["--help-all"]) == 0
