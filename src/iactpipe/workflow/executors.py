"""
Where the chain's steps run: local processes (default), a dask.distributed cluster (a
LocalCluster or a scheduler address), or SLURM jobs through dask-jobqueue. Every step
is one subprocess with an argument list (never a shell string); its output goes to
the step's log and its exit code decides the status.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from abc import abstractmethod
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from pathlib import Path

from ctapipe.core import Component
from ctapipe.core.traits import Bool, Int, List, Unicode

__all__ = [
    "CommandResult",
    "DaskExecutor",
    "LocalExecutor",
    "SlurmExecutor",
    "StepExecutor",
    "error_lines",
    "run_command",
    "terminate_steps",
    "wait_for_steps",
]

MAX_ERROR_LINES = 5
#: seconds the interrupted steps get to clean up before their process groups are killed
CLEANUP_TIMEOUT_S = 60.0

#: the steps running in this process (pid -> process), each the leader of its own process
#: group, so that a signal reaches the step and everything it started
_STEPS: dict[int, subprocess.Popen] = {}
_STEPS_LOCK = threading.Lock()
#: set when the chain is interrupted: no new step starts in this process
_STOPPING = threading.Event()
#: terminal colour codes of the tools' log lines (kept out of the summary)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CommandResult:
    """Exit code, wall time and the error lines of one step's command."""

    returncode: int
    duration_s: float
    errors: list[str] = field(default_factory=list)


def error_lines(log: str) -> list[str]:
    """
    The lines of a log that say why a tool failed: its ERROR/CRITICAL lines, else the
    last line of a traceback, else the last non-empty line.
    """
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in log.splitlines() if line.strip()]
    found = [line for line in lines if "ERROR" in line or "CRITICAL" in line]
    found = [line for line in found if "Use --help for more info" not in line]
    if not found and lines:
        found = [lines[-1]]
    return found[:MAX_ERROR_LINES]


def run_command(argv: list[str], cwd: str, log_path: str) -> CommandResult:
    """
    Run ``argv`` in ``cwd`` with stdout and stderr into ``log_path``.

    Runs in the executor's worker (a thread, a dask worker or a SLURM job), so it takes
    and returns plain picklable values.
    """
    start = time.perf_counter()
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        log.write(f"# cwd: {cwd}\n# {shlex.join(argv)}\n")
        log.flush()
        try:
            returncode = _run_in_own_group(argv, cwd, log)
        except OSError as err:  # the executable is missing or not executable
            log.write(f"ERROR: cannot run {argv[0]}: {err}\n")
            returncode = 127
    duration = time.perf_counter() - start
    errors = [] if returncode == 0 else error_lines(Path(log_path).read_text())
    return CommandResult(returncode, duration, errors)


def _run_in_own_group(argv: list[str], cwd: str, log) -> int:
    """Run a step as the leader of a new process group (registered while it runs)."""
    with _STEPS_LOCK:
        if _STOPPING.is_set():
            log.write("# not started: the chain was interrupted\n")
            return 128 + signal.SIGINT
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _STEPS[process.pid] = process
    try:
        return process.wait()
    finally:
        with _STEPS_LOCK:
            _STEPS.pop(process.pid, None)


def terminate_steps(signum: int = signal.SIGTERM, stop: bool = True) -> list[int]:
    """
    Send ``signum`` to the process group of every step running in this process (the
    chain, or a dask worker); with ``stop``, no further step starts here. Returns the
    pids signalled.
    """
    with _STEPS_LOCK:
        if stop:
            _STOPPING.set()
        pids = list(_STEPS)
    for pid in pids:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:  # finished meanwhile
            pass
    return pids


def wait_for_steps(timeout_s: float) -> int:
    """Wait until no step runs in this process; after ``timeout_s`` kill the rest
    (SIGKILL to their process groups). Returns how many had to be killed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with _STEPS_LOCK:
            if not _STEPS:
                return 0
        time.sleep(0.05)
    return len(terminate_steps(signal.SIGKILL))


class StepExecutor(Component):
    """
    Runs step commands concurrently. Use as a context manager: the cluster (if any)
    starts on enter and stops on exit.
    """

    jobs = Int(2, min=1, help="Steps run at the same time (processes, workers or SLURM jobs)").tag(
        config=True
    )

    def __enter__(self) -> StepExecutor:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def start(self) -> None:
        """Start the workers."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers."""

    @abstractmethod
    def submit(self, argv: list[str], cwd: Path, log_path: Path):
        """Submit one command; returns a future of a `CommandResult`."""

    @abstractmethod
    def wait_any(self, futures: list, timeout_s: float | None = None) -> list:
        """Block until at least one of ``futures`` is done (or ``timeout_s`` passed);
        return the done ones."""

    @abstractmethod
    def interrupt(self, futures: list, signum: int) -> None:
        """
        Cancel the queued ``futures`` at once, send ``signum`` to the running steps and
        wait until they have cleaned up (killed after `CLEANUP_TIMEOUT_S`).
        """

    @staticmethod
    def result(future) -> CommandResult:
        """The `CommandResult` of a done future (a failure of the executor itself is a
        failed step, not a crash of the chain)."""
        try:
            return future.result()
        except Exception as err:
            return CommandResult(1, 0.0, [f"ERROR executor: {type(err).__name__}: {err}"])


