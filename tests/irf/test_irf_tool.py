"""iactpipe-irf on simulated DL2: errors (exit 2, no output), overwrite, cut options."""

import shutil
from pathlib import Path

import pytest
import tables
from ctapipe.core import run_tool

from iactpipe.tools.irf import IRFTool


def test_no_simulation_info(irf_dl2, tmp_path):
    """DL2 without simulation info: one-line error, exit 2, no library."""
    bad = tmp_path / "nosim.dl2.h5"
    bad.write_bytes(Path(irf_dl2["gamma_point"]).read_bytes())
    with tables.open_file(bad, "a") as f:
        f.remove_node("/configuration/simulation", recursive=True)
    out = tmp_path / "lib"
    assert run_tool(IRFTool(), argv=[f"--gammas={bad}", f"--output={out}"], raises=False) == 2
    assert not any(out.rglob("*.fits.gz"))


def test_inconsistent_files(irf_dl2, tmp_path):
    """Diffuse gammas given as point-like gammas, or a point file as protons: exit 2."""
    out = tmp_path / "lib"
    argv = [f"--gammas={irf_dl2['gamma_diffuse']}", f"--output={out}"]
    assert run_tool(IRFTool(), argv=argv, raises=False) == 2
    argv = [f"--gammas={irf_dl2['gamma_point']}", f"--protons={irf_dl2['gamma_point']}",
            f"--output={out}"]  # fmt: skip
    assert run_tool(IRFTool(), argv=argv, raises=False) == 2
    assert not any(out.rglob("*.fits.gz"))


def test_overwrite(irf_library, irf_dl2, tmp_path):
    library = shutil.copytree(irf_library, tmp_path / "lib")
    argv = [f"--gammas={irf_dl2['gamma_point']}", f"--output={library}",
            "--gamma-efficiency=0.6"]  # fmt: skip
    assert run_tool(IRFTool(), argv=argv, raises=False) != 0
    assert run_tool(IRFTool(), argv=[*argv, "--overwrite"]) == 0


@pytest.mark.parametrize("option", ["--gh-cut-type=global", "--cut-method=significance"])
def test_cut_options(irf_dl2, tmp_path, option):
    argv = [f"--gammas={irf_dl2['gamma_point']}", f"--protons={irf_dl2['proton']}",
            f"--output={tmp_path}", option]  # fmt: skip
    assert run_tool(IRFTool(), argv=argv) == 0
    assert len(list(tmp_path.rglob("*.fits.gz"))) == 2
