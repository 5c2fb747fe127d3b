"""iactpipe-train: help, required options, bad input (the training itself: tests/reco)."""

from ctapipe.core import run_tool

from iactpipe.tools.train import TrainTool


def test_help_all():
    assert run_tool(TrainTool(), ["--help-all"]) == 0


def test_needs_output_and_gammas(tmp_path):
    assert run_tool(TrainTool(), [], raises=False) == 2
    assert run_tool(TrainTool(), [f"--output={tmp_path / 'm'}"], raises=False) == 2


def test_not_a_simulation(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    assert (
        run_tool(TrainTool(), [f"--gammas={bad}", f"--output={tmp_path / 'm'}"], raises=False) == 2
    )
    assert "not a readable HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
