"""iactpipe-dl1-dl2: help, required options, bad input (physics: tests/reco)."""

from ctapipe.core import run_tool

from iactpipe.tools.dl1_dl2 import DL1DL2Tool


def test_help_all():
    assert run_tool(DL1DL2Tool(), ["--help-all"]) == 0


def test_needs_input_models_output(tmp_path):
    assert run_tool(DL1DL2Tool(), [], raises=False) == 2
    empty = tmp_path / "models"
    empty.mkdir()
    f = tmp_path / "in.h5"
    f.write_bytes(b"")
    argv = [f"--input={f}", f"--models={empty}", f"--output={tmp_path / 'o.h5'}"]
    assert run_tool(DL1DL2Tool(), argv, raises=False) == 2
    assert not (tmp_path / "o.h5").exists()
