"""The step graph built from a data set: stages, dependencies, layout, branches."""

from pathlib import Path

import pytest

from iactpipe.tools.chain import CHAIN_TOOLS
from iactpipe.workflow import ChainOptions, DataSet, DataSetError, StageConfigs, build_graph


def dataset(
    tmp_path, mode="stereo", runs=(1001, 1002), kinds=("gamma_point", "gamma_diffuse", "proton")
):
    for name in (*kinds, *(f"run{r}_tel0{t}" for r in runs for t in (21, 22))):
        (tmp_path / f"{name}.h5").write_text("")
    config = {
        "base_dir": str(tmp_path),
        "mode": mode,
        "mc_productions": [{"name": k, "kind": k, "files": [f"{k}*.h5"]} for k in kinds],
        "observed_runs": [
            {
                "obs_id": r,
                "night": "20240110",
                "source": "Crab",
                "files": {21: f"run{r}_tel021.h5", 22: f"run{r}_tel022.h5"},
            }
            for r in runs
        ],
    }
    return DataSet(**config)


def test_stereo_graph(tmp_path):
    graph = build_graph(dataset(tmp_path), StageConfigs(), tools=CHAIN_TOOLS)
    assert graph.count_by_stage() == {
        "r0-dl1": 7,
        "dl1-stereo": 5,
        "train": 1,
        "dl1-dl2": 5,
        "irf": 1,
        "dl2-dl3": 2,
        "index": 1,
        "analysis": 1,
    }
    steps = graph.steps
    assert set(steps["train"].deps) == {
        "dl1-stereo gamma_diffuse/gamma_diffuse",
        "dl1-stereo proton/proton",
    }
    assert steps["dl1-stereo run 1001"].deps == ["r0-dl1 run 1001 tel 21", "r0-dl1 run 1001 tel 22"]
    dl3 = steps["dl2-dl3 run 1002"]
    assert set(dl3.deps) == {"dl1-dl2 run 1002", "irf"}
    assert dl3.primary_output == Path("dl3/20240110/dl3_obs00001002.fits.gz")
    assert steps["r0-dl1 run 1001 tel 22"].primary_output == Path(
        "dl1/20240110/Crab/tel_022/run001001_tel022.dl1.h5"
    )
    # paths relative to the output root, the shipped configs by default
    assert "--keep-mono" in steps["dl1-stereo run 1001"].args
    assert "EventIdMatcher" in steps["dl1-stereo proton/proton"].config_text
    assert "WhiteRabbitClosestMatcher" in steps["dl1-stereo run 1001"].config_text
    assert "stereo: true" in steps["train"].config_text
    assert graph.dependents({"irf"}) == {
        "irf",
        "dl2-dl3 run 1001",
        "dl2-dl3 run 1002",
        "index",
        "analysis Crab",
    }


def test_mono_graph(tmp_path):
    graph = build_graph(dataset(tmp_path, mode="mono"), StageConfigs(), tools=CHAIN_TOOLS)
    counts = graph.count_by_stage()
    assert "dl1-stereo" not in counts
    # one DL3 tree (index, analysis) per telescope: the same obs_id in both
    assert counts == {
        "r0-dl1": 7,
        "train": 1,
        "dl1-dl2": 7,
        "irf": 1,
        "dl2-dl3": 4,
        "index": 2,
        "analysis": 2,
    }
    steps = graph.steps
    assert "--no-stereo" in steps["train"].args
    assert steps["dl2-dl3 run 1001 tel 22"].primary_output == Path(
        "dl3/tel_022/20240110/dl3_obs00001001.fits.gz"
    )
    assert 'event_class: "mono"' in steps["irf"].config_text


