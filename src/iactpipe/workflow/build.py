"""
Build the chain's step graph from a `DataSet`: r0-dl1 per file and telescope ->
dl1-stereo per run -> train (MC) -> dl1-dl2 -> irf (MC) -> dl2-dl3 -> index ->
analysis, on the stereo or the mono branch, with optional DQM and run selection.

A step is its Tool's trait values (``{"Class.trait": value}``); the executable, the
command line and the files read and written come from the Tool (`steps.ChainStep`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..quality.selection import bad_runs, read_run_quality
from .dataset import DataSet, DataSetError, MCProduction, ObservedRun, StageConfigs
from .graph import Step, StepGraph
from .layout import OutputLayout as L
from .layout import level_path
from .nodes import Product, library_mc_steps, production_nodes
from .nsb_levels import add_nsb_levels
from .steps import StepOptionError, check_options, tool_argv

__all__ = ["ChainOptions", "build_graph"]


@dataclass
class ChainOptions:
    """What the chain does beyond DL3: DQM, a given run-quality table, the analysis."""

    dqm: bool = False
    run_quality: Path | None = None
    analysis: bool = True
    #: on a pointing grid: the runs' models and IRFs interpolated or from the nearest node
    #: (``track``: models interpolated, IRFs averaged over each run's zenith track)
    node_choice: str = "interpolate"


def _paths(traits: dict, keys) -> list[Path]:
    """The paths that the traits ``keys`` are set to (lists flattened)."""
    values = [traits.get(key) for key in keys]
    values = [v for value in values for v in (value if isinstance(value, list) else [value])]
    return [Path(v) for v in values if v is not None]


def _within(path: Path, declared: Path) -> bool:
    return path == declared or path.is_relative_to(declared)


def _stem(path: Path) -> str:
    # "gamma.r1.h5" -> "gamma"; names carry no dots in the chain's own files
    return path.name.split(".")[0]


class _Builder:
    def __init__(
        self, dataset: DataSet, configs: StageConfigs, options: ChainOptions, tools
    ) -> None:
        self.dataset, self.configs, self.options = dataset, configs, options
        self.tools = {tool.chain_step.stage: tool for tool in tools}
        self.mode = dataset.mode
        self.steps: list[Step] = []
        self.checked: set[tuple] = set()

    def _check(self, stage: str, kind: str, tool, config_text, extra: list[str]) -> None:
        """The stage's config file and extra arguments against its Tool, once per kind."""
        key = (stage, kind, config_text, tuple(extra))
        if key in self.checked:
            return
        path = self.configs.config_path(stage, kind, self.mode)
        where = stage.replace("-", "_")
        try:
            check_options(
                tool, config_text, str(path), extra, f"StageConfigs.extra_args[{where}(_{kind})]"
            )
        except StepOptionError as err:
            raise StepOptionError(f"stage {stage} ({tool.name}): {err}") from err
        self.checked.add(key)

    def add(
        self,
        name: str,
        stage: str,
        traits: dict,
        kind: str,
        deps=(),
        *,
        inputs=None,
        outputs=None,
        **kw,
    ) -> Step:
        """
        A step of ``stage`` setting ``traits`` (``{"Class.trait": value}``) of its Tool.
        Its inputs and outputs are the values of the traits the Tool declares as such
        (`ChainStep`), or the files given, which must lie in those.
        """
        tool = self.tools.get(stage)
        if tool is None:
            raise ValueError(f"no Tool for stage {stage!r} among {sorted(self.tools)}")
        config_text = self.configs.config_text(stage, kind, self.mode)
        extra = self.configs.args(stage, kind)
        self._check(stage, kind, tool, config_text, extra)
        declared = {
            io: _paths(traits, getattr(tool.chain_step, io)) for io in ("inputs", "outputs")
        }
        given = {"inputs": inputs, "outputs": outputs}
        for io, paths in given.items():
            if paths is None:
                given[io] = declared[io]
                continue
            given[io] = [Path(p) for p in paths]
            outside = [p for p in given[io] if not any(_within(p, d) for d in declared[io])]
            if outside:
                raise ValueError(f"{name}: {io} {outside} not in {tool.name}'s declared {io}")
        step = Step(
            name,
            stage,
            tool.name,
            [*tool_argv(tool, traits), *extra],
            given["inputs"],
            given["outputs"],
            config_text,
            list(deps),
            traits=dict(traits),
            **kw,
        )
        self.steps.append(step)
        return step

    # MC -------------------------------------------------------------------------------
    def mc_dl1(self, production: MCProduction) -> list[Step]:
        """r0-dl1 (and dl1-stereo on the stereo branch) of every file of a production."""
        result = []
        for path in production.files:
            stem, p = _stem(path), production.name
            dl1 = L.mc(p, stem, "dl1")
            step = self.add(
                f"r0-dl1 {p}/{stem}",
                "r0-dl1",
                {"EventSource.input_url": path, "R0DL1Tool.output_path": dl1},
                "mc",
                label=str(path),
            )
            if self.mode == "stereo":
                stereo = L.mc(p, stem, "stereo.dl1")
                traits = {"DL1StereoTool.input_files": [dl1], "DL1StereoTool.output_path": stereo}
                step = self.add(
                    f"dl1-stereo {p}/{stem}",
                    "dl1-stereo",
                    traits,
                    "mc",
                    [step.name],
                    label=str(dl1),
                )
            result.append(step)
        return result

    def train(self, dl1: dict[str, list[Step]], level: str | None = None) -> Step:
        """Models from the MC of ``dl1`` (``level``: an NSB level's, in its own directory)."""
        gammas = [s for p, steps in dl1.items() for s in steps if p == "gamma_diffuse"]
        protons = [s for p, steps in dl1.items() for s in steps if p == "proton"]
        if not gammas or not protons:
            raise DataSetError("training needs gamma_diffuse and proton MC productions")
        traits = {
            "TrainTool.gamma_files": [s.primary_output for s in gammas],
            "TrainTool.proton_files": [s.primary_output for s in protons],
            "TrainTool.output_dir": level_path(L.models(self.mode), level),
            "RecoModel.stereo": self.mode == "stereo",
        }
        return self.add(
            "train" if level is None else f"train nsb_{level}",
            "train",
            traits,
            "mc",
            [s.name for s in gammas + protons],
            label="gamma_diffuse + proton",
        )

    def dl2(self, step: Step, output: Path, kind: str, models: Step | Product, **kw) -> Step:
        name = step.name.replace(step.stage, "dl1-dl2", 1)
        models = _product(models)
        traits = {
            "DL1DL2Tool.input_files": [step.primary_output],
            "DL1DL2Tool.models_dir": models.path,
            "DL1DL2Tool.output_path": output,
            **models.traits,
        }
        return self.add(
            name,
            "dl1-dl2",
            traits,
            kind,
            [step.name, *models.deps],
            label=str(step.primary_output),
            **kw,
        )

    def mc_dl2(self, step: Step, models: Step | Product) -> Step:
        """DL2 of an MC file next to its DL1 (``mc/<production>/<stem>.dl2.h5``)."""
        output = step.primary_output.with_name(f"{_stem(step.primary_output)}.dl2.h5")
        return self.dl2(step, output, "mc", models)

    def mc_dl2_all(self, mc: dict[str, list[Step]], models: Step) -> dict[str, list[Step]]:
        """`mc_dl2` of every MC DL1 step of ``mc`` (kind -> steps) with ``models``."""
        return {kind: [self.mc_dl2(s, models) for s in steps] for kind, steps in mc.items()}

    def irf(self, dl2: dict[str, list[Step]], level: str | None = None) -> Step:
        """The IRF library of the MC DL2 (``level``: an NSB level's, in its own directory)."""
        files = {
            "gamma_point": "IRFTool.point_gamma_file",
            "gamma_diffuse": "IRFTool.diffuse_gamma_file",
            "proton": "IRFTool.proton_file",
        }
        traits, deps = {}, []
        for kind, trait in files.items():
            steps = dl2.get(kind, [])
            if len(steps) > 1:
                raise DataSetError(
                    f"iactpipe-irf takes one {kind} file; merge the "
                    f"production's DL2 files (ctapipe-merge) first"
                )
            if steps:
                traits[trait] = steps[0].primary_output
                deps.append(steps[0].name)
        traits["IRFTool.library"] = level_path(L.irfs(self.mode), level)
        name = "irf"
        if level is not None:
            traits["IRFTool.nsb_level"], name = level, f"irf nsb_{level}"
        return self.add(name, "irf", traits, "mc", deps, label="MC DL2")

    # observed runs ----------------------------------------------------------------------
    def run_dl1(self, run: ObservedRun) -> dict[int, Step]:
        steps = {}
        for tel_id, path in sorted(run.files.items()):
            dl1 = L.run_dl1(run.night, run.source, run.obs_id, tel_id)
            traits = {"EventSource.input_url": path, "R0DL1Tool.output_path": dl1}
            steps[tel_id] = self.add(
                f"r0-dl1 run {run.obs_id} tel {tel_id}", "r0-dl1", traits, "data", label=str(path)
            )
        return steps

    def run_stereo(self, run: ObservedRun, dl1: dict[int, Step]) -> Step:
        if len(dl1) != 2:
            raise DataSetError(
                f"observed run {run.obs_id}: the stereo branch needs two "
                f"telescope files, got {sorted(dl1)}"
            )
        (_, s1), (_, s2) = sorted(dl1.items())
        # keep_mono: the telescope trigger tables keep every event (live time needs them)
        traits = {
            "DL1StereoTool.input_files_1": [s1.primary_output],
            "DL1StereoTool.input_files_2": [s2.primary_output],
            "DL1StereoTool.output_path": L.run_stereo(run.night, run.source, run.obs_id),
            "DL1StereoTool.keep_mono": True,
        }
        return self.add(
            f"dl1-stereo run {run.obs_id}",
            "dl1-stereo",
            traits,
            "data",
            [s1.name, s2.name],
            label=f"run {run.obs_id}",
        )

    def dl3(self, run: ObservedRun, dl2: Step, irf: Step | Product, tel_id: int | None) -> Step:
        out = L.run_dl3(run.night, run.obs_id, tel_id)
        name = f"dl2-dl3 run {run.obs_id}" + ("" if tel_id is None else f" tel {tel_id}")
        irf = _product(irf)
        traits = {
            "DL2DL3Tool.input_files": [dl2.primary_output],
            "DL2DL3Tool.irf_library": irf.path,
            "DL2DL3Tool.output_dir": out.parent,
            "DL2DL3Tool.object_name": self.configs.object_name or run.source,
            **irf.traits,
        }
        if run.nsb_level != "dark":  # the IRF nodes of the run's NSB level
            traits["IRFSelector.nsb_level"] = run.nsb_level
        return self.add(
            name,
            "dl2-dl3",
            traits,
            "data",
            [dl2.name, *irf.deps],
            outputs=[out],
            label=str(dl2.primary_output),
        )

    def dqm(self, runs: list[ObservedRun], dl1: dict[int, dict[int, Step]]) -> Step:
        steps = [s for run in runs for s in dl1[run.obs_id].values()]
        out = L.run_quality()
        traits = {
            "DQMTool.input_patterns": [s.primary_output for s in steps],
            "DQMTool.output_dir": out.parent,
        }
        return self.add(
            "dqm",
            "dqm",
            traits,
            "data",
            [s.name for s in steps],
            outputs=[out],
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
        index = self.add(
            f"index{suffix}",
            "index",
            {"IndexTool.dl3_dir": root, "IndexTool.recursive": True},
            "data",
            [s.name for s in dl3_steps],
            require_all=False,
            label=str(root),
            inputs=[s.primary_output for s in dl3_steps],
            outputs=index_files,
        )
        if not self.options.analysis:
            return
        by_source = defaultdict(list)
        for run, step in runs_dl3:
            by_source[run.source].append((run.obs_id, step.primary_output))
        analysis = self.tools["analysis"]
        for source, obs in sorted(by_source.items()):
            out = L.analysis(source, tel_id)
            position = self.dataset.source_position(source)
            target = (
                {"AnalysisTool.target_name": source}
                if position is None
                else {"AnalysisTool.ra_deg": position[0], "AnalysisTool.dec_deg": position[1]}
            )
            traits = {"AnalysisTool.input_dir": root, "AnalysisTool.output_dir": out, **target}
            self.add(
                f"analysis {source}{suffix}",
                "analysis",
                traits,
                "data",
                [index.name],
                inputs=index_files,
                outputs=[out / "summary.json", out / "report.html"],
                label=source,
                finalize=_present_obs_ids(analysis, obs),
            )

    def build(self) -> StepGraph:
        productions = self.dataset.productions()
        runs = self.dataset.runs()
        mc, by_production = {}, {}
        for production in productions:
            by_production[production.name] = self.mc_dl1(production)
            mc.setdefault(production.kind, []).extend(by_production[production.name])
        nodes = production_nodes(productions)
        if nodes:  # a pointing grid: model and IRF libraries (workflow.nodes)
            models, irf, _ = library_mc_steps(
                self, nodes, by_production, bool(runs), self.options.node_choice
            )
        else:
            models = self.train(mc)
            irf = self.irf(self.mc_dl2_all(mc, models)) if runs else None
        dl1 = {run.obs_id: self.run_dl1(run) for run in runs}
        # models and IRFs of each NSB level beyond dark (dark: the steps above)
        levels = {"dark": (models, irf), **add_nsb_levels(self, productions, runs, dl1)}
        table = self.options.run_quality
        deps = []
        if self.options.dqm and runs:
            dqm = self.dqm(runs, dl1)
            table, deps = dqm.primary_output, [dqm.name]
        per_tel = defaultdict(list)
        for run in runs:
            gate = None if table is None else self.gate(run.obs_id, Path(table))
            run_models, run_irf = levels[run.nsb_level]
            if self.mode == "stereo":
                stereo = self.run_stereo(run, dl1[run.obs_id])
                out = L.run_dl2(run.night, run.source, run.obs_id)
                dl2 = self.dl2(stereo, out, "data", run_models, gate=gate)
                dl2.deps += deps
                per_tel[None].append((run, self.dl3(run, dl2, run_irf, None)))
                continue
            for tel_id, step in dl1[run.obs_id].items():
                out = L.run_dl2(run.night, run.source, run.obs_id, tel_id)
                dl2 = self.dl2(step, out, "data", run_models, gate=gate)
                dl2.deps += deps
                per_tel[tel_id].append((run, self.dl3(run, dl2, run_irf, tel_id)))
        for tel_id, runs_dl3 in per_tel.items():
            self.index_and_analysis(runs_dl3, tel_id)
        return StepGraph(self.steps)


def _product(made: Step | Product) -> Product:
    """A step's primary output as a `Product`."""
    if isinstance(made, Product):
        return made
    return Product(made.primary_output, [made.name])


def _present_obs_ids(tool, obs: list[tuple[int, Path]]):
    def finalize(root: Path) -> list[str]:
        present = [obs_id for obs_id, path in obs if (root / path).is_file()]
        return tool_argv(tool, {"ObservationSelector.obs_ids": present})

    return finalize


def build_graph(
    dataset: DataSet, configs: StageConfigs, options: ChainOptions | None = None, *, tools
) -> StepGraph:
    """
    The step graph of ``dataset``.

    Parameters
    ----------
    dataset, configs, options
        The data set, the stage configs, what the chain does beyond DL3.
    tools : iterable of Tool classes
        The Tool of each stage (its ``chain_step`` names the stage and the traits of
        its inputs and outputs); ``iactpipe.tools.chain.CHAIN_TOOLS``.

    Raises
    ------
    DataSetError
        When the data set cannot make a chain (no training sample, a stereo run
        without two telescopes, several files of a kind for the IRFs).
    StepOptionError
        When a stage's config file or extra arguments name an option its Tool does not
        have (the message names the option, the stage and where it was given).
    """
    return _Builder(dataset, configs, options or ChainOptions(), tools).build()
