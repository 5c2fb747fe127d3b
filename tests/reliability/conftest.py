"""Shared helpers of the reliability suite: the input files of every kind (good ones from
the session chain, corrupt and truncated copies), the tools by name, and the assertion of
the failure convention (exit code, one ERROR line, no traceback, no new file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from ctapipe.core import run_tool

from iactpipe.tools.analysis import AnalysisTool
from iactpipe.tools.chain import ChainTool
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.dl1_stereo import DL1StereoTool
from iactpipe.tools.dl2_dl3 import DL2DL3Tool
from iactpipe.tools.dqm import DQMTool
from iactpipe.tools.index import IndexTool
from iactpipe.tools.irf import IRFTool
from iactpipe.tools.performance import PerformanceTool
from iactpipe.tools.quickstart import QuickstartTool
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool
from iactpipe.tools.train import TrainTool

TOOLS = {
    "simulate": SimulateTool,
    "r0-dl1": R0DL1Tool,
    "dl1-stereo": DL1StereoTool,
    "train": TrainTool,
    "dl1-dl2": DL1DL2Tool,
    "irf": IRFTool,
    "performance": PerformanceTool,
    "dl2-dl3": DL2DL3Tool,
    "index": IndexTool,
    "analysis": AnalysisTool,
    "dqm": DQMTool,
    "chain": ChainTool,
    "quickstart": QuickstartTool,
}

#: words that only a back trace prints
TRACEBACK_WORDS = ("Traceback", 'File "', "HDF5 error back trace", "H5F.c")


def all_files(directory: Path) -> set[Path]:
    """Every file and directory under ``directory`` (hidden ones included)."""
    return set(directory.rglob("*")) | set(directory.rglob(".*"))


def assert_failure(code: int, stderr: str, expected_code: int, words=()) -> str:
    """
    The failure convention: ``expected_code``, exactly one ERROR line (which contains
    ``words``), no CRITICAL line and no back trace. Returns the ERROR line.
    """
    lines = stderr.splitlines()
    errors = [line for line in lines if "ERROR" in line]
    assert code == expected_code, stderr
    assert len(errors) == 1, errors
    assert not [line for line in lines if "CRITICAL" in line], stderr
    assert not [w for w in TRACEBACK_WORDS if w in stderr], stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def run_failing(tool: str, argv: list[str], out: Path, cwd: Path, capsys) -> tuple[int, str]:
    """Run ``tool`` in-process; its exit code and stderr. ``out`` (the output directory
    of the case) must be unchanged afterwards."""
    before = all_files(out)
    capsys.readouterr()
    code = run_tool(TOOLS[tool](), argv=argv, raises=False, cwd=cwd)
    stderr = capsys.readouterr().err
    new = all_files(out) - before
    assert not new, f"new files after a failed run: {sorted(map(str, new))}"
    return code, stderr


def run_subprocess(tool: str, argv: list[str], cwd: Path):
    """Run ``iactpipe-<tool>`` as a real process: the exit code and stderr the shell
    sees."""
    script = Path(sys.executable).with_name(f"iactpipe-{tool}")
    command = [str(script)] if script.exists() else [sys.executable, "-m", _module(tool)]
    env = {**os.environ, "HOME": str(cwd)}
    src = Path(__file__).resolve().parents[2] / "src"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [*command, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    return result.returncode, result.stderr


@contextmanager
def read_only(directory: Path):
    """``directory`` made read-only: mode 0o555, or for root (who writes there anyway) the
    immutable attribute (``chattr +i``; the test is skipped where that is not possible)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    done = chattr and subprocess.run([chattr, "+i", str(directory)], capture_output=True)
    if not done or done.returncode != 0:
        pytest.skip("running as root without chattr +i: no read-only directory possible")
    try:
        yield directory
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


def _module(tool: str) -> str:
    return f"iactpipe.tools.{tool.replace('-', '_')}"


def _chain(request) -> dict[str, Path]:
    """The session chain (``dl3_chain``); ``IACTPIPE_TEST_CHAIN=<dir>`` reuses the output
    of an earlier ``build_dl3_chain(<dir>)`` (to iterate on this suite without the chain's
    minutes of simulation)."""
    prebuilt = os.environ.get("IACTPIPE_TEST_CHAIN")
    if not prebuilt:
        return request.getfixturevalue("dl3_chain")
    tmp = Path(prebuilt)
    return {
        "library": tmp / "irfs",
        "models": tmp / "models",
        "observation_dl1": tmp / "run.stereo.h5",
        "observation_dl2": tmp / "run.stereo.dl2.h5",
        "run_tel021": tmp / "run_tel021.h5",
        "run_tel022": tmp / "run_tel022.h5",
    }


@pytest.fixture(scope="session")
def reliability_files(request, tmp_path_factory) -> dict[str, Path]:
    """
    Inputs of every kind: good ones from the session chain (R1, DL1, DL2, MC DL2, models,
    IRF library, DL3 directory) and bad ones (not HDF5, truncated HDF5, truncated DL3,
    a YAML config that is not YAML).
    """
    from chain_fixtures import dl2_to_dl3

    base = tmp_path_factory.mktemp("reliability")
    chain = _chain(request)
    library = chain["library"]
    files = {
        "r1": chain["run_tel021"],
        "dl1": chain["observation_dl1"],
        "dl2": chain["observation_dl2"],
        "mc_dl2": library.parent / "gamma_point.dl2.h5",
        "mc_dl1": library.parent / "gamma_diffuse.h5",
        "proton_dl1": library.parent / "proton.h5",
        "models": chain["models"],
        "irfs": library,
    }
    files["dl3"] = dl2_to_dl3(files["dl2"], library, base / "dl3")
    bad = base / "bad"
    bad.mkdir()
    files["junk_h5"] = bad / "junk.h5"
    files["junk_h5"].write_bytes(b"not an HDF5 file " * 500)
    data = files["dl2"].read_bytes()
    files["truncated_h5"] = bad / "truncated.dl2.h5"
    files["truncated_h5"].write_bytes(data[: len(data) // 3])
    files["bad_dl3"] = bad / "dl3"
    shutil.copytree(files["dl3"], files["bad_dl3"])
    (dl3_file,) = files["bad_dl3"].glob("dl3_*.fits.gz")
    dl3_file.write_bytes(dl3_file.read_bytes()[:3000])
    files["bad_yaml"] = bad / "bad.yaml"
    files["bad_yaml"].write_text("ShowerGenerator: {n_showers: [unclosed\n")
    return files


@pytest.fixture
def case_dirs(tmp_path) -> tuple[Path, Path]:
    """(output directory of the case, working directory of the tool)."""
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    out.mkdir()
    cwd.mkdir()
    return out, cwd
