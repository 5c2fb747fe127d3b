"""
The step graph of the chain: one `Step` per tool run (per file, telescope, run or
data set), its inputs, outputs and the steps it depends on, in topological order.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STAGES", "Step", "StepGraph"]

#: the stages in chain order (``--force`` and ``--stages`` take these names)
STAGES = ("r0-dl1", "dl1-stereo", "dqm", "train", "dl1-dl2", "irf", "dl2-dl3", "index", "analysis")


@dataclass
class Step:
    """
    One tool run.

    Parameters
    ----------
    name : str
        Unique name, ``<stage> <what>`` (e.g. ``r0-dl1 run 1001 tel 21``).
    stage : str
        One of `STAGES`.
    tool : str
        The executable (``iactpipe-r0-dl1``).
    args : list of str
        Its arguments, paths relative to the output root (the step runs there); the
        chain adds ``--config`` and ``--overwrite``.
    inputs, outputs : list of Path
        Files or directories read and written (relative to the output root unless
        absolute); the first output names the step's record, log and config copy.
    config_text : str or None
        The stage's config file text (None: the tool's defaults).
    deps : list of str
        Names of the steps whose outputs this step reads.
    require_all : bool
        Run only when every dependency succeeded (False: when at least one did, e.g.
        the index of the runs that reached DL3).
    label : str
        The input shown in the summary table.
    gate : callable, optional
        ``gate(root) -> reason or None``, evaluated just before the step would run; a
        reason skips it (run selection by data quality).
    finalize : callable, optional
        ``finalize(root) -> extra args`` evaluated just before the step runs (e.g. the
        observations that reached DL3).
    traits : dict
        The Tool's trait values that ``args`` sets, ``{"Class.trait": value}``.
    """

    name: str
    stage: str
    tool: str
    args: list[str]
    inputs: list[Path]
    outputs: list[Path]
    config_text: str | None = None
    deps: list[str] = field(default_factory=list)
    require_all: bool = True
    label: str = ""
    gate: Callable[[Path], str | None] | None = None
    finalize: Callable[[Path], list[str]] | None = None
    traits: dict = field(default_factory=dict)

    @property
    def primary_output(self) -> Path:
        """The output that names the step's record files."""
        return self.outputs[0]


class StepGraph:
    """A set of steps and their dependencies (a DAG)."""

    def __init__(self, steps: list[Step]):
        self.steps = {}
        for step in steps:
            if step.name in self.steps:
                raise ValueError(f"two steps named {step.name!r}")
            if step.stage not in STAGES:
                raise ValueError(f"{step.name}: unknown stage {step.stage!r}")
            self.steps[step.name] = step
        for step in steps:
            missing = [d for d in step.deps if d not in self.steps]
            if missing:
                raise ValueError(f"{step.name}: depends on unknown steps {missing}")
        sorter = graphlib.TopologicalSorter({s.name: s.deps for s in steps})
        # static_order raises graphlib.CycleError on a cycle
        self.order = list(sorter.static_order())

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return (self.steps[name] for name in self.order)

    def dependents(self, names: set[str]) -> set[str]:
        """``names`` and every step downstream of them."""
        result = set(names)
        for step in self:
            if any(d in result for d in step.deps):
                result.add(step.name)
        return result

    def by_stage(self, stages: set[str]) -> set[str]:
        """Names of the steps of ``stages`` (stage names or step names)."""
        return {s.name for s in self if s.stage in stages or s.name in stages}

    def count_by_stage(self) -> dict[str, int]:
        """Number of steps per stage, in chain order."""
        counts = {stage: 0 for stage in STAGES}
        for step in self.steps.values():
            counts[step.stage] += 1
        return {k: v for k, v in counts.items() if v}