class LocalExecutor(StepExecutor):
    """Local processes, at most ``jobs`` at a time (threads wait on the subprocesses)."""

    def start(self) -> None:
        _STOPPING.clear()
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def interrupt(self, futures, signum):
        self._pool.shutdown(wait=False, cancel_futures=True)
        pids = terminate_steps(signum)
        self.log.warning(
            "interrupted: queued steps cancelled, %s sent to %d running steps",
            signal.Signals(signum).name,
            len(pids),
        )
        # a future cancelled by the shutdown is never "done" for wait(): left out
        started = [f for f in futures if not f.cancelled()]
        _, running = futures_wait(started, timeout=CLEANUP_TIMEOUT_S)
        if running:
            self.log.error(
                "%d steps still running after %.0f s: killed", len(running), CLEANUP_TIMEOUT_S
            )
            terminate_steps(signal.SIGKILL)
            futures_wait(started)

    def submit(self, argv, cwd, log_path):
        return self._pool.submit(run_command, argv, str(cwd), str(log_path))

    def wait_any(self, futures, timeout_s=None):
        done, _ = futures_wait(futures, timeout=timeout_s, return_when=FIRST_COMPLETED)
        return list(done)


class DaskExecutor(StepExecutor):
    """
    A dask.distributed cluster: a LocalCluster of ``jobs`` workers, or the scheduler at
    ``scheduler_address``. Workers must see the output directory and the iactpipe
    executables at the same paths.
    """

    scheduler_address = Unicode(
        None, allow_none=True, help="Address of a running dask scheduler (default: a LocalCluster)"
    ).tag(config=True)
    processes = Bool(
        True, help="LocalCluster workers are processes (False: threads in this process)"
    ).tag(config=True)

    def make_cluster(self):
        """The cluster to connect to (None: ``scheduler_address``)."""
        if self.scheduler_address:
            return None
        from distributed import LocalCluster

        return LocalCluster(
            n_workers=self.jobs,
            threads_per_worker=1,
            processes=self.processes,
            dashboard_address=None,
        )

    def start(self) -> None:
        from distributed import Client

        self._cluster = self.make_cluster()
        self._client = Client(self._cluster or self.scheduler_address)
        self.log.info("dask client: %s", self._client)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def submit(self, argv, cwd, log_path):
        # pure=False: the same command submitted again (a rerun) must run again
        return self._client.submit(run_command, argv, str(cwd), str(log_path), pure=False)

    def wait_any(self, futures, timeout_s=None):
        from distributed import wait

        try:
            done, _ = wait(futures, timeout=timeout_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(done)

    def interrupt(self, futures, signum):
        self._client.cancel(futures)
        # the steps already running: signalled in their workers, then waited for
        self._client.run(terminate_steps, signum, False)
        self.log.warning(
            "interrupted: queued steps cancelled, %s sent to the running steps",
            signal.Signals(signum).name,
        )
        self._client.run(wait_for_steps, CLEANUP_TIMEOUT_S)


class SlurmExecutor(DaskExecutor):
    """
    SLURM batch jobs through dask-jobqueue (``SLURMCluster``): up to ``jobs`` jobs, each
    one dask worker of ``cores`` cores and ``memory``.
    """

    queue = Unicode(None, allow_none=True, help="SLURM partition (sbatch -p)").tag(config=True)
    account = Unicode(None, allow_none=True, help="SLURM account (sbatch -A)").tag(config=True)
    cores = Int(1, min=1, help="Cores per job").tag(config=True)
    memory = Unicode("4GB", help="Memory per job").tag(config=True)
    walltime = Unicode("02:00:00", help="Wall-time limit per job (HH:MM:SS)").tag(config=True)
    job_extra_directives = List(
        Unicode(), default_value=[], help="Extra #SBATCH lines, like '--qos=normal'"
    ).tag(config=True)
    log_directory = Unicode(None, allow_none=True, help="Directory for the SLURM job logs").tag(
        config=True
    )

    def make_cluster(self):
        """A ``dask_jobqueue.SLURMCluster`` scaled to ``jobs`` jobs (not yet submitted)."""
        if self.scheduler_address:
            return None
        SLURMCluster = _import_slurm_cluster()
        cluster = SLURMCluster(
            queue=self.queue,
            account=self.account,
            cores=self.cores,
            processes=1,
            memory=self.memory,
            walltime=self.walltime,
            job_extra_directives=list(self.job_extra_directives),
            log_directory=self.log_directory,
            scheduler_options={"dashboard_address": None},
        )
        return cluster

    def start(self) -> None:
        super().start()
        if self._cluster is not None:
            self._cluster.scale(jobs=self.jobs)


def _import_slurm_cluster():
    """
    ``dask_jobqueue.SLURMCluster``, imported with this process's SIGINT handler kept:
    ``dask_jobqueue.runner`` sets SIGINT to ``sys.exit()`` when it is imported, which
    would replace the chain's Ctrl-C handling (and is inherited by a forked child).
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main_thread else None
    try:
        from dask_jobqueue import SLURMCluster
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return SLURMCluster


EXECUTORS = {"local": LocalExecutor, "dask": DaskExecutor, "slurm": SlurmExecutor}
