"""
Failures every Tool handles alike: termination signals and write errors.

- SIGTERM (a batch system's time limit, ``kill``) and SIGHUP (a closed terminal) stop a
  Tool exactly like Ctrl-C (SIGINT): a `Interrupted` exception (a `KeyboardInterrupt`)
  unwinds the Tool, its exit stack removes the partial outputs, and the exit code is
  128 + the signal number (130 SIGINT, 129 SIGHUP, 143 SIGTERM). Further signals during
  the clean-up are logged and ignored. A signal ignored when the Tool starts (``nohup``)
  stays ignored.
- Libraries may swallow the exception: PyTables' attribute code catches everything, so a
  signal that arrives while a Tool writes HDF5 attributes would be lost and the Tool would
  run to its end (measured: 1 in about 40 runs of the signal tests). Once a signal is
  received, the guard therefore raises `Interrupted` again every
  `REDELIVERY_INTERVAL_S` (``SIGALRM`` timer) until the exception is seen unwinding, and
  a ``setup``/``start``/``finish`` that returns normally after a signal raises it then.
- A write error (no space left on the device, a file-size limit, a quota) raised by
  ``setup``, ``start`` or ``finish`` becomes one `~iactpipe.io.OutputWriteError` line
  naming the final output (exit 2), see `iactpipe.io.atomic.write_error`.

`IactpipeTool` applies both to every subclass (`guard_tool_class`). A Tool that waits on
threads (the chain) sets ``signals_raise = False``: the signal is then only recorded, and
the Tool polls `received_signal` at safe points (an exception raised inside the locks of
``concurrent.futures`` could leave them held).
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from contextlib import ExitStack

from ..io.atomic import write_error
from ..io.errors import Interrupted

__all__ = [
    "HANDLED_SIGNALS",
    "Interrupted",
    "REDELIVERY_INTERVAL_S",
    "SignalGuard",
    "guard_tool_class",
    "interrupted_exit_status",
    "raise_pending_interrupt",
    "received_signal",
    "settle_interrupt",
]

log = logging.getLogger(__name__)

#: the signals that stop a Tool cleanly (SIGINT as Python does, plus these two)
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: the exit status ctapipe's ``Tool.run`` gives to a KeyboardInterrupt
CTRL_C_STATUS = 130
#: how often a received signal's `Interrupted` is raised again while no handler has seen it
REDELIVERY_INTERVAL_S = 0.25


class SignalGuard:
    """
    While entered (a context manager), SIGINT, SIGTERM and SIGHUP raise `Interrupted`
    (once: later signals are ignored during the clean-up); the previous handlers come
    back on exit. Only in the main thread (elsewhere signals cannot be handled).

    An `Interrupted` that some library swallows is raised again (every
    `REDELIVERY_INTERVAL_S`, from a ``SIGALRM`` timer) until `settle` is called, which the
    Tool does once the exception has left its own code; a timer tick that finds the
    exception being handled (an ``except``/``__exit__`` on its way up) does nothing.

    With ``raise_interrupt=False`` the first signal is only recorded (`received`): for
    code that waits on threads and locks (the chain), which checks it at safe points.
    """

    def __init__(self, logger: logging.Logger | None = None, raise_interrupt: bool = True):
        self.log = logger or log
        self.raise_interrupt = raise_interrupt
        self.received: int | None = None
        self._previous: dict[int, object] = {}
        self._previous_alarm: object | None = None

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in HANDLED_SIGNALS:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:  # nohup, a background job: keep ignoring
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self.settle()
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    @property
    def pending(self) -> bool:
        """A signal was received and its `Interrupted` has not been seen unwinding."""
        return self._previous_alarm is not None

    def settle(self) -> None:
        """The `Interrupted` is unwinding (or the run is over): stop raising it again."""
        if self._previous_alarm is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous_alarm)
        self._previous_alarm = None

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            if self.pending and not _unwinding():
                raise Interrupted(self.received)  # the first one was swallowed
            self.log.warning("received %s while cleaning up: ignored", name)
            return
        self.received = signum
        self.log.warning("received %s: stopping, partial outputs are removed", name)
        if self.raise_interrupt:
            self._arm_redelivery()
            raise Interrupted(signum)

    def _arm_redelivery(self) -> None:
        self._previous_alarm = signal.signal(signal.SIGALRM, self._redeliver)
        signal.setitimer(signal.ITIMER_REAL, REDELIVERY_INTERVAL_S, REDELIVERY_INTERVAL_S)

    def _redeliver(self, signum: int, frame) -> None:
        if self.pending and not _unwinding():
            self.log.debug("the interrupt was swallowed by a library: raised again")
            raise Interrupted(self.received)


def _unwinding() -> bool:
    """An `Interrupted` (KeyboardInterrupt) is being handled by the interrupted code."""
    return isinstance(sys.exception(), KeyboardInterrupt)


def settle_interrupt(tool) -> None:
    """``tool``'s own code is left: a received signal's exception is not raised again."""
    guard = getattr(tool, "_signal_guard", None)
    if guard is not None:
        guard.settle()


def raise_pending_interrupt(tool) -> None:
    """Raise the `Interrupted` of a signal whose exception a library swallowed."""
    guard = getattr(tool, "_signal_guard", None)
    if guard is not None and guard.pending:
        raise Interrupted(guard.received)


def received_signal(tool) -> int | None:
    """The signal ``tool`` received (a Tool whose ``signals_raise`` is False polls this)."""
    guard = getattr(tool, "_signal_guard", None)
    return None if guard is None else guard.received


def interrupted_exit_status(tool, exit_status: int) -> int:
    """The exit status of ``tool``: 128 + signum after a handled signal, else unchanged."""
    guard = getattr(tool, "_signal_guard", None)
    if guard is not None and guard.received is not None and exit_status == CTRL_C_STATUS:
        return 128 + guard.received
    return exit_status


def _install(tool) -> None:
    """Enter a `SignalGuard` on the Tool's exit stack (once per run)."""
    stack: ExitStack = tool._exit_stack
    if getattr(tool, "_signal_guard_active", False):
        return
    tool._signal_guard = SignalGuard(tool.log, getattr(tool, "signals_raise", True))
    tool._signal_guard_active = True
    stack.callback(setattr, tool, "_signal_guard_active", False)
    stack.enter_context(tool._signal_guard)


def _guarded(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        _install(self)
        try:
            result = method(self, *args, **kwargs)
        except KeyboardInterrupt:
            settle_interrupt(self)  # on its way up: the Tool's clean-up comes next
            raise
        except Exception as err:
            settle_interrupt(self)
            converted = write_error(err)
            if converted is None or converted is err:
                raise
            raise converted from err
        raise_pending_interrupt(self)
        return result

    wrapper._iactpipe_guarded = True
    return wrapper


def guard_tool_class(cls) -> None:
    """
    Wrap the ``setup``, ``start`` and ``finish`` a Tool class defines: the first of them
    that runs installs the signal handlers (undone when the Tool's exit stack closes); all
    three turn write errors into `~iactpipe.io.OutputWriteError`.
    """
    for name in ("setup", "start", "finish"):
        method = cls.__dict__.get(name)
        if method is None or getattr(method, "_iactpipe_guarded", False):
            continue
        setattr(cls, name, _guarded(method))
