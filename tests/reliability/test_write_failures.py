"""
A write that fails (here: a file-size limit, ``RLIMIT_FSIZE`` with SIGXFSZ ignored, the
same EFBIG a full disk gives as ENOSPC) in every writing tool: exit 2, one ERROR line
``<file>: cannot write (File too large)``, no traceback, nothing left behind (neither the
output nor a hidden partial file). Each tool runs in a forked child of the test process
on the session fixture ``dl3_chain``; the small limit makes it fail at its first output.
iactpipe-analysis is checked through its report writer (the tool fits for 15 s first).
"""

import shutil
import sys
from pathlib import Path

import pytest
from ctapipe.core import run_tool

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _process.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # chain_fixtures.py
from _process import call_limited, error_lines, files_below, run_limited
from chain_fixtures import SMALL_FORESTS

from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.dl1_stereo import DL1StereoTool
from iactpipe.tools.dl2_dl3 import DL2DL3Tool
from iactpipe.tools.dqm import DQMTool
from iactpipe.tools.index import IndexTool
from iactpipe.tools.irf import IRFTool
from iactpipe.tools.performance import PerformanceTool
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool
from iactpipe.tools.train import TrainTool

#: the tools run in forked children of the (threaded) test process, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")

#: bytes: below the first HDF5 flush, one FITS header block, every report and index
LIMIT_BYTES = 512


@pytest.fixture(scope="module")
def dl3_dir(dl3_chain, tmp_path_factory):
    """DL3 of the fixture run (for iactpipe-index)."""
    out = tmp_path_factory.mktemp("write_failures") / "dl3"
    argv = [
        f"--input={dl3_chain['observation_dl2']}",
        f"--irfs={dl3_chain['library']}",
        f"--output={out}",
        "--object=Crab",
    ]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    return out


def _cases(chain: dict, dl3: Path, out: Path) -> dict:
    """tool name -> (Tool class, argv, the directory it writes into)."""
    base = chain["library"].parent
    events = out / "dl3_events"
    events.mkdir()
    for path in dl3.glob("*.fits*"):
        shutil.copy(path, events)
    dl2 = {k: base / f"{k}.dl2.h5" for k in ("gamma_point", "gamma_diffuse", "proton")}
    return {
        "simulate": (SimulateTool, ["-n", "20", "-o", out / "sim.h5"], out),
        "r0-dl1": (R0DL1Tool, ["-i", chain["run_tel021"], "-o", out / "a.dl1.h5", "-m", "5"], out),
        "dl1-stereo": (
            DL1StereoTool,
            [
                "--input-1",
                base / "run_tel021.dl1.h5",
                "--input-2",
                base / "run_tel022.dl1.h5",
                "-o",
                out / "s.h5",
            ],
            out,
        ),
        "train": (
            TrainTool,
            [
                "--gammas",
                base / "gamma_diffuse.h5",
                "--protons",
                base / "proton.h5",
                "-o",
                out / "models",
                "--stereo",
                *SMALL_FORESTS,
            ],
            out,
        ),
        "dl1-dl2": (
            DL1DL2Tool,
            [
                "--input",
                chain["observation_dl1"],
                "--models",
                chain["models"],
                "-o",
                out / "run.dl2.h5",
            ],
            out,
        ),
        "irf": (
            IRFTool,
            [
                f"--gammas={dl2['gamma_point']}",
                f"--protons={dl2['proton']}",
                "-o",
                out / "irfs",
                "--gamma-efficiency",
                "0.7",
            ],
            out,
        ),
        "performance": (
            PerformanceTool,
            [
                f"--gammas={dl2['gamma_point']}",
                f"--protons={dl2['proton']}",
                f"--output={out / 'perf.fits.gz'}",
                "--background-offset-max=3 deg",
            ],
            out,
        ),
        "dl2-dl3": (
            DL2DL3Tool,
            [
                "--input",
                chain["observation_dl2"],
                "--irfs",
                chain["library"],
                "-o",
                out / "dl3",
                "--object=Crab",
            ],
            out,
        ),
        "index": (IndexTool, ["--dl3-dir", events], events),
        "dqm": (
            DQMTool,
            ["-i", base / "run_tel021.dl1.h5", "-o", out / "dqm", "--no-progress"],
            out,
        ),
    }


TOOLS = [
    "simulate",
    "r0-dl1",
    "dl1-stereo",
    "train",
    "dl1-dl2",
    "irf",
    "performance",
    "dl2-dl3",
    "index",
    "dqm",
]


@pytest.mark.parametrize("name", TOOLS)
def test_write_failure_is_one_line_exit_2_nothing_left(name, dl3_chain, dl3_dir, tmp_path):
    tool, argv, written = _cases(dl3_chain, dl3_dir, tmp_path)[name]
    before = files_below(written)
    code, output = run_limited(tool, argv, tmp_path, LIMIT_BYTES)
    errors = error_lines(output)
    assert code == 2, output
    assert len(errors) == 1, output
    assert "cannot write (File too large)" in errors[0], output
    assert "Traceback" not in output
    assert files_below(written) == before, output


def test_analysis_report_write_failure(tmp_path):
    """iactpipe-analysis writes its report last, through `write_report` (the tool itself
    takes 15 s of spectral fitting before it writes: too slow for this suite)."""
    import matplotlib.pyplot as plt

    from iactpipe.analysis.report import write_report

    out = tmp_path / "analysis"
    fig = plt.figure()
    code, output = call_limited(lambda: write_report(out, {"a": 1}, {"plot": fig}), LIMIT_BYTES)
    plt.close(fig)
    assert code == 1
    assert f"OutputWriteError: {out}: cannot write (File too large)" in output
    assert files_below(tmp_path) == set()


def test_simulate_write_failure_in_direct_chunk_writes(tmp_path):
    """A limit past the file's start: the failure comes in the R1 chunks that
    `ChecksummedChunkAppender` writes itself (PyTables ``write_chunk``, the traceback
    shown by ``--log-level DEBUG`` passes through it), and still exit 2, nothing left."""
    out = tmp_path / "sim"
    out.mkdir()
    argv = ["-n", "300", "-o", out / "sim.h5", "--log-level", "DEBUG"]
    code, output = run_limited(SimulateTool, argv, tmp_path, 4 * 2**20)
    assert code == 2, output
    assert "cannot write (File too large)" in output, output
    assert "write_chunk" in output, output
    assert files_below(out) == set(), output
