"""The chain per NSB level: MC tuned to each level, models and IRFs per level, each run
analysed with those of its level (graph), and the tuning recorded in the DL1."""

from pathlib import Path

import pytest
import tables
import yaml
from ctapipe.core import run_tool

from iactpipe.io.dataformat import DL1_FINGERPRINT_ATTRIBUTE
from iactpipe.tools.chain import CHAIN_TOOLS
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.workflow import (
    ChainOptions,
    DataSet,
    DataSetError,
    StageConfigs,
    StepOptionError,
    build_graph,
)

KINDS = ("gamma_point", "gamma_diffuse", "proton")
MOON = {"extra_nsb_rate_mhz": 210.0, "efficiency_factor": 0.95}


def dataset(tmp_path, nsb_levels, mode="stereo", levels=None):
    runs = {1001: "dark", 1002: "moon"} if levels is None else levels
    for name in (*KINDS, *(f"run{r}_tel0{t}" for r in runs for t in (21, 22))):
        (tmp_path / f"{name}.h5").write_text("")
    return DataSet(
        base_dir=str(tmp_path),
        mode=mode,
        nsb_levels=nsb_levels,
        mc_productions=[{"name": k, "kind": k, "files": [f"{k}.h5"]} for k in KINDS],
        observed_runs=[
            {
                "obs_id": r,
                "night": "20240110",
                "source": "Crab",
                "nsb_level": level,
                "files": {21: f"run{r}_tel021.h5", 22: f"run{r}_tel022.h5"},
            }
            for r, level in runs.items()
        ],
    )


def modifier(step):
    return (yaml.safe_load(step.config_text) or {}).get("NSBWaveformModifier")


@pytest.mark.parametrize("mode", ["stereo", "mono"])
def test_runs_use_the_models_and_irfs_of_their_level(tmp_path, mode):
    graph = build_graph(dataset(tmp_path, {"moon": MOON}, mode), StageConfigs(), tools=CHAIN_TOOLS)
    steps = graph.steps
    # the MC once more per level, tuned by the waveform modifier
    for kind in KINDS:
        tuned = steps[f"r0-dl1 {kind}_nsb_moon/{kind}"]
        assert modifier(tuned) == {**MOON, "enabled": True}
        assert tuned.primary_output == Path(f"mc/{kind}_nsb_moon/{kind}.dl1.h5")
        assert modifier(steps[f"r0-dl1 {kind}/{kind}"]) is None
    models, irfs = ("models", "irfs") if mode == "stereo" else ("models_mono", "irfs_mono")
    assert steps["train nsb_moon"].primary_output == Path(f"{models}_nsb_moon")
    assert all("_nsb_moon/" in str(p) for p in steps["train nsb_moon"].inputs)
    irf = steps["irf nsb_moon"]
    assert irf.primary_output == Path(f"{irfs}_nsb_moon")
    assert irf.traits["IRFTool.nsb_level"] == "moon"
    assert all("_nsb_moon/" in d for d in irf.deps)
    # the moon run: tuning recorded in its DL1, its level's models and IRF nodes
    tel = "" if mode == "stereo" else " tel 21"
    assert modifier(steps["r0-dl1 run 1002 tel 21"]) == {**MOON, "enabled": True}
    assert "train nsb_moon" in steps[f"dl1-dl2 run 1002{tel}"].deps
    dl3 = steps[f"dl2-dl3 run 1002{tel}"]
    assert "irf nsb_moon" in dl3.deps
    assert ["--nsb-level", "moon"] == dl3.args[dl3.args.index("--nsb-level") :][:2]
    # the dark run: the chain without levels (same steps, same arguments)
    assert modifier(steps["r0-dl1 run 1001 tel 21"]) is None
    assert "train" in steps[f"dl1-dl2 run 1001{tel}"].deps
    assert "irf" in steps[f"dl2-dl3 run 1001{tel}"].deps
    assert "--nsb-level" not in steps[f"dl2-dl3 run 1001{tel}"].args
    plain = build_graph(
        dataset(tmp_path, {}, mode, {1001: "dark"}), StageConfigs(), tools=CHAIN_TOOLS
    )
    assert plain.steps[f"dl2-dl3 run 1001{tel}"].args == steps[f"dl2-dl3 run 1001{tel}"].args


