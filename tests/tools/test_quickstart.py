"""iactpipe-quickstart writes configs that the tools accept, and data_configs/ matches them."""

from pathlib import Path

import pytest
import yaml
from ctapipe.core import run_tool

from iactpipe.tools.quickstart import (
    KINDS,
    MODES,
    STAGES,
    QuickstartTool,
    config_filename,
    config_yaml,
    stage_variants,
)
from iactpipe.tools.r0_dl1 import R0DL1Tool

DATA_CONFIGS = Path(__file__).resolve().parents[2] / "data_configs"


def test_writes_every_stage_and_kind(tmp_path):
    assert run_tool(QuickstartTool(), argv=["--all", f"--output-dir={tmp_path}"]) == 0
    names = {p.name for p in tmp_path.glob("*.yaml")}
    expected = {
        config_filename(name, kind, mode) for name in STAGES for kind, mode in stage_variants(name)
    }
    assert names == expected
    assert {"chain_stereo.yaml", "chain_mono.yaml", "r0_dl1_mc.yaml"} <= names
    # no overwrite without --overwrite
    assert run_tool(QuickstartTool(), argv=["--all", f"--output-dir={tmp_path}"], raises=False)
    assert (
        run_tool(QuickstartTool(), argv=["--all", "--overwrite", f"--output-dir={tmp_path}"]) == 0
    )


ALL_CONFIGS = [(name, kind, mode) for name in STAGES for kind, mode in stage_variants(name)]


@pytest.mark.parametrize(("stage", "kind", "mode"), ALL_CONFIGS)
def test_shipped_data_configs_are_current(stage, kind, mode):
    """data_configs/ holds exactly what iactpipe-quickstart writes (no drift)."""
    path = DATA_CONFIGS / config_filename(stage, kind, mode)
    assert path.read_text() == config_yaml(stage, kind, mode)


def test_no_stale_data_configs():
    """Every quickstart-made file in data_configs/ is still produced by a stage."""
    made = {config_filename(*c) for c in ALL_CONFIGS}
    stale = {
        p.name
        for p in DATA_CONFIGS.glob("*.yaml")
        if not p.name.startswith("simulate_") and p.name not in made
    }
    assert not stale


@pytest.mark.parametrize(("stage", "kind", "mode"), ALL_CONFIGS)
def test_config_sections_and_traits_are_known(stage, kind, mode):
    """Every section is a class of the stage's Tool and every key one of its traits."""
    sections = yaml.safe_load(config_yaml(stage, kind, mode))
    tool_cls = STAGES[stage].tool
    classes = {cls.__name__: cls for cls in [tool_cls, *tool_cls.classes]}
    for section, traits in sections.items():
        assert section in classes, section
        assert set(traits) <= set(classes[section].class_traits(config=True)), section


@pytest.mark.parametrize("kind", KINDS)
def test_quickstart_config_runs_unchanged(kind, prod4_sst1m_path, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(config_yaml("r0-dl1", kind, "stereo"))
    out = tmp_path / "out.dl1.h5"
    argv = [f"--config={config}", f"--input={prod4_sst1m_path}", f"--output={out}", "-m", "5"]
    tool = R0DL1Tool()
    assert run_tool(tool, argv=argv, cwd=tmp_path) == 0
    assert out.exists()
    assert type(tool.dl1_engine.process_images.clean).__name__ == "SSTImageCleaner"


@pytest.mark.parametrize("mode", MODES)
def test_chain_template_builds_a_chain(mode, tmp_path):
    """The chain template is a data set that iactpipe-chain plans once its files exist."""
    from iactpipe.tools.chain import ChainTool

    config = tmp_path / config_filename("chain", "any", mode)
    config.write_text(config_yaml("chain", "any", mode))
    text = config.read_text()
    assert f"# iactpipe chain configuration: {mode}" in text
    assert "# Analysis branch: stereo (both telescopes combined) or mono" in text
    for name in (
        "mc/gamma_point.r1.h5",
        "mc/gamma_diffuse.r1.h5",
        "mc/proton.r1.h5",
        "runs/run1001_tel021.h5",
        "runs/run1001_tel022.h5",
    ):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    tool = ChainTool()
    argv = [f"--config={config}", f"--output={tmp_path / 'out'}", "--dry-run"]
    assert run_tool(tool, argv=argv, cwd=tmp_path) == 0
    assert {o.status for o in tool.outcomes} == {"would run"}
    assert tool.dataset.mode == mode
    assert tool.executor == "local"
