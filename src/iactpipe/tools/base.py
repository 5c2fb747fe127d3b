"""The base of every iactpipe Tool: behaviour shared by all executables."""

from ctapipe.core import Tool
from ctapipe.core.traits import Bool

__all__ = ["IactpipeTool"]


class IactpipeTool(Tool):
    """
    A ctapipe `~ctapipe.core.Tool` with the conventions every iactpipe executable shares.

    Subclasses are written exactly like ctapipe Tools (``setup/start/finish``); what all of
    them must do alike (exit codes, signal handling, output conventions) lives here, once.
    """

    # --- shared traits (one declaration for every tool; each tool keeps its own --overwrite
    # flag built with ``flag("overwrite", "<ToolName>.overwrite", ...)``; traitlets applies a
    # ``<ToolName>.overwrite`` config key to this inherited trait, and ``IactpipeTool.overwrite``
    # to every tool)
    overwrite = Bool(
        False, help="Replace existing outputs (files or output directories) of this tool"
    ).tag(config=True)
