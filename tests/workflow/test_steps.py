"""Chain steps made from their Tools: every step of the demo chain parses with its Tool to
the trait values the chain meant, and a misspelt option stops the chain when it is built."""

import re
from pathlib import Path

import astropy.units as u
import pytest
import yaml
from ctapipe.core import run_tool
from traitlets.config import Config
from traitlets.config.loader import DeferredConfig

from iactpipe.tools.chain import CHAIN_TOOLS, ChainTool
from iactpipe.tools.irf import IRFTool
from iactpipe.workflow import ChainOptions, DataSet, StageConfigs, build_graph
from iactpipe.workflow.steps import StepOptionError, check_options, tool_argv

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "chain.yaml"
TOOLS = {tool.chain_step.stage: tool for tool in CHAIN_TOOLS}


def demo_config(tmp_path: Path, mode: str) -> Config:
    """The demo data set on empty R1 files in ``tmp_path/inputs``."""
    config = Config(yaml.safe_load(DEMO.read_text()))
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    for production in config.DataSet.mc_productions:
        for name in production["files"]:
            (inputs / name).touch()
    for run in config.DataSet.observed_runs:
        for name in run["files"].values():
            (inputs / name).touch()
    config.DataSet.base_dir = str(inputs)
    config.DataSet.mode = mode
    return config


def parsed_value(tool, key: str, expected):
    """The value ``tool`` took for ``key`` from its command line, like ``expected``."""
    section, _, name = key.rpartition(".")
    if section == type(tool).__name__:
        value = getattr(tool, name)
    else:
        value = tool.config[section][name]
        if isinstance(value, DeferredConfig):
            value = value.get_value(type(tool).class_traits().get(name))
    if isinstance(expected, list):
        return [
            type(e)(v) if not isinstance(e, Path) else Path(v)
            for e, v in zip(expected, value, strict=True)
        ]
    if isinstance(expected, Path):
        return Path(value)
    return type(expected)(value)


def _as_list(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def relative(value, root: Path):
    if isinstance(value, list):
        return [relative(v, root) for v in value]
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(root):
        return value.relative_to(root)
    return value


@pytest.mark.parametrize("mode", ["stereo", "mono"])
def test_every_demo_step_parses_with_its_tool(tmp_path, monkeypatch, mode):
    """Each step's argv (stage extra args and the observations added at run time included)
    and config, parsed by its Tool: the traits the chain set, and nothing unknown."""
    config = demo_config(tmp_path, mode)
    graph = build_graph(
        DataSet(config=config),
        StageConfigs(config=config),
        ChainOptions(dqm=True),
        tools=CHAIN_TOOLS,
    )
    assert {s.stage for s in graph} == set(TOOLS) - ({"dl1-stereo"} if mode == "mono" else set())
    root = tmp_path / "out"
    root.mkdir()
    monkeypatch.chdir(root)
    for step in graph:  # the inputs exist when a step runs (Tools check some of them)
        for path in step.inputs:
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)
    for path in root.glob("dl3/**/dl3_obs00001002.fits.gz"):  # a run that did not reach DL3
        path.unlink()
    for step in graph:
        tool = TOOLS[step.stage]()
        assert step.tool == tool.name
        finalize = step.finalize(root) if step.finalize else []
        tool.parse_command_line([*step.args, *finalize])
        assert tool.extra_args == [], step.name
        for key, value in step.traits.items():
            assert relative(parsed_value(tool, key, value), root) == value, (step.name, key)
        if finalize:
            # the runs that reached DL3
            assert parsed_value(tool, "ObservationSelector.obs_ids", [0]) == [1001]
        for io in ("inputs", "outputs"):  # the files lie in the traits the Tool declares
            declared = [
                Path(v)
                for key in getattr(type(tool).chain_step, io)
                for v in _as_list(step.traits.get(key))
            ]
            assert all(any(p.is_relative_to(d) for d in declared) for p in getattr(step, io))
        check_options(type(tool), step.config_text, "config", step.args, "args")
        if step.config_text is not None:
            tool.update_config(Config(yaml.safe_load(step.config_text)))
    # the demo's extra arguments reached their traits
    assert "--engine" in graph.steps["r0-dl1 proton_zd35/proton_zd35"].args
    irf = IRFTool()
    irf.parse_command_line(graph.steps["irf zd35_az180/nsb_dark"].args)
    assert irf.config.EventCuts.gamma_efficiency == 0.9
    assert irf.config.EventCuts.theta_cut_type == "global"
    assert u.Quantity(irf.config.EventCuts.theta_min) == 0.2 * u.deg
    # the runs' DL3 take the IRFs of that one efficiency
    for step in (s for s in graph if s.stage == "dl2-dl3"):
        dl2_dl3 = TOOLS["dl2-dl3"]()
        dl2_dl3.parse_command_line(step.args)
        assert float(dl2_dl3.config.IRFSelector.gamma_efficiency) == 0.9, step.name
    # the demo's two pointing nodes: models and IRFs per node
    assert {s.name for s in graph if s.stage in ("train", "irf")} == {
        f"{stage} zd{zenith}_az180/nsb_dark" for stage in ("train", "irf") for zenith in (25, 35)
    }


