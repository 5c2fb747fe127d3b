"""iactpipe-chain: the whole analysis of a data set in one command, resumable and parallel."""

from __future__ import annotations

import json
from pathlib import Path

from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, CaselessStrEnum, List, Unicode, classes_with_traits, flag
from ctapipe.core.traits import Path as PathTrait

from ..workflow import (
    EXECUTORS,
    STAGES,
    ChainOptions,
    ChainRunner,
    DataSet,
    DataSetError,
    StageConfigs,
    StepExecutor,
    build_graph,
    summary_table,
)
from ..workflow.steps import StepOptionError
from .analysis import AnalysisTool
from .base import IactpipeTool
from .dl1_dl2 import DL1DL2Tool
from .dl1_stereo import DL1StereoTool
from .dl2_dl3 import DL2DL3Tool
from .dqm import DQMTool
from .index import IndexTool
from .irf import IRFTool
from .r0_dl1 import R0DL1Tool
from .signals import received_signal
from .train import TrainTool

__all__ = ["CHAIN_TOOLS", "ChainTool", "main"]

#: the Tools of the chain's stages (each declares its stage, inputs and outputs)
CHAIN_TOOLS = (
    R0DL1Tool,
    DL1StereoTool,
    DQMTool,
    TrainTool,
    DL1DL2Tool,
    IRFTool,
    DL2DL3Tool,
    IndexTool,
    AnalysisTool,
)


