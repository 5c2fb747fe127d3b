"""
Signals: SIGTERM, SIGHUP and SIGINT stop a tool cleanly (partial outputs removed, exit
143 / 129 / 130); partial files of dead processes are removed by the next run; the chain
cancels its queued steps, stops the running one and resumes from the completed steps.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from ctapipe.core import run_tool

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _process.py
from _process import files_below, start_tool

from iactpipe.io import AtomicOutputFile
from iactpipe.tools.base import IactpipeTool
from iactpipe.tools.chain import ChainTool
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.signals import Interrupted, SignalGuard
from iactpipe.tools.simulate import SimulateTool

#: the tools run in forked children of the (threaded) test process, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")


@pytest.fixture(autouse=True)
def _sighup_not_ignored():
    """These tests expect SIGHUP to be handled; under ``nohup`` (a suite started in the
    background) it is inherited as ignored, which the tools rightly keep ignoring (see
    `test_ignored_signal_stays_ignored`): make it the default for each test, then put
    back what the process had."""
    previous = signal.getsignal(signal.SIGHUP)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGHUP, previous)


def _wait_for(condition, timeout_s=60.0, what=""):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s} s for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_guard_raises_interrupted_and_restores_handlers(signum):
    before = signal.getsignal(signum)
    with SignalGuard() as guard, pytest.raises(Interrupted) as caught:
        os.kill(os.getpid(), signum)
        time.sleep(1)  # the handler runs at the next bytecode
    assert caught.value.exit_code == 128 + signum
    assert guard.received == signum
    assert signal.getsignal(signum) is before


def _swallow_one_signal(signum):
    """Send ``signum`` to this process inside code that swallows every exception, as
    PyTables' attribute code does (the cause of a lost SIGINT in CI)."""
    try:
        os.kill(os.getpid(), signum)
        time.sleep(1)
    except BaseException:  # the library's behaviour, on purpose
        pass


def test_swallowed_interrupt_is_raised_again():
    with SignalGuard() as guard:
        _swallow_one_signal(signal.SIGTERM)
        assert guard.pending
        with pytest.raises(Interrupted) as caught:
            time.sleep(5)  # raised again after REDELIVERY_INTERVAL_S
        assert caught.value.exit_code == 143
    assert not guard.pending
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler)


class _SwallowingTool(IactpipeTool):
    """A Tool whose library swallows the interrupt, then works for 5 s more."""

    name = "swallowing"
    steps_after_signal = 0

    def start(self):
        _swallow_one_signal(signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.05)
            self.steps_after_signal += 1


class _SwallowingSetupTool(IactpipeTool):
    """The interrupt is swallowed in ``setup``, which then returns normally."""

    name = "swallowing-setup"
    started = False

    def setup(self):
        _swallow_one_signal(signal.SIGHUP)

    def start(self):
        self.started = True


def test_tool_stops_although_a_library_swallowed_the_signal(tmp_path):
    tool = _SwallowingTool()
    assert run_tool(tool, [], cwd=tmp_path, raises=False) == 143
    assert tool.steps_after_signal < 20  # stopped within a few redelivery intervals
    tool = _SwallowingSetupTool()
    assert run_tool(tool, [], cwd=tmp_path, raises=False) == 129
    assert not tool.started


def test_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with SignalGuard():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


CASES = {  # tool, argv, signal, exit code
    "simulate observation SIGTERM": (
        SimulateTool,
        ["--mode=observation", "--duration=60 s", "-o", "run.h5"],
        signal.SIGTERM,
        143,
    ),
    "simulate mc SIGINT": (SimulateTool, ["-n", "100000", "-o", "mc.h5"], signal.SIGINT, 130),
    "r0-dl1 SIGHUP": (R0DL1Tool, ["-o", "run.dl1.h5"], signal.SIGHUP, 129),
}


@pytest.mark.parametrize("case", list(CASES))
def test_signal_removes_partial_outputs(case, tmp_path, dl3_chain):
    tool, argv, signum, expected = CASES[case]
    if tool is R0DL1Tool:
        argv = ["-i", dl3_chain["run_tel021"], *argv]
    child = start_tool(tool, argv, tmp_path)
    # the partial output exists: the tool is writing it
    _wait_for(lambda: list(tmp_path.glob(".*.partial-*")), what="a partial output")
    os.kill(child.pid, signum)
    code, output = child.wait()
    assert code == expected, output
    assert f"received {signal.Signals(signum).name}" in output
    assert "Traceback" not in output
    assert files_below(tmp_path) == set(), output


