"""Event selection, cuts, IRF production and library, performance (pyirf, ctapipe.irf)."""

from .cuts import EventCuts, GammaCuts
from .events import DL2EventSelection, LoadedEvents, event_weights, load_dl2_events
from .irfs import IRFMaker
from .library import INDEX_NAME, IRF_FILE_NAMES, node_directory, read_index, select_irf

__all__ = [
    "DL2EventSelection",
    "EventCuts",
    "GammaCuts",
    "INDEX_NAME",
    "IRFMaker",
    "IRF_FILE_NAMES",
    "LoadedEvents",
    "event_weights",
    "load_dl2_events",
    "node_directory",
    "read_index",
    "select_irf",
]
