"""The base of every iactpipe Tool: behaviour shared by all executables."""

from ctapipe.core import Tool

from .signals import guard_tool_class, interrupted_exit_status

__all__ = ["IactpipeTool"]


class IactpipeTool(Tool):
    """
    A ctapipe `~ctapipe.core.Tool` with the conventions every iactpipe executable shares.

    Subclasses are written exactly like ctapipe Tools (``setup/start/finish``); what all of
    them must do alike (exit codes, signal handling, output conventions) lives here, once.
    """

    # failures: SIGTERM/SIGHUP like Ctrl-C (exit 128 + signum), write errors as one line
    # (see iactpipe.tools.signals) ------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        guard_tool_class(cls)

    def exit(self, exit_status=0):
        """Exit; after SIGTERM or SIGHUP with 128 + the signal number (143, 129)."""
        super().exit(interrupted_exit_status(self, exit_status))