def test_level_from_tune_mc_configs(tmp_path):
    """A level from iactpipe-tune-mc configs, one per telescope (a run's DL1 per telescope)."""
    for tel_id, rate in ((1, 216.5), (2, 220.0)):
        section = {
            "enabled": True,
            "mc_nsb_rate_mhz": 40.0,
            "extra_nsb_rate_mhz": [["id", tel_id, rate]],
            "extra_noise_pe": [["id", tel_id, 0.0]],
        }
        (tmp_path / f"moon{tel_id}.yaml").write_text(
            yaml.safe_dump({"NSBWaveformModifier": section})
        )
    data = dataset(tmp_path, {"moon": {"tuning": ["moon1.yaml", "moon2.yaml"]}})
    steps = build_graph(data, StageConfigs(), tools=CHAIN_TOOLS).steps
    merged = {
        "enabled": True,
        "mc_nsb_rate_mhz": 40.0,
        "extra_nsb_rate_mhz": [["id", 1, 216.5], ["id", 2, 220.0]],
        "extra_noise_pe": [["id", 1, 0.0], ["id", 2, 0.0]],
    }
    assert modifier(steps["r0-dl1 proton_nsb_moon/proton"]) == merged
    assert modifier(steps["r0-dl1 run 1002 tel 22"]) == merged


@pytest.mark.parametrize(
    ("levels", "runs", "error", "message"),
    [
        ({"moon": MOON}, {1001: "bright"}, DataSetError, "nsb_level 'bright' is neither"),
        ({"dark": MOON}, {1001: "dark"}, DataSetError, "not 'dark'"),
        ({"moon": {"tuning": "absent.yaml"}}, None, DataSetError, "cannot read tuning"),
        ({"moon": {"extra_rate": 1.0}}, None, StepOptionError, "NSBWaveformModifier.extra_rate"),
    ],
)
def test_bad_levels(tmp_path, levels, runs, error, message):
    with pytest.raises(error, match=message):
        build_graph(dataset(tmp_path, levels, levels=runs), StageConfigs(), tools=CHAIN_TOOLS)


def test_tuned_mc_and_moon_run_share_the_dl1_fingerprint(tiny_chain, tmp_path):
    """
    The r0-dl1 steps of the tiny chain with a moon level for run 1002 (their config and
    arguments from the graph; 10 events each): the tuned MC and the moon run have one
    DL1 fingerprint (the level's models and IRFs accept the run), not the dark MC's
    (dark models refuse it); the dark run keeps the dark MC's (the chain's outputs).
    """
    config = yaml.safe_load(tiny_chain["config"].read_text())
    config["DataSet"]["nsb_levels"] = {"moon": MOON}
    config["DataSet"]["observed_runs"][1]["nsb_level"] = "moon"
    graph = build_graph(
        DataSet(**config["DataSet"]), StageConfigs(**config["StageConfigs"]), tools=CHAIN_TOOLS
    )

    def fingerprint(path):
        with tables.open_file(path) as h5:
            return h5.root._v_attrs[DL1_FINGERPRINT_ATTRIBUTE]

    tuned = {}
    for name in ("r0-dl1 proton_nsb_moon/proton", "r0-dl1 run 1002 tel 21"):
        step = graph.steps[name]
        path = tmp_path / f"{len(tuned)}.yaml"
        path.write_text(step.config_text)
        (tmp_path / step.primary_output).parent.mkdir(parents=True)
        argv = [f"--config={path}", *step.args, "--EventSource.max_events=10"]
        assert run_tool(R0DL1Tool(), argv, cwd=tmp_path) == 0
        tuned[name] = fingerprint(tmp_path / step.primary_output)
    out = tiny_chain["out"]
    dark = fingerprint(out / "mc/proton/proton.dl1.h5")
    assert tuned["r0-dl1 proton_nsb_moon/proton"] == tuned["r0-dl1 run 1002 tel 21"] != dark
    assert fingerprint(out / "dl1/20240110/Crab/tel_021/run001001_tel021.dl1.h5") == dark


def grid_dataset(tmp_path, nsb_level="dark"):
    """Two pointing nodes (zenith 20 and 40 deg) and a dark and a moon run."""
    data = dataset(tmp_path, {"moon": MOON})
    for node in ("zd20", "zd40"):
        for kind in KINDS:
            (tmp_path / f"{kind}_{node}.h5").write_text("")
    productions = [
        {
            "name": f"{kind}_{node}",
            "kind": kind,
            "files": [f"{kind}_{node}.h5"],
            "pointing": [zenith, 180.0],
            "nsb_level": nsb_level,
        }
        for node, zenith in (("zd20", 20.0), ("zd40", 40.0))
        for kind in KINDS
    ]
    return DataSet(
        base_dir=data.base_dir,
        nsb_levels=data.nsb_levels,
        mc_productions=productions,
        observed_runs=data.observed_runs,
    )


