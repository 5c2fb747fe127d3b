"""
Run a step graph: skip the steps that are up to date, redo the forced ones and
everything downstream, isolate failures (a failing step only stops its dependents),
and summarise every step (stage, input, status, time, error).
"""

from __future__ import annotations

import logging
import shlex
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from astropy.table import Table
from tqdm.auto import tqdm

from ..io.errors import Interrupted
from .executors import CommandResult, StepExecutor
from .fingerprint import read_record, record_path, step_fingerprint, up_to_date, write_record
from .graph import Step, StepGraph

__all__ = ["ChainRunner", "StepOutcome", "summary_table"]

OK, UP_TO_DATE, FAILED, NOT_SELECTED, WOULD_RUN = (
    "ok",
    "up to date",
    "failed",
    "not selected",
    "would run",
)
UPSTREAM_FAILED = "skipped: upstream failed"
#: seconds between two checks for a stop request while steps run
POLL_S = 0.2
BAD_QUALITY = "skipped: bad quality"


@dataclass
class StepOutcome:
    """What happened to a step (or, in a dry run, what would)."""

    step: Step
    status: str
    reason: str = ""
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """The step failed or could not run because an upstream step failed."""
        return self.status in (FAILED, UPSTREAM_FAILED)

    @property
    def ran(self) -> bool:
        """The step (re)ran in this session, or would in a dry run."""
        return self.status in (OK, WOULD_RUN)


def executable(tool: str) -> str:
    """The tool next to this Python (the same environment), else found on PATH."""
    candidate = Path(sys.executable).parent / tool
    if candidate.is_file():
        return str(candidate)
    return shutil.which(tool) or tool


class ChainRunner:
    """
    Runs a `StepGraph` in the output root ``root`` with a `StepExecutor`.

    Parameters
    ----------
    graph : StepGraph
        The steps.
    root : Path
        Output root; the steps run there and their paths are relative to it.
    force : set of str
        Stages or step names to redo, with everything downstream of them.
    stages : set of str, optional
        Run only the steps of these stages (the others count as done).
    progress : bool
        Progress bars per stage and overall.
    log : logging.Logger, optional
        Where the runner logs.
    stop : callable, optional
        Polled while steps run: a signal number (SIGINT, SIGTERM, SIGHUP) stops the run
        (queued steps cancelled, the signal forwarded to the running ones, `Interrupted`
        raised once they cleaned up).
    """

    def __init__(
        self,
        graph: StepGraph,
        root: Path,
        force=(),
        stages=None,
        progress=True,
        log: logging.Logger | None = None,
        stop: Callable[[], int | None] | None = None,
    ):
        self.graph, self.root = graph, Path(root)
        self.stop = stop or (lambda: None)
        self.forced = graph.dependents(graph.by_stage(set(force)))
        self.selected = set(graph.steps) if not stages else graph.by_stage(set(stages))
        self.progress = progress
        self.log = log or logging.getLogger(__name__)

    # decisions ---------------------------------------------------------------------------
    def argv(self, step: Step) -> list[str]:
        """The step's arguments (without the executable): args, finalize args, config."""
        args = list(step.args) + (step.finalize(self.root) if step.finalize else [])
        if step.config_text is not None:
            config = record_path(step, self.root, "config.yaml").relative_to(self.root)
            args += ["--config", str(config)]
        return [*args, "--overwrite"]

    def _from_deps(self, step: Step, outcomes: dict[str, StepOutcome]) -> StepOutcome | None:
        deps = [outcomes[d] for d in step.deps]
        blocked = [d for d in deps if d.failed or d.status.startswith(BAD_QUALITY)]
        if not blocked or (not step.require_all and len(blocked) < len(deps)):
            return None
        failed = [d for d in blocked if d.failed]
        if failed:
            return StepOutcome(step, UPSTREAM_FAILED, failed[0].step.name)
        return StepOutcome(step, blocked[0].status, blocked[0].step.name)

    def decide(self, step: Step, outcomes: dict[str, StepOutcome], dry_run: bool) -> StepOutcome:
        """Whether ``step`` runs (status ``would run``, with the reason) or not, and why."""
        if step.name not in self.selected:
            return StepOutcome(step, NOT_SELECTED)
        blocked = self._from_deps(step, outcomes)
        if blocked is not None:
            return blocked
        if step.gate is not None:
            try:
                reason = step.gate(self.root)
            except Exception as err:  # an unreadable quality table fails this step only
                if not dry_run:
                    return StepOutcome(step, FAILED, errors=[f"ERROR run selection: {err}"])
                reason = None  # the DQM step has not run yet
            if reason:
                return StepOutcome(step, f"{BAD_QUALITY} ({reason})")
        argv = self.argv(step)
        outcome = StepOutcome(step, WOULD_RUN, argv=argv)
        if step.name in self.forced:
            outcome.reason = "forced"
        elif any(outcomes[d].ran for d in step.deps):
            outcome.reason = "upstream reruns"
        elif up_to_date(step, self.root, step_fingerprint(step, self.root, argv)):
            return StepOutcome(step, UP_TO_DATE, argv=argv)
        elif read_record(step, self.root) is None:
            outcome.reason = "new"
        else:
            outcome.reason = "inputs or config changed"
        return outcome

    # running -----------------------------------------------------------------------------
    def plan(self) -> list[StepOutcome]:
        """The dry run: each step's decision, assuming every step that runs succeeds."""
        outcomes = {}
        for step in self.graph:
            outcomes[step.name] = self.decide(step, outcomes, dry_run=True)
        return list(outcomes.values())

    def _submit(self, executor: StepExecutor, outcome: StepOutcome):
        step = outcome.step
        for path in step.outputs:
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        # a rerun invalidates the old record before anything else happens
        record_path(step, self.root).unlink(missing_ok=True)
        if step.config_text is not None:
            record_path(step, self.root, "config.yaml").write_text(step.config_text)
        argv = [executable(step.tool), *outcome.argv]
        self.log.info("run %s (%s): %s", step.name, outcome.reason, shlex.join(outcome.argv))
        return executor.submit(argv, self.root, record_path(step, self.root, "log"))

    def _drop(self, step: Step, status: str) -> None:
        """A run dropped by the quality selection leaves nothing behind from an earlier
        chain run (its DL2/DL3 files would otherwise reach the index and the analysis)."""
        removed = []
        for path in [*step.outputs, record_path(step, self.root).relative_to(self.root)]:
            full = self.root / path
            if full.is_file():
                full.unlink()
                removed.append(str(path))
        self.log.warning(
            "%s: %s%s", step.name, status, f"; removed {', '.join(removed)}" if removed else ""
        )

    def _finish(self, outcome: StepOutcome, result: CommandResult) -> StepOutcome:
        step = outcome.step
        missing = [str(p) for p in step.outputs if not (self.root / p).exists()]
        if result.returncode == 0 and missing:
            result = CommandResult(1, result.duration_s, [f"ERROR outputs missing: {missing}"])
        outcome.duration_s, outcome.errors = result.duration_s, result.errors
        if result.returncode != 0:
            outcome.status = FAILED
            log = record_path(step, self.root, "log")
            self.log.error(
                "%s failed (exit %d, log %s): %s",
                step.name,
                result.returncode,
                log,
                " | ".join(result.errors),
            )
            return outcome
        # the fingerprint is taken after the inputs settled, as the next start will see them
        fingerprint = step_fingerprint(step, self.root, outcome.argv)
        write_record(step, self.root, fingerprint, outcome.argv, result.duration_s)
        outcome.status = OK
        return outcome

    def run(self, executor: StepExecutor) -> list[StepOutcome]:
        """Run the graph; returns every step's outcome in graph order."""
        self.root.mkdir(parents=True, exist_ok=True)
        outcomes: dict[str, StepOutcome] = {}
        pending = list(self.graph)
        running = {}
        with _Bars(self.graph, self.progress) as bars, executor:
            try:
                while pending or running:
                    self._check_stop(executor, running)
                    ready = [s for s in pending if all(d in outcomes for d in s.deps)]
                    for step in ready:
                        pending.remove(step)
                        outcome = self.decide(step, outcomes, dry_run=False)
                        if outcome.status == WOULD_RUN:
                            running[self._submit(executor, outcome)] = outcome
                            continue
                        if outcome.status.startswith(BAD_QUALITY):
                            self._drop(step, outcome.status)
                        outcomes[step.name] = outcome
                        bars.update(step)
                    if not running:
                        continue
                    for future in executor.wait_any(list(running), POLL_S):
                        outcome = self._finish(running.pop(future), executor.result(future))
                        outcomes[outcome.step.name] = outcome
                        bars.update(outcome.step)
            except Interrupted:
                raise  # the steps are stopped already
            except KeyboardInterrupt:  # Ctrl-C without a `stop` callable (library use)
                self._interrupt(executor, running, signal.SIGINT)
                raise
        return [outcomes[name] for name in self.graph.order]

    def _check_stop(self, executor: StepExecutor, running: dict) -> None:
        signum = self.stop()
        if signum is not None:
            self._interrupt(executor, running, signum)
            raise Interrupted(signum)

    def _interrupt(self, executor: StepExecutor, running: dict, signum: int) -> None:
        """
        Cancel the queued steps, forward ``signum`` to the running ones and wait for them
        to clean up. A step that finished successfully meanwhile gets its record; an
        unfinished one none (its old record was removed when it started), so the next
        run redoes it.
        """
        executor.interrupt(list(running), signum)
        for future, outcome in running.items():
            if future.done() and not future.cancelled():
                result = executor.result(future)
                if result.returncode == 0:
                    self._finish(outcome, result)
                    continue
            self.log.warning("%s: interrupted, no record written", outcome.step.name)


