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
    argv = [
        f"--gammas={irf_dl2['gamma_point']}",
        f"--protons={irf_dl2['gamma_point']}",
        f"--output={out}",
    ]
    assert run_tool(IRFTool(), argv=argv, raises=False) == 2
    assert not any(out.rglob("*.fits.gz"))


def test_overwrite(irf_library, irf_dl2, tmp_path):
    library = shutil.copytree(irf_library, tmp_path / "lib")
    argv = [f"--gammas={irf_dl2['gamma_point']}", f"--output={library}", "--gamma-efficiency=0.6"]
    assert run_tool(IRFTool(), argv=argv, raises=False) != 0
    assert run_tool(IRFTool(), argv=[*argv, "--overwrite"]) == 0


@pytest.mark.parametrize("option", ["--gh-cut-type=global", "--cut-method=significance"])
def test_cut_options(irf_dl2, tmp_path, option):
    argv = [
        f"--gammas={irf_dl2['gamma_point']}",
        f"--protons={irf_dl2['proton']}",
        f"--output={tmp_path}",
        option,
    ]
    assert run_tool(IRFTool(), argv=argv) == 0
    assert len(list(tmp_path.rglob("*.fits.gz"))) == 2


def test_event_cuts_gamma_efficiency_from_a_config(irf_library, irf_dl2, tmp_path):
    """EventCuts.gamma_efficiency in a config file makes the node (no IRFTool list): the
    same cuts as the 0.8 node of the library made with --gamma-efficiencies."""
    from astropy.table import QTable

    from iactpipe.irf.library import read_index

    config = tmp_path / "irf.yaml"
    config.write_text("EventCuts: {gamma_efficiency: 0.8}\n")
    argv = [
        f"--config={config}",
        f"--gammas={irf_dl2['gamma_point']}",
        f"--output={tmp_path / 'lib'}",
    ]
    assert run_tool(IRFTool(), argv=argv) == 0
    index = read_index(tmp_path / "lib")
    assert set(index["gamma_efficiency"]) == {0.8}
    reference = read_index(irf_library)
    for row in index[index["irf_type"] == "point-like"]:
        ours = QTable.read(tmp_path / "lib" / row["path"], hdu="GH_CUTS")
        node = reference[
            (reference["gamma_efficiency"] == 0.8) & (reference["irf_type"] == "point-like")
        ][0]
        theirs = QTable.read(irf_library / node["path"], hdu="GH_CUTS")
        assert list(ours["cut"]) == list(theirs["cut"])