@pytest.mark.parametrize("node_choice", ["interpolate", "nearest"])
def test_levels_on_a_pointing_grid(tmp_path, node_choice):
    """Each level its own node set (model and IRF libraries); a run picks its level, then
    the nodes of its pointing; the dark steps are those of the grid without levels."""
    options = ChainOptions(node_choice=node_choice)
    graph = build_graph(grid_dataset(tmp_path), StageConfigs(), options, tools=CHAIN_TOOLS)
    steps = graph.steps
    for zd in ("zd20", "zd40"):
        node = f"{zd}_az180/nsb_moon"
        train = steps[f"train {node}"]
        assert train.traits["TrainTool.library_dir"] == Path("models_nsb_moon")
        assert train.traits["TrainTool.nsb_level"] == "moon"
        assert train.primary_output == Path("models_nsb_moon") / node
        assert all(f"_{zd}_nsb_moon/" in str(p) for p in train.inputs)
        irf = steps[f"irf {node}"]
        assert irf.traits["IRFTool.library"] == Path("irfs_nsb_moon")
        assert irf.traits["IRFTool.nsb_level"] == "moon"
        assert all(f"_{zd}_nsb_moon/" in d for d in irf.deps if d.startswith("dl1-dl2"))
        # the tuned MC of the node, reconstructed with its level's library
        for kind in KINDS:
            tuned = steps[f"r0-dl1 {kind}_{zd}_nsb_moon/{kind}_{zd}"]
            assert modifier(tuned) == {**MOON, "enabled": True}
            dl2 = steps[f"dl1-dl2 {kind}_{zd}_nsb_moon/{kind}_{zd}"]
            assert dl2.traits["DL1DL2Tool.models_dir"] == Path("models_nsb_moon")
            assert modifier(steps[f"r0-dl1 {kind}_{zd}/{kind}_{zd}"]) is None
        assert f"train {zd}_az180/nsb_dark" in steps
    # the moon run: its level's libraries, its level's nodes, the chosen method
    moon_dl2, moon_dl3 = steps["dl1-dl2 run 1002"], steps["dl2-dl3 run 1002"]
    assert moon_dl2.traits["DL1DL2Tool.models_dir"] == Path("models_nsb_moon")
    assert moon_dl2.traits["DL1DL2Tool.nsb_level"] == "moon"
    assert moon_dl2.traits["ModelChoice.method"] == node_choice
    assert {d for d in moon_dl2.deps if d.startswith("train")} == {
        "train zd20_az180/nsb_moon",
        "train zd40_az180/nsb_moon",
    }
    assert moon_dl3.traits["DL2DL3Tool.irf_library"] == Path("irfs_nsb_moon")
    assert moon_dl3.traits["IRFSelector.nsb_level"] == "moon"
    assert moon_dl3.traits["IRFSelector.method"] == node_choice
    assert {d for d in moon_dl3.deps if d.startswith("irf")} == {
        "irf zd20_az180/nsb_moon",
        "irf zd40_az180/nsb_moon",
    }
    # the dark run: the grid's steps without levels (same arguments)
    plain = dataset(tmp_path, {}, levels={1001: "dark"})
    plain = DataSet(
        base_dir=plain.base_dir,
        mc_productions=grid_dataset(tmp_path).mc_productions,
        observed_runs=plain.observed_runs,
    )
    plain = build_graph(plain, StageConfigs(), options, tools=CHAIN_TOOLS).steps
    for name in ("dl1-dl2 run 1001", "dl2-dl3 run 1001", "train zd40_az180/nsb_dark"):
        assert steps[name].args == plain[name].args
        assert steps[name].deps == plain[name].deps
    assert not any("nsb_moon" in name for name in plain)


def test_levels_on_a_grid_need_dark_productions(tmp_path):
    """MC tuned outside the chain (a production's nsb_level) and nsb_levels: refused."""
    with pytest.raises(DataSetError, match="tunes the dark MC to each level"):
        build_graph(grid_dataset(tmp_path, "moon"), StageConfigs(), tools=CHAIN_TOOLS)
