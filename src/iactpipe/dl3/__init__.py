"""DL3: event lists with GTI, pointing and the run's IRFs (GADF), live time, indexes."""

from .events import RunEvents, load_observed_events, physics_trigger_times
from .index import HDU_INDEX_NAME, OBS_INDEX_NAME, make_index_tables, write_index_files
from .irf_choice import IRFChoice, IRFFile, IRFSelector, read_irf_file
from .livetime import LiveTime, LiveTimeEstimator, telescope_live_time
from .writer import dl3_file_name, write_dl3_file

__all__ = [
    "HDU_INDEX_NAME",
    "IRFChoice",
    "IRFFile",
    "IRFSelector",
    "LiveTime",
    "LiveTimeEstimator",
    "OBS_INDEX_NAME",
    "RunEvents",
    "dl3_file_name",
    "load_observed_events",
    "make_index_tables",
    "physics_trigger_times",
    "read_irf_file",
    "telescope_live_time",
    "write_dl3_file",
    "write_index_files",
]