def test_extra_args_explicit_config_and_errors(tmp_path):
    config = tmp_path / "my_dl2_dl3.yaml"
    config.write_text("DL2DL3Tool: {chunk_size: 10}\n")
    stages = StageConfigs(dl2_dl3_data=config, extra_args={"irf": ["--gamma-efficiency", "0.7"]})
    graph = build_graph(dataset(tmp_path), stages, tools=CHAIN_TOOLS)
    assert graph.steps["dl2-dl3 run 1001"].config_text == config.read_text()
    assert graph.steps["irf"].args[-2:] == ["--gamma-efficiency", "0.7"]
    (tmp_path / "point_only").mkdir()
    with pytest.raises(DataSetError, match="gamma_diffuse and proton"):
        build_graph(
            dataset(tmp_path / "point_only", kinds=("gamma_point",)),
            StageConfigs(),
            tools=CHAIN_TOOLS,
        )
    # no shipped stage configs (an install without data_configs/): refused, not tool defaults
    with pytest.raises(DataSetError, match="config_dir: .*x is not a directory"):
        build_graph(dataset(tmp_path), StageConfigs(config_dir=tmp_path / "x"), tools=CHAIN_TOOLS)
    bad = DataSet(base_dir=str(tmp_path), mc_productions=[{"name": "g", "kind": "gamma"}])
    with pytest.raises(DataSetError, match="kind must be one of"):
        bad.productions()


def test_pointing_grid_graph(tmp_path):
    """Productions at two pointings: a train and an IRF step per node into the libraries
    (the IRF nodes one after the other), runs with interpolated IRFs."""
    kinds = ("gamma_point", "gamma_diffuse", "proton")
    data = dataset(tmp_path, kinds=kinds)
    entries = []
    for zenith in (20, 40):
        for k in kinds:
            (tmp_path / f"{k}_zd{zenith}.h5").write_text("")
            entries.append(
                {"name": f"{k}_zd{zenith}", "kind": k, "files": [f"{k}_zd{zenith}.h5"]}
                | {"pointing": [zenith, 0]}
            )
    data.mc_productions = entries
    graph = build_graph(data, StageConfigs(), tools=CHAIN_TOOLS)
    counts = graph.count_by_stage()
    assert (counts["train"], counts["irf"], counts["dl1-dl2"]) == (2, 2, 8)
    steps = graph.steps
    train = steps["train zd20_az000/nsb_dark"]
    assert train.outputs == [Path("models/zd20_az000/nsb_dark")]
    assert train.traits["TrainTool.library_dir"] == Path("models")
    assert set(steps["dl1-dl2 run 1001"].deps) == {
        "dl1-stereo run 1001",
        "train zd20_az000/nsb_dark",
        "train zd40_az000/nsb_dark",
    }
    irf40 = steps["irf zd40_az000/nsb_dark"]
    assert "irf zd20_az000/nsb_dark" in irf40.deps
    assert irf40.outputs == [Path("irfs/zd40_az000/nsb_dark")]
    dl3 = steps["dl2-dl3 run 1002"]
    assert dl3.traits["IRFSelector.method"] == "interpolate"
    assert {"irf zd20_az000/nsb_dark", "irf zd40_az000/nsb_dark"} <= set(dl3.deps)
    assert steps["dl1-dl2 run 1001"].traits["ModelChoice.method"] == "interpolate"
    assert "ModelChoice.method" not in steps["dl1-dl2 proton_zd40/proton_zd40"].traits
    nearest = build_graph(
        data, StageConfigs(), ChainOptions(node_choice="nearest"), tools=CHAIN_TOOLS
    )
    assert nearest.steps["dl1-dl2 run 1001"].traits["ModelChoice.method"] == "nearest"
    assert nearest.steps["dl2-dl3 run 1001"].traits["IRFSelector.method"] == "nearest"
    track = build_graph(data, StageConfigs(), ChainOptions(node_choice="track"), tools=CHAIN_TOOLS)
    assert track.steps["dl1-dl2 run 1001"].traits["ModelChoice.method"] == "interpolate"
    assert track.steps["dl2-dl3 run 1001"].traits["IRFSelector.method"] == "track"
    entries[0].pop("pointing")
    with pytest.raises(DataSetError, match="give no pointing while others do"):
        build_graph(data, StageConfigs(), tools=CHAIN_TOOLS)
    data.mc_productions = [e | {"pointing": [20, 0]} for e in entries if "proton" not in e["name"]]
    with pytest.raises(DataSetError, match="training needs gamma_diffuse and proton"):
        build_graph(data, StageConfigs(), tools=CHAIN_TOOLS)
