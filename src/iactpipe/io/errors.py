"""Errors that a Tool reports as one clear line with a non-zero exit code."""

from ctapipe.core import ToolConfigurationError

__all__ = ["InputFileError", "OutputExistsError", "OutputWriteError"]


class InputFileError(ToolConfigurationError):
    """An input file is missing, unreadable, empty or inconsistent (the message names it)."""


class OutputExistsError(ToolConfigurationError):
    """An output would replace an existing file without ``--overwrite``."""


class OutputWriteError(ToolConfigurationError):
    """An output could not be written completely (``<file>: cannot write (<cause>)``:
    no space left on the device, a file-size limit, ...); nothing was committed."""
