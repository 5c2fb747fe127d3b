"""The base of every iactpipe Tool: behaviour shared by all executables."""

from ctapipe.core import Tool

__all__ = ["IactpipeTool"]


class IactpipeTool(Tool):
    """
    A ctapipe `~ctapipe.core.Tool` with the conventions every iactpipe executable shares.

    Subclasses are written exactly like ctapipe Tools (``setup/start/finish``); what all of
    them must do alike (exit codes, signal handling, output conventions) lives here, once.
    """