def test_tool_argv_uses_the_tools_own_options():
    from iactpipe.tools.analysis import AnalysisTool
    from iactpipe.tools.dl1_stereo import DL1StereoTool
    from iactpipe.tools.train import TrainTool

    values = {"TrainTool.gamma_files": [Path("a.h5"), Path("b.h5")], "RecoModel.stereo": False}
    # one value per option: traitlets keeps only the first of "--gammas a b"
    assert tool_argv(TrainTool, values) == ["--gammas", "a.h5", "--gammas", "b.h5", "--no-stereo"]
    assert tool_argv(DL1StereoTool, {"DL1StereoTool.keep_mono": True}) == ["--keep-mono"]
    assert tool_argv(AnalysisTool, {"SpectrumAnalysis.bins_per_decade": 4}) == [
        "--SpectrumAnalysis.bins_per_decade=4"
    ]
    with pytest.raises(KeyError, match="AnalysisTool.no_such_trait"):
        tool_argv(AnalysisTool, {"AnalysisTool.no_such_trait": 1})


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (
            {"extra_args": {"irf": ["--gama-efficiency", "0.7"]}},
            "stage irf (iactpipe-irf): unknown option --gama-efficiency in StageConfigs.extra_args",
        ),
        (
            {"extra_args": {"train": ["--ModelTrainer.cv_fold=2"]}},
            "stage train (iactpipe-train): unknown option ModelTrainer.cv_fold in StageConfigs"
            ".extra_args[train(_mc)] (did you mean ModelTrainer.cv_folds?)",
        ),
        (
            {"extra_args": {"r0_dl1_mc": ["--engine", "batch", "ctapipe"]}},
            "stage r0-dl1 (iactpipe-r0-dl1): unexpected argument 'ctapipe'",
        ),
        (
            {"irf_mc": "EventCuts: {gama_efficiency: 0.8}\n"},
            "stage irf (iactpipe-irf): unknown option EventCuts.gama_efficiency in config file",
        ),
        (
            {"dl2_dl3_data": "EventCutz: {theta_max: 0.3 deg}\n"},
            "stage dl2-dl3 (iactpipe-dl2-dl3): unknown option EventCutz.theta_max in config file",
        ),
    ],
)
def test_misspelt_option_fails_when_the_chain_is_built(tmp_path, capsys, stages, message):
    config = demo_config(tmp_path, "stereo")
    for key, value in stages.items():
        if key != "extra_args":
            path = tmp_path / f"{key}.yaml"
            path.write_text(value)
            value = str(path)
        config.StageConfigs[key] = value
    with pytest.raises(StepOptionError, match="^" + re.escape(message)):
        build_graph(DataSet(config=config), StageConfigs(config=config), tools=CHAIN_TOOLS)
    # iactpipe-chain: exit 2, one ERROR line naming it, nothing run or written
    chain = tmp_path / "chain.yaml"
    chain.write_text(yaml.safe_dump(_plain(config)))
    out = tmp_path / "out"
    assert run_tool(ChainTool(), [f"--config={chain}", f"--output={out}"], raises=False) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert message in errors[0]
    assert not out.exists()


def _plain(config):
    return {k: _plain(v) if isinstance(v, dict) else v for k, v in config.items()}