def test_stale_partial_files_removed(tmp_path, caplog):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.h5.partial-{dead_pid}"
    stale.write_text("left by a killed run")
    stale_dir = tmp_path / f".models.partial-{dead_pid}"
    stale_dir.mkdir()
    alive = tmp_path / ".out.h5.partial-1"  # init: alive, maybe writing it
    alive.write_text("someone else's")
    other = tmp_path / f".out.h5.old.partial-{dead_pid}"  # another output's
    other.write_text("not ours")
    with caplog.at_level("WARNING"):
        AtomicOutputFile(tmp_path / "out.h5")
        AtomicOutputFile(tmp_path / "models")
    assert not stale.exists() and not stale_dir.exists()
    assert alive.exists() and other.exists()
    assert f"process {dead_pid}, which is no longer running" in caplog.text


# -- the chain ------------------------------------------------------------------------------
def _chain_config(tmp_path: Path, mc_file: Path) -> Path:
    """Three independent r0-dl1 steps (three productions of one small MC file)."""
    productions = [
        {"name": n, "kind": k, "files": [str(mc_file)]}
        for n, k in (("a", "gamma_diffuse"), ("b", "proton"), ("c", "gamma_point"))
    ]
    config = {
        "DataSet": {"base_dir": str(tmp_path), "mc_productions": productions},
        "StepExecutor": {"jobs": 1},
    }
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_chain_sigterm_stops_everything_and_resumes(tmp_path):
    mc = tmp_path / "gamma.r1.h5"
    assert run_tool(SimulateTool(), ["-n", "30", "-o", str(mc), "--seed", "3"]) == 0
    config, out = _chain_config(tmp_path, mc), tmp_path / "out"
    argv = [f"--config={config}", f"--output={out}", "--stages=r0-dl1", "--no-progress"]
    child = start_tool(ChainTool, argv, tmp_path)
    records = lambda: sorted(out.rglob("*.step.json"))  # noqa: E731
    partials = lambda: list(out.rglob(".*.partial-*"))  # noqa: E731
    # the first step completed, the second one is writing: SIGTERM the chain
    _wait_for(lambda: records() and partials(), timeout_s=120, what="step 2 running")
    steps = _descendants(child.pid)
    assert steps
    os.kill(child.pid, signal.SIGTERM)
    code, output = child.wait()
    assert code == 143, output
    assert not [p for p in steps if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert partials() == []
    # records of the completed steps only: the first one (and the second, had it just
    # finished when the signal came: the queue is tested exactly in the executor test)
    done = {p.parent.name for p in records()}
    assert 1 <= len(done) < 3, done
    assert all((p.parent / p.name.removesuffix(".step.json")).is_file() for p in records())
    # the next call resumes: the completed steps are up to date, the others run again
    tool = ChainTool()
    assert run_tool(tool, [*argv, "--dry-run"]) == 0
    status = {o.step.name: o.status for o in tool.outcomes if o.step.stage == "r0-dl1"}
    expected = {f"r0-dl1 {p}/gamma": "up to date" if p in done else "would run" for p in "abc"}
    assert status == expected


def test_local_executor_interrupt_cancels_queue_and_stops_process_groups(tmp_path):
    from iactpipe.workflow.executors import LocalExecutor

    # a step with a child of its own: the signal reaches the whole process group
    step = ["sh", "-c", "sleep 37 & wait"]
    with LocalExecutor(jobs=1) as executor:
        futures = [executor.submit(step, tmp_path, tmp_path / f"{i}.log") for i in range(2)]
        _wait_for(lambda: _descendants(os.getpid()), what="the step started")
        start = time.monotonic()
        executor.interrupt(futures, signal.SIGTERM)
        assert time.monotonic() - start < 10
    assert futures[1].cancelled()
    assert futures[0].result().returncode == -signal.SIGTERM
    sleeping = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "37"]]
    assert sleeping == []
    assert not (tmp_path / "1.log").exists()
