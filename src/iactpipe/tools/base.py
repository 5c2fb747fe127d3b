"""The base of every iactpipe Tool: behaviour shared by all executables."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ctapipe.core import Provenance, Tool, ToolConfigurationError
from ctapipe.core.traits import Bool
from traitlets import TraitError, TraitType
from traitlets.config import Application
from traitlets.config.loader import ArgumentError

from .signals import guard_tool_class, interrupted_exit_status, settle_interrupt

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL_ERROR",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "IactpipeTool",
    "error_message",
    "one_line",
    "writable_directory",
]

#: exit code of a run stopped by bad input or configuration (nothing written)
EXIT_BAD_INPUT = 2
#: exit code of a run stopped by an internal error (a bug: please report it)
EXIT_INTERNAL_ERROR = 1
#: exit codes of interrupted runs (128 + signal number)
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
#: exit codes of runs stopped by a signal (SIGHUP, SIGINT, SIGTERM)
INTERRUPT_CODES = (129, EXIT_SIGINT, EXIT_SIGTERM)

#: errors of the user's input or configuration: one ERROR line and exit 2
BAD_INPUT_ERRORS = (ToolConfigurationError, TraitError, ArgumentError)

#: traitlets' messages, rewritten as ``Class.trait = value: must be ...`` (the option name)
_TRAIT_MESSAGES = [
    (
        re.compile(
            r"The value of the '(\w+)' trait of an? (\w+) instance should not be (less|greater) "
            r"than (.+), but a value of (.+) was specified"
        ),
        lambda m: f"{m[2]}.{m[1]} = {m[5]}: must be {'>=' if m[3] == 'less' else '<='} {m[4]}",
    ),
    (
        re.compile(r"The '(\w+)' trait of an? (\w+) instance .*PathError '(.+)': (.+?)\.?$"),
        lambda m: f"{m[3]}: {m[4]} ({m[2]}.{m[1]})",
    ),
    (
        re.compile(r"The '(\w+)' trait of an? (\w+) instance (?:contains .* which )?(.+)$"),
        lambda m: f"{m[2]}.{m[1]}: {m[3]}",
    ),
]

_HDF5_TRACE_START = "HDF5 error back trace"
_HDF5_TRACE_END = "End of HDF5 error back trace"


def one_line(text: str) -> str:
    """
    ``text`` on one line. An HDF5 back trace inside it (PyTables puts the library's whole
    trace in its messages) is reduced to its innermost cause.
    """
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if _HDF5_TRACE_END in lines:
        end = lines.index(_HDF5_TRACE_END)
        start = next((i for i, line in enumerate(lines) if _HDF5_TRACE_START in line), end)
        head = lines[start].split(_HDF5_TRACE_START)[0].strip() if start < end else ""
        cause = lines[end - 1].split("(): ", 1)[-1]
        lines = [*lines[:start], head, *lines[end + 1 :], f"[HDF5: {cause}]"]
    text = " ".join(line for line in lines if line)
    for pattern, rewrite in _TRAIT_MESSAGES:
        match = pattern.search(text)
        if match:
            return rewrite(match)
    return text


def error_message(err: BaseException) -> str:
    """
    The one-line message of ``err``. A traitlets error raised as ``TraitError(message,
    info, trait)`` (ctapipe's Path traits) prints as a raw tuple: it becomes
    ``message (Class.trait)``.
    """
    args = getattr(err, "args", ())
    if isinstance(err, TraitError) and len(args) == 3 and isinstance(args[2], TraitType):
        trait = args[2]
        owner = getattr(trait, "this_class", None)
        name = f"{owner.__name__}.{trait.name}" if owner is not None else trait.name
        return f"{one_line(args[0])} ({name})"
    return one_line(err)


def writable_directory(path: Path | str, option: str) -> Path:
    """
    ``path`` as an existing or creatable, writable directory; a `ToolConfigurationError`
    naming ``option`` and the reason otherwise. Nothing is created: a run that fails later
    leaves no empty directory behind (the Tool creates it when it writes).
    """
    path = Path(path).expanduser().absolute()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ToolConfigurationError(f"{option}: {existing} is not a directory")
    where = "" if existing == path else f" (cannot create it in {existing})"
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ToolConfigurationError(f"{option}: {path}: directory is not writable{where}")
    try:  # also for root on a read-only file system, which os.access does not see
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as err:
        raise ToolConfigurationError(
            f"{option}: {path}: directory is not writable{where} ({err.strerror})"
        ) from None
    return path


class IactpipeTool(Tool):
    """
    A ctapipe `~ctapipe.core.Tool` with the conventions every iactpipe executable shares.

    Subclasses are written exactly like ctapipe Tools (``setup/start/finish``); what all of
    them must do alike (exit codes, signal handling, output conventions) lives here, once.

    Exit codes: 0 success; 2 bad input or configuration (a missing or unreadable file, a
    bad option value: one ERROR line naming the file or option and the cause, no output);
    1 an internal error (one ERROR line; the back trace at ``--log-level DEBUG``);
    130 / 143 interrupted by SIGINT (Ctrl-C) / SIGTERM.
    """

    # --- shared traits (one declaration for every tool; each tool keeps its own --overwrite
    # flag built with ``flag("overwrite", "<ToolName>.overwrite", ...)``; traitlets applies a
    # ``<ToolName>.overwrite`` config key to this inherited trait, and ``IactpipeTool.overwrite``
    # to every tool)
    overwrite = Bool(
        False, help="Replace existing outputs (files or output directories) of this tool"
    ).tag(config=True)

    def parse_command_line(self, argv=None):
        """
        traitlets' parser without its ``catch_config_error`` (which logs two CRITICAL lines
        and exits 1): a bad value or a missing file reaches `run` as an error of the user.
        """
        return Application.parse_command_line.__wrapped__(self, argv)

    def initialize(self, argv=None):
        """ctapipe's `~ctapipe.core.Tool.initialize`, with config-file errors on one line."""
        try:
            super().initialize(argv)
        except ToolConfigurationError as err:
            if isinstance(err.__cause__, BAD_INPUT_ERRORS):
                raise err.__cause__ from None  # not "Couldn't read config file: ... (<class>)"
            raise

    def load_config_file(self, path, *args, **kwargs):
        """ctapipe's loader; an unreadable file is an error naming it, on one line."""
        try:
            return super().load_config_file(path, *args, **kwargs)
        except BAD_INPUT_ERRORS:
            raise
        except Exception as err:
            raise ToolConfigurationError(
                f"{path}: cannot read the config file ({type(err).__name__}: {one_line(err)})"
            ) from None

    def run(self, argv=None, raises=False):
        """
        Run the tool (initialize, setup, start, finish) and exit with the code of the
        convention above.

        Parameters
        ----------
        argv : list of str or None
            Command-line arguments (None: ``sys.argv``).
        raises : bool
            Re-raise the error instead of exiting (for tests).
        """
        exit_status, status, current = 0, "completed", None
        try:
            with self._exit_stack:
                try:
                    self._run_steps(argv)
                finally:  # the clean-up is not to be interrupted by a re-raised signal
                    settle_interrupt(self)
        except BAD_INPUT_ERRORS as err:
            current, exit_status, status = err, EXIT_BAD_INPUT, "error"
            self.log.error("%s", error_message(err))
            self.log.debug("details", exc_info=True)
        except KeyboardInterrupt as err:  # not re-raised with raises=True (as ctapipe)
            status = "interrupted"
            exit_status = getattr(err, "exit_code", EXIT_SIGINT)
            self.log.warning("interrupted (exit %d): no output written", exit_status)
        except SystemExit as err:
            exit_status = err.code
            if exit_status not in (0, None):
                current, status = err, "error"
        except Exception as err:
            exit_status = getattr(err, "exit_code", EXIT_INTERNAL_ERROR)
            if exit_status in INTERRUPT_CODES:  # a signal turned into an exception
                status = "interrupted"
                self.log.warning("interrupted (exit %d): no output written", exit_status)
            else:
                current, status = err, "error"
                self.log.error(
                    "internal error: %s: %s (the back trace: --log-level DEBUG)",
                    type(err).__name__,
                    one_line(err),
                )
                self.log.debug("back trace", exc_info=True)
        if raises and current is not None:
            self.write_provenance()
            raise current
        Provenance().finish_activity(activity_name=self.name, status=status, exit_code=exit_status)
        if not {"-h", "--help", "--help-all"}.intersection(self.argv):
            self.write_provenance()
        self.log.info("Finished %s", self.name)
        self.exit(exit_status)

    def _run_steps(self, argv):
        """ctapipe's sequence: initialize, setup, config checks, start, finish."""
        self.log.info("Starting: %s", self.name)
        Provenance().start_activity(self.name)
        self.initialize(argv)
        if not self.show_config:
            self.setup()
            self.is_setup = True
        self.log.debug("CONFIG: %s", self.get_current_config())
        Provenance().add_config(self.get_current_config())
        if len(self.trait_warning_handler.errors) > 0:
            raise ToolConfigurationError(
                "config errors: " + "; ".join(self.trait_warning_handler.errors)
            )
        self.log.removeHandler(self.trait_warning_handler)
        self.start()
        if not self.show_config:
            self.finish()

    # failures: SIGTERM/SIGHUP like Ctrl-C (exit 128 + signum), write errors as one line
    # (see iactpipe.tools.signals) ------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        guard_tool_class(cls)

    def exit(self, exit_status=0):
        """Exit; after SIGTERM or SIGHUP with 128 + the signal number (143, 129)."""
        super().exit(interrupted_exit_status(self, exit_status))
