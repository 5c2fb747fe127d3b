"""
Run a Tool in a forked child of the test process: cheap (nothing is imported again, the
numba functions are compiled already), with a file-size limit or a signal sent to it.
The child's stdout and stderr go through a pipe, which no file-size limit affects.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ctapipe.core import run_tool

__all__ = ["ForkedTool", "call_limited", "error_lines", "files_below", "run_limited", "start_tool"]

#: sent to a child that does not finish in time: it writes its threads' stacks first
STACK_DUMP_SIGNAL = signal.SIGUSR1
#: the signal dispositions of a process started from a shell (Python's own for SIGINT)
STARTING_DISPOSITIONS = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
    signal.SIGHUP: signal.SIG_DFL,
}


@dataclass
class ForkedTool:
    """A Tool running in a forked child: its pid and the read end of its output."""

    pid: int
    fd: int
    output: bytes = b""

    def read(self, timeout_s: float = 0.0) -> None:
        """Read what the child wrote (waits at most ``timeout_s``)."""
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        while ready:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return
            self.output += chunk
            ready, _, _ = select.select([self.fd], [], [], 0)

    def wait(self, timeout_s: float = 120.0) -> tuple[int, str]:
        """Wait for the child; returns its exit code and its output."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                # the child's Python stacks into its output (faulthandler, see start_tool)
                # before it is killed: a hang then says where it hangs
                os.kill(self.pid, STACK_DUMP_SIGNAL)
                self.read(1.0)
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise TimeoutError(f"tool did not finish in {timeout_s} s: {self.text}")
        self.read(0.05)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status), self.text

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


def start_tool(
    make_tool: Callable, argv: list[str], cwd: Path, prepare: Callable[[], None] | None = None
) -> ForkedTool:
    """
    Fork; the child calls ``prepare()`` (limits, signal dispositions), then runs
    ``make_tool()`` with ``argv`` in ``cwd`` through ``run_tool`` and exits with its code.
    """
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.close(read_fd)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            sys.stdout = os.fdopen(os.dup(1), "w", buffering=1)
            sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
            faulthandler.register(STACK_DUMP_SIGNAL, file=sys.stderr, all_threads=True)
            # start like a Tool run from a shell: the test worker's dispositions and signal
            # mask are not the child's to inherit (in a fresh-clone CI run the forked
            # simulator ran on after SIGINT: ignored or blocked in the worker when it forked;
            # multiprocessing's resource tracker blocks SIGINT/SIGTERM while it starts)
            for signum, handler in STARTING_DISPOSITIONS.items():
                signal.signal(signum, handler)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, list(STARTING_DISPOSITIONS))
            if prepare is not None:
                prepare()
            argv = [*argv, "--provenance-log=/dev/null"]
            code = run_tool(make_tool(), argv=[str(a) for a in argv], cwd=cwd, raises=False)
        except BaseException as err:  # reported through the pipe
            print(f"child failed: {type(err).__name__}: {err}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 70)
    os.close(write_fd)
    return ForkedTool(pid, read_fd)


def call_limited(func: Callable[[], object], limit_bytes: int) -> tuple[int, str]:
    """Call ``func()`` in a forked child with files limited to ``limit_bytes``: exit code
    0, or 1 with ``Type: message`` of the exception in the output."""

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            os.dup2(write_fd, 2)
            _limit_file_size(limit_bytes)()
            func()
            code = 0
        except BaseException as err:
            os.write(2, f"{type(err).__name__}: {err}\n".encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    return ForkedTool(pid, read_fd).wait()


def _limit_file_size(limit_bytes: int) -> Callable[[], None]:
    def prepare():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails (EFBIG), no kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return prepare


def run_limited(
    make_tool: Callable, argv: list[str], cwd: Path, limit_bytes: int
) -> tuple[int, str]:
    """Run a Tool with files limited to ``limit_bytes``; returns exit code and output."""
    return start_tool(make_tool, argv, cwd, _limit_file_size(limit_bytes)).wait()


def error_lines(text: str) -> list[str]:
    """The ERROR/CRITICAL log lines (without ctapipe's "Use --help for more info")."""
    lines = [line for line in text.splitlines() if "ERROR" in line or "CRITICAL" in line]
    return [line for line in lines if "Use --help for more info" not in line]


def files_below(path: Path) -> set[Path]:
    """Every file below ``path`` and every partial output (a hidden ``.partial-PID`` file
    or directory), hidden ones included."""
    if not path.exists():
        return set()
    return {p for p in path.rglob("*") if not p.is_dir() or ".partial" in p.name}