class _Bars:
    """tqdm bars: overall, and one per stage."""

    def __init__(self, graph: StepGraph, enabled: bool):
        self.graph, self.enabled = graph, enabled

    def __enter__(self):
        counts = self.graph.count_by_stage()
        options = {"disable": not self.enabled, "leave": True, "unit": "step", "file": sys.stderr}
        self.total = tqdm(total=len(self.graph), desc="chain", position=0, **options)
        self.stages = {
            stage: tqdm(total=n, desc=f"  {stage}", position=i, **options)
            for i, (stage, n) in enumerate(counts.items(), start=1)
        }
        return self

    def update(self, step: Step) -> None:
        self.total.update()
        self.stages[step.stage].update()

    def __exit__(self, *exc):
        for bar in [*self.stages.values(), self.total]:
            bar.close()


def summary_table(outcomes: list[StepOutcome]) -> Table:
    """One row per step: step, stage, input, status, time [s], error (first line)."""
    names = ("step", "stage", "input", "status", "time_s", "error")
    rows = []
    for o in outcomes:
        # the reason tells which upstream step blocked a skipped step (and, in a plan, why
        # a step would run); a step that ran is described by its status alone
        show_reason = o.reason and o.status not in (OK, FAILED, UP_TO_DATE)
        status = f"{o.status} ({o.reason})" if show_reason else o.status
        rows.append(
            (
                o.step.name,
                o.step.stage,
                o.step.label,
                status,
                round(o.duration_s, 1),
                o.errors[0] if o.errors else "",
            )
        )
    if not rows:
        return Table(names=names, dtype=[str, str, str, str, float, str])
    return Table(rows=rows, names=names)
