"""
The chain runner: a data set, its step graph (steps made from the Tools' declarations),
step fingerprints (resume), executors (local processes, dask, SLURM via dask-jobqueue)
and the runner with its summary.
"""

from .build import ChainOptions, build_graph
from .dataset import (
    DATA_CONFIGS,
    MC_KINDS,
    DataSet,
    DataSetError,
    MCProduction,
    ObservedRun,
    StageConfigs,
)
from .executors import (
    EXECUTORS,
    CommandResult,
    DaskExecutor,
    LocalExecutor,
    SlurmExecutor,
    StepExecutor,
    run_command,
)
from .fingerprint import step_fingerprint
from .graph import STAGES, Step, StepGraph
from .layout import OutputLayout
from .runner import ChainRunner, StepOutcome, summary_table
from .steps import ChainStep, StepOptionError, check_options, tool_argv

__all__ = [
    "DATA_CONFIGS",
    "EXECUTORS",
    "MC_KINDS",
    "STAGES",
    "ChainOptions",
    "ChainRunner",
    "ChainStep",
    "CommandResult",
    "DaskExecutor",
    "DataSet",
    "DataSetError",
    "LocalExecutor",
    "MCProduction",
    "ObservedRun",
    "OutputLayout",
    "SlurmExecutor",
    "StageConfigs",
    "Step",
    "StepExecutor",
    "StepGraph",
    "StepOptionError",
    "StepOutcome",
    "build_graph",
    "check_options",
    "run_command",
    "step_fingerprint",
    "summary_table",
    "tool_argv",
]
