"""Errors that a Tool reports as one clear line with a non-zero exit code."""

from ctapipe.core import ToolConfigurationError

__all__ = ["InputFileError", "OutputExistsError"]


class InputFileError(ToolConfigurationError):
    """An input file is missing, unreadable, empty or inconsistent (the message names it)."""


class OutputExistsError(ToolConfigurationError):
    """An output would replace an existing file without ``--overwrite``."""
