"""Errors that a Tool reports as one clear line with a non-zero exit code."""

import signal

from ctapipe.core import ToolConfigurationError

__all__ = ["InputFileError", "Interrupted", "OutputExistsError", "OutputWriteError"]


class InputFileError(ToolConfigurationError):
    """An input file is missing, unreadable, empty or inconsistent (the message names it)."""


class OutputExistsError(ToolConfigurationError):
    """An output would replace an existing file without ``--overwrite``."""


class OutputWriteError(ToolConfigurationError):
    """An output could not be written completely (``<file>: cannot write (<cause>)``:
    no space left on the device, a file-size limit, ...); nothing was committed."""


class Interrupted(KeyboardInterrupt):
    """A termination signal was received (SIGINT, SIGTERM, SIGHUP): unwinds like Ctrl-C;
    ``exit_code`` is 128 + the signal number (see `iactpipe.tools.signals`)."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"received {signal.Signals(signum).name}")
