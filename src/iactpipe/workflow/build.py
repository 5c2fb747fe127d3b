"""
Build the chain's step graph from a `DataSet`: r0-dl1 per file and telescope ->
dl1-stereo per run -> train (MC) -> dl1-dl2 -> irf (MC) -> dl2-dl3 -> index ->
analysis, on the stereo or the mono branch, with optional DQM and run selection.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..quality.selection import bad_runs, read_run_quality
from .dataset import DataSet, DataSetError, MCProduction, ObservedRun, StageConfigs
from .graph import Step, StepGraph
from .layout import OutputLayout as L

__all__ = ["ChainOptions", "build_graph"]


@dataclass
class ChainOptions:
    """What the chain does beyond DL3: DQM, a given run-quality table, the analysis."""

    dqm: bool = False
    run_quality: Path | None = None
    analysis: bool = True


def _repeated(option: str, values) -> list:
    # traitlets takes one value per option: "--gammas a --gammas b" (not "--gammas a b")
    return [item for value in values for item in (option, value)]


def _stem(path: Path) -> str:
    # "gamma.r1.h5" -> "gamma"; names carry no dots in the chain's own files
    return path.name.split(".")[0]


class _Builder:
    def __init__(self, dataset: DataSet, configs: StageConfigs, options: ChainOptions):
        self.dataset, self.configs, self.options = dataset, configs, options
        self.mode = dataset.mode
        self.steps: list[Step] = []

    def add(self, name, stage, tool, args, inputs, outputs, kind, deps=(), **kw) -> Step:
        step = Step(name, stage, tool, [str(a) for a in args] + self.configs.args(stage, kind),
                    [Path(p) for p in inputs], [Path(p) for p in outputs],
                    self.configs.config_text(stage, kind, self.mode), list(deps), **kw)  # fmt: skip
        self.steps.append(step)
        return step

    # MC -------------------------------------------------------------------------------
    def mc_dl1(self, production: MCProduction) -> list[Step]:
        """r0-dl1 (and dl1-stereo on the stereo branch) of every file of a production."""
        result = []
        for path in production.files:
            stem, p = _stem(path), production.name
            dl1 = L.mc(p, stem, "dl1")
            step = self.add(f"r0-dl1 {p}/{stem}", "r0-dl1", "iactpipe-r0-dl1",
                            ["--input", path, "--output", dl1], [path], [dl1], "mc",
                            label=str(path))  # fmt: skip
            if self.mode == "stereo":
                stereo = L.mc(p, stem, "stereo.dl1")
                step = self.add(f"dl1-stereo {p}/{stem}", "dl1-stereo", "iactpipe-dl1-stereo",
                                ["--input", dl1, "--output", stereo], [dl1], [stereo], "mc",
                                [step.name], label=str(dl1))  # fmt: skip
            result.append(step)
        return result

    def train(self, dl1: dict[str, list[Step]]) -> Step:
        gammas = [s for p, steps in dl1.items() for s in steps if p == "gamma_diffuse"]
        protons = [s for p, steps in dl1.items() for s in steps if p == "proton"]
        if not gammas or not protons:
            raise DataSetError("training needs gamma_diffuse and proton MC productions")
        models = L.models(self.mode)
        args = [
            "--gammas",
            *[s.primary_output for s in gammas],
            "--protons",
            *[s.primary_output for s in protons],
            "--output",
            models,
        ]
        args += ["--stereo"] if self.mode == "stereo" else ["--no-stereo"]
        inputs = [s.primary_output for s in gammas + protons]
        return self.add(
            "train",
            "train",
            "iactpipe-train",
            args,
            inputs,
            [models],
            "mc",
            [s.name for s in gammas + protons],
            label="gamma_diffuse + proton",
        )

    def dl2(self, step: Step, output: Path, kind: str, models: Step, **kw) -> Step:
        name = step.name.replace(step.stage, "dl1-dl2", 1)
        args = ["--input", step.primary_output, "--models", models.primary_output,
                "--output", output]  # fmt: skip
        return self.add(
            name,
            "dl1-dl2",
            "iactpipe-dl1-dl2",
            args,
            [step.primary_output, models.primary_output],
            [output],
            kind,
            [step.name, models.name],
            label=str(step.primary_output),
            **kw,
        )

    def irf(self, dl2: dict[str, list[Step]]) -> Step:
        options = {"gamma_point": "--gammas", "gamma_diffuse": "--diffuse-gammas",
                   "proton": "--protons"}  # fmt: skip
        args, deps = [], []
        for kind, option in options.items():
            steps = dl2.get(kind, [])
            if len(steps) > 1:
                raise DataSetError(f"iactpipe-irf takes one {kind} file; merge the "
                                   f"production's DL2 files (ctapipe-merge) first")  # fmt: skip
            if steps:
                args += [option, steps[0].primary_output]
                deps.append(steps[0])
        library = L.irfs(self.mode)
        return self.add("irf", "irf", "iactpipe-irf", [*args, "--output", library],
                        [s.primary_output for s in deps], [library], "mc",
                        [s.name for s in deps], label="MC DL2")  # fmt: skip

    # observed runs ----------------------------------------------------------------------
    def run_dl1(self, run: ObservedRun) -> dict[int, Step]:
        steps = {}
        for tel_id, path in sorted(run.files.items()):
            dl1 = L.run_dl1(run.night, run.source, run.obs_id, tel_id)
            steps[tel_id] = self.add(
                f"r0-dl1 run {run.obs_id} tel {tel_id}",
                "r0-dl1",
                "iactpipe-r0-dl1",
                ["--input", path, "--output", dl1],
                [path],
                [dl1],
                "data",
                label=str(path),
            )
        return steps

    def run_stereo(self, run: ObservedRun, dl1: dict[int, Step]) -> Step:
        if len(dl1) != 2:
            raise DataSetError(f"observed run {run.obs_id}: the stereo branch needs two "
                               f"telescope files, got {sorted(dl1)}")  # fmt: skip
        (tel_1, s1), (tel_2, s2) = sorted(dl1.items())
        out = L.run_stereo(run.night, run.source, run.obs_id)
        # --keep-mono: the telescope trigger tables keep every event (live time needs them)
        args = ["--input-1", s1.primary_output, "--input-2", s2.primary_output,
                "--output", out, "--keep-mono"]  # fmt: skip
        return self.add(f"dl1-stereo run {run.obs_id}", "dl1-stereo", "iactpipe-dl1-stereo",
                        args, [s1.primary_output, s2.primary_output], [out], "data",
                        [s1.name, s2.name], label=f"run {run.obs_id}")  # fmt: skip

    def dl3(self, run: ObservedRun, dl2: Step, irf: Step, tel_id: int | None) -> Step:
        out = L.run_dl3(run.night, run.obs_id, tel_id)
        name = f"dl2-dl3 run {run.obs_id}" + ("" if tel_id is None else f" tel {tel_id}")
        obj = self.configs.object_name or run.source
        args = ["--input", dl2.primary_output, "--irfs", irf.primary_output,
                "--output", out.parent, "--object", obj]  # fmt: skip
        return self.add(name, "dl2-dl3", "iactpipe-dl2-dl3", args,
                        [dl2.primary_output, irf.primary_output], [out], "data",
                        [dl2.name, irf.name], label=str(dl2.primary_output))  # fmt: skip

    def dqm(self, runs: list[ObservedRun], dl1: dict[int, dict[int, Step]]) -> Step:
        steps = [s for run in runs for s in dl1[run.obs_id].values()]
        files = [s.primary_output for s in steps]
        out = L.run_quality()
        return self.add(
            "dqm",
            "dqm",
            "iactpipe-dqm",
            [*_repeated("--input", files), "--output", out.parent],
            files,
            [out],
            "data",
            [s.name for s in steps],
            label="observed DL1",
        )

    def gate(self, obs_id: int, table: Path):
        def check(root: Path) -> str | None:
            path = table if table.is_absolute() else root / table
            return bad_runs(read_run_quality(path)).get(obs_id)

        return check

    def index_and_analysis(self, runs_dl3: list[tuple[ObservedRun, Step]], tel_id) -> None:
        if not runs_dl3:
            return
        index_files = L.index_files(tel_id)
        root = L.dl3_root(tel_id)
        suffix = "" if tel_id is None else f" tel {tel_id}"
        dl3_steps = [s for _, s in runs_dl3]
        index = self.add(f"index{suffix}", "index", "iactpipe-index",
                         ["--dl3-dir", root, "--recursive"],
                         [s.primary_output for s in dl3_steps], index_files, "data",
                         [s.name for s in dl3_steps], require_all=False,
                         label=str(root))  # fmt: skip
        if not self.options.analysis:
            return
        by_source = defaultdict(list)
        for run, step in runs_dl3:
            by_source[run.source].append((run.obs_id, step.primary_output))
        for source, obs in sorted(by_source.items()):
            out = L.analysis(source, tel_id)
            position = self.dataset.source_position(source)
            target = (["--target", source] if position is None
                      else ["--ra", position[0], "--dec", position[1]])  # fmt: skip
            self.add(
                f"analysis {source}{suffix}",
                "analysis",
                "iactpipe-analysis",
                ["--input", root, "--output", out, *target],
                index_files,
                [out / "summary.json", out / "report.html"],
                "data",
                [index.name],
                label=source,
                finalize=_present_obs_ids(obs),
            )

    def build(self) -> StepGraph:
        productions = self.dataset.productions()
        runs = self.dataset.runs()
        mc = {}
        for production in productions:
            mc.setdefault(production.kind, []).extend(self.mc_dl1(production))
        models = self.train(mc)
        mc_dl2 = {kind: [self.dl2(s, s.primary_output.with_name(
                    f"{s.primary_output.name.split('.')[0]}.dl2.h5"), "mc", models)
                    for s in steps] for kind, steps in mc.items()}  # fmt: skip
        irf = self.irf(mc_dl2) if runs else None
        dl1 = {run.obs_id: self.run_dl1(run) for run in runs}
        table = self.options.run_quality
        deps = []
        if self.options.dqm and runs:
            dqm = self.dqm(runs, dl1)
            table, deps = dqm.primary_output, [dqm.name]
        per_tel = defaultdict(list)
        for run in runs:
            gate = None if table is None else self.gate(run.obs_id, Path(table))
            if self.mode == "stereo":
                stereo = self.run_stereo(run, dl1[run.obs_id])
                dl2 = self.dl2(stereo, L.run_dl2(run.night, run.source, run.obs_id), "data",
                               models, gate=gate)  # fmt: skip
                dl2.deps += deps
                per_tel[None].append((run, self.dl3(run, dl2, irf, None)))
                continue
            for tel_id, step in dl1[run.obs_id].items():
                out = L.run_dl2(run.night, run.source, run.obs_id, tel_id)
                dl2 = self.dl2(step, out, "data", models, gate=gate)
                dl2.deps += deps
                per_tel[tel_id].append((run, self.dl3(run, dl2, irf, tel_id)))
        for tel_id, runs_dl3 in per_tel.items():
            self.index_and_analysis(runs_dl3, tel_id)
        return StepGraph(self.steps)


def _present_obs_ids(obs: list[tuple[int, Path]]):
    def finalize(root: Path) -> list[str]:
        present = [str(obs_id) for obs_id, path in obs if (root / path).is_file()]
        return _repeated("--obs-id", present)

    return finalize


def build_graph(dataset: DataSet, configs: StageConfigs,
                options: ChainOptions | None = None) -> StepGraph:  # fmt: skip
    """
    The step graph of ``dataset``.

    Raises
    ------
    DataSetError
        When the data set cannot make a chain (no training sample, a stereo run
        without two telescopes, several files of a kind for the IRFs).
    """
    return _Builder(dataset, configs, options or ChainOptions()).build()