class ChainTool(IactpipeTool):
    """
    Run the chain on a data set described in one config file: r0-dl1 per file and
    telescope -> dl1-stereo per run -> train (MC) -> dl1-dl2 -> irf (MC) -> dl2-dl3 ->
    index -> analysis report, on the stereo or the mono branch. A step is skipped when
    its outputs exist and the fingerprint of its inputs and config is unchanged; a
    failing step stops only its dependents; the summary lists every step and the exit
    code is 1 if any failed. Steps run as local processes, on a dask cluster or as SLURM
    jobs (dask-jobqueue).
    """

    name = "iactpipe-chain"
    description = __doc__
    examples = """
    Write a commented data-set template, edit it, look at the plan, run it:
    > iactpipe-quickstart --stage chain --output-dir .
    > iactpipe-chain --config chain_stereo.yaml -o out/ --dry-run
    > iactpipe-chain --config chain_stereo.yaml -o out/ --jobs 4

    Redo the DL3 files (and the index and report) after editing the dl2-dl3 config:
    > iactpipe-chain --config chain_stereo.yaml -o out/ --force dl2-dl3

    On a dask LocalCluster, or on SLURM (SlurmExecutor section in the config):
    > iactpipe-chain --config chain_stereo.yaml -o out/ --executor dask --jobs 2
    > iactpipe-chain --config chain_stereo.yaml -o out/ --executor slurm --jobs 20
    """

    output_dir = PathTrait(
        default_value=None,
        allow_none=True,
        file_ok=False,
        help="Output root (layout: mc/, dl1/, dl2/, dl3/, models/, irfs/, analysis/)",
    ).tag(config=True)
    executor = CaselessStrEnum(
        list(EXECUTORS),
        default_value="local",
        help="Where steps run: local processes, a dask cluster, SLURM jobs (dask-jobqueue)",
    ).tag(config=True)
    force = List(
        Unicode(),
        default_value=[],
        help=f"Redo these stages ({', '.join(STAGES)}) or steps, and everything downstream",
    ).tag(config=True)
    stages = List(Unicode(), default_value=[], help="Run only these stages (default: all)").tag(
        config=True
    )
    dry_run = Bool(False, help="Print the plan (what runs and why), run nothing").tag(config=True)
    dqm = Bool(
        False, help="Run iactpipe-dqm on the observed DL1 and drop the bad runs before DL2"
    ).tag(config=True)
    run_quality = PathTrait(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="A run-quality table (iactpipe-dqm output): its bad runs are dropped before DL2",
    ).tag(config=True)
    analysis = Bool(True, help="Run iactpipe-analysis on each source's DL3").tag(config=True)
    node_choice = CaselessStrEnum(
        ["interpolate", "nearest", "track"],
        default_value="interpolate",
        help=(
            "MC productions on a pointing grid: the runs' models and IRFs interpolated in "
            "cos(zenith) between the nodes bracketing each event (models) and run (IRFs), "
            "or from the nearest node, or interpolated models with IRFs averaged over each "
            "run's zenith track (IRFSelector.method track)"
        ),
    ).tag(config=True)
    progress_bar = Bool(True, help="Progress bars per stage and overall").tag(config=True)

    aliases = {
        ("o", "output"): "ChainTool.output_dir",
        ("j", "jobs"): "StepExecutor.jobs",
        "executor": "ChainTool.executor",
        "scheduler-address": "DaskExecutor.scheduler_address",
        "force": "ChainTool.force",
        "stages": "ChainTool.stages",
        "run-quality": "ChainTool.run_quality",
        "mode": "DataSet.mode",
        "base-dir": "DataSet.base_dir",
        "node-choice": "ChainTool.node_choice",
    }
    flags = {
        **flag("dry-run", "ChainTool.dry_run", "Print the plan only", "Run the plan"),
        **flag("dqm", "ChainTool.dqm", "Run DQM and select runs", "No DQM step"),
        **flag("analysis", "ChainTool.analysis", "Quick-look analysis", "Stop at DL3 + index"),
        **flag("progress", "ChainTool.progress_bar", "Progress bars", "No progress bars"),
    }
    classes = [DataSet, StageConfigs, *classes_with_traits(StepExecutor)]
    #: signals are polled by the runner (it waits on threads), not raised (tools.signals)
    signals_raise = False

    def setup(self):
        if self.output_dir is None:
            raise ToolConfigurationError(f"{self.name}: give the output directory (-o)")
        if self.extra_args:
            raise ToolConfigurationError(
                f"{self.name}: unexpected arguments {self.extra_args}; give one value per "
                f"option (--force irf --force dl2-dl3)"
            )
        unknown = [s for s in [*self.force, *self.stages] if s not in STAGES]
        self.root = Path(self.output_dir).absolute()
        # relative data-set paths refer to the config file's directory unless set
        kwargs = {}
        if "base_dir" not in self.config.get("DataSet", {}) and self.config_files:
            kwargs["base_dir"] = Path(self.config_files[0]).absolute().parent
        self.dataset = DataSet(parent=self, **kwargs)
        self.stage_configs = StageConfigs(parent=self)
        options = ChainOptions(
            dqm=self.dqm,
            analysis=self.analysis,
            run_quality=None if self.run_quality is None else Path(self.run_quality).absolute(),
            node_choice=self.node_choice,
        )
        try:
            self.graph = build_graph(self.dataset, self.stage_configs, options, tools=CHAIN_TOOLS)
        except (DataSetError, StepOptionError) as err:
            raise ToolConfigurationError(f"{self.name}: {err}") from err
        finally:
            # checking the stages' options instantiates their Tools, which set up logging
            self.update_logging_config()
        unknown = [s for s in unknown if s not in self.graph.steps]
        if unknown:
            raise ToolConfigurationError(
                f"{self.name}: unknown stages/steps {unknown}; stages are {', '.join(STAGES)}"
            )
        self.runner = ChainRunner(
            self.graph,
            self.root,
            self.force,
            self.stages,
            self.progress_bar and not self.dry_run,
            self.log,
            stop=lambda: received_signal(self),
        )
        self.outcomes = []

    def start(self):
        if self.dry_run:
            self.outcomes = self.runner.plan()
            return
        executor = EXECUTORS[self.executor](parent=self)
        self.outcomes = self.runner.run(executor)

    def finish(self):
        table = summary_table(self.outcomes)
        if self.dry_run:
            print(f"{self.name}: plan for {self.root} ({len(self.graph)} steps)")
            for outcome in self.outcomes:
                print(
                    f"  [{outcome.status}{': ' + outcome.reason if outcome.reason else ''}] "
                    f"{outcome.step.name}: {outcome.step.tool} {' '.join(outcome.argv)}"
                )
            return
        table.write(self.root / "chain_summary.ecsv", overwrite=True)
        print("\n".join(table.pformat(max_lines=-1, max_width=-1)))
        for outcome in self.outcomes:
            if outcome.step.stage == "analysis" and outcome.status in ("ok", "up to date"):
                summary = self.root / outcome.step.primary_output
                print(
                    f"{self.name}: {outcome.step.label}: report "
                    f"{summary.parent / 'report.html'}, {_key_numbers(summary)}"
                )
        failed = [o for o in self.outcomes if o.status == "failed"]
        blocked = [o for o in self.outcomes if o.failed and o.status != "failed"]
        print(
            f"{self.name}: {len(self.outcomes)} steps, {len(failed)} failed, {len(blocked)} "
            f"not run because an upstream step failed; summary "
            f"{self.root / 'chain_summary.ecsv'}"
        )
        if failed or blocked:
            self.exit(1)


def _key_numbers(summary: Path) -> str:
    try:
        result = json.loads(summary.read_text())
        return (
            f"significance {result['significance']:.1f} sigma, excess {result['excess']:.0f} events"
        )
    except (OSError, KeyError, TypeError, ValueError):
        return "no summary numbers"


def main():
    """Run iactpipe-chain."""
    ChainTool().run()


if __name__ == "__main__":
    main()
