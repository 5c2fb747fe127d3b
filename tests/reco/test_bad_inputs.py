"""Bad inputs of iactpipe-train and iactpipe-dl1-dl2: one-line error naming the file, no output."""

import shutil

import pytest
import tables
from ctapipe.core import run_tool
from ctapipe.io import read_table, write_table

from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.train import TrainTool

PARAMETERS = "/dl1/event/telescope/parameters/tel_{:03d}"


@pytest.fixture(scope="module")
def empty_dl1(reco_dir, gamma_test):
    """The test file with every telescope event and array event removed."""
    path = reco_dir / "empty.h5"
    shutil.copyfile(gamma_test, path)
    with tables.open_file(path, mode="a") as h5:
        for node in h5.walk_nodes("/dl1/event", "Table"):
            if node.nrows:
                node.remove_rows(0, node.nrows)
    return path


@pytest.fixture(scope="module")
def no_timing_dl1(reco_dir, gamma_test):
    """The test file whose telescope 1 parameters lack ``timing_slope`` (a feature)."""
    path = reco_dir / "no_timing.h5"
    shutil.copyfile(gamma_test, path)
    table = read_table(path, PARAMETERS.format(1))
    table.remove_column("timing_slope")
    write_table(table, path, PARAMETERS.format(1), overwrite=True)
    return path


def _one_line_error(capsys, path):
    err = [line for line in capsys.readouterr().err.splitlines() if str(path) in line]
    assert err, "the error names the file"
    return err[0]


@pytest.mark.parametrize("bad", ["empty_dl1", "no_timing_dl1"])
def test_dl1_dl2_bad_input(request, bad, stereo_models, tmp_path, capsys):
    path = request.getfixturevalue(bad)
    out = tmp_path / "out.dl2.h5"
    argv = [f"--input={path}", f"--models={stereo_models}", f"--output={out}"]
    assert run_tool(DL1DL2Tool(), argv=argv, raises=False) != 0
    line = _one_line_error(capsys, path)
    assert ("no events" in line) if bad == "empty_dl1" else ("timing_slope" in line)
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", ["empty_dl1", "no_timing_dl1"])
def test_train_bad_input(request, bad, proton_train, tmp_path, capsys):
    path = request.getfixturevalue(bad)
    out = tmp_path / "models"
    argv = [
        f"--gammas={path}",
        f"--protons={proton_train}",
        f"--output={out}",
        "--allow-config-mismatch",
    ]
    assert run_tool(TrainTool(), argv=argv, raises=False) != 0
    line = _one_line_error(capsys, path)
    assert ("no gamma event" in line) if bad == "empty_dl1" else ("timing_slope" in line)
    assert not out.exists() and not list(tmp_path.iterdir())
