"""ConfigGuard: one refusal message per mismatch, allowed and logged with the one flag,
wired into every Tool that compares its inputs' configuration."""

import logging
import shutil

import pytest
import tables
from ctapipe.core import run_tool

from iactpipe.io import ConfigGuard, InputFileError
from iactpipe.io.dataformat import DL1_FINGERPRINT_ATTRIBUTE
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.dl1_stereo import DL1StereoTool
from iactpipe.tools.dl2_dl3 import DL2DL3Tool
from iactpipe.tools.performance import PerformanceTool
from iactpipe.tools.train import TrainTool

#: the stages that check their inputs: consumer Tool
GUARDED_TOOLS = [DL1StereoTool, TrainTool, DL1DL2Tool, PerformanceTool, DL2DL3Tool]

#: check -> (a mismatch through the guard, start of its message, what the flag does)
CHECKS = {
    "same": (
        lambda g: g.require_same({"a.h5": "1" * 64, "b.h5": None}, "inputs", "combine them"),
        "inputs made with different DL1 configurations: a.h5 (111111111111), b.h5 (none)",
        "combine them",
    ),
    "differences": (
        lambda g: g.require_no_differences(
            [f"C.t{i}: 1 != 2" for i in range(12)], "x.h5: DL1 differs", "apply anyway"
        ),
        "x.h5: DL1 differs: C.t0: 1 != 2; C.t1: 1 != 2;",
        "apply anyway",
    ),
    "fingerprint": (
        lambda g: g.require_fingerprint("abc", "def", "irf.fits: other", "use them anyway"),
        "irf.fits: other",
        "use them anyway",
    ),
}


@pytest.mark.parametrize("check", CHECKS)
def test_mismatch_refused_with_one_message_or_allowed_and_logged(check, caplog):
    mismatch, problem, action = CHECKS[check]
    with pytest.raises(InputFileError) as err:
        mismatch(ConfigGuard())
    message = str(err.value)
    assert message.startswith(problem) and "\n" not in message
    assert message.endswith(f"; use --allow-config-mismatch to {action}")
    if check == "differences":
        assert "C.t9: 1 != 2 (and 2 more);" in message and "C.t10" not in message
    with caplog.at_level(logging.WARNING):
        mismatch(ConfigGuard(allow_config_mismatch=True))
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage().startswith(problem)
    assert record.getMessage().endswith("(allowed by --allow-config-mismatch)")


def test_agreement_passes_silently(caplog):
    guard = ConfigGuard()
    with caplog.at_level(logging.WARNING):
        guard.require_same({"a.h5": "1", "b.h5": "1"}, "inputs", "combine them")
        guard.require_no_differences([], "x.h5", "apply anyway")
        guard.require_fingerprint("abc", "abc", "never", "use them anyway")
    assert not caplog.records


@pytest.mark.parametrize("tool_class", GUARDED_TOOLS)
def test_every_stage_has_the_one_flag(tool_class):
    assert ConfigGuard in tool_class.classes
    flag_config, _ = tool_class.flags["allow-config-mismatch"]
    assert flag_config == {"ConfigGuard": {"allow_config_mismatch": True}}
    for argv, allowed in (([], False), (["--allow-config-mismatch"], True)):
        tool = tool_class()
        tool.parse_command_line(argv)
        assert ConfigGuard(parent=tool).allow_config_mismatch is allowed
    tool = tool_class()
    tool.parse_command_line(["--ConfigGuard.allow_config_mismatch=True"])
    assert ConfigGuard(parent=tool).allow_config_mismatch


def _other_fingerprint(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    with tables.open_file(copy, mode="a") as h5:
        h5.root._v_attrs[DL1_FINGERPRINT_ATTRIBUTE] = "0" * 64
    return copy


def test_dl1_stereo_inputs(dl3_chain, tmp_path, capsys):
    """Two telescopes' DL1 of different configurations: refused before any matching."""
    tel021, tel022 = (dl3_chain[f"run_tel02{k}"].with_name(f"run_tel02{k}.dl1.h5") for k in (1, 2))
    other = _other_fingerprint(tel022, tmp_path)
    out = tmp_path / "stereo.h5"
    argv = [f"--input-1={tel021}", f"--input-2={other}", f"--output={out}"]
    assert run_tool(DL1StereoTool(), argv=argv, raises=False) == 2
    err = capsys.readouterr().err
    assert "inputs made with different DL1 configurations" in err
    assert "use --allow-config-mismatch to combine them" in err
    assert not out.exists()


def test_train_inputs(dl3_chain, tmp_path, capsys):
    """Gammas and protons of different DL1 configurations: refused before any training."""
    base = dl3_chain["library"].parent
    other = _other_fingerprint(base / "proton.h5", tmp_path)
    out = tmp_path / "models"
    argv = [f"--gammas={base / 'gamma_diffuse.h5'}", f"--protons={other}", f"--output={out}"]
    assert run_tool(TrainTool(), argv=argv, raises=False) == 2
    err = capsys.readouterr().err
    assert "training files made with different DL1 configurations" in err
    assert "use --allow-config-mismatch to train anyway" in err
    assert not out.exists()
