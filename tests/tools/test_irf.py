"""iactpipe-irf through run_tool: help and options (the data tests are in tests/irf)."""

import pytest
from ctapipe.core import run_tool

from iactpipe.irf.cuts import EventCuts
from iactpipe.tools.irf import IRFTool


def test_help():
    assert run_tool(IRFTool(), argv=["--help-all"]) == 0


def efficiencies(argv, config=None):
    tool = IRFTool(config=config) if config else IRFTool()
    tool.parse_command_line(["--gammas=g.h5", "--output=lib", *argv])
    # the node efficiencies from the options alone (setup would then check the inputs)
    tool.cuts = EventCuts(parent=tool)
    return tool._efficiencies()


def test_gamma_efficiency_options(tmp_path):
    """--gamma-efficiency is EventCuts.gamma_efficiency (one node, also over a config
    file's list); --gamma-efficiencies lists several nodes."""
    from traitlets.config import Config

    assert efficiencies([]) == [0.7]
    assert efficiencies(["--gamma-efficiency", "0.8"]) == [0.8]
    assert efficiencies(["--gamma-efficiencies", "0.6", "--gamma-efficiencies", "0.8"]) == [
        0.6,
        0.8,
    ]
    listed = Config({"IRFTool": {"gamma_efficiencies": [0.6, 0.7, 0.8]}})
    assert efficiencies([], listed) == [0.6, 0.7, 0.8]
    assert efficiencies(["--gamma-efficiency=0.7"], listed) == [0.7]
    assert efficiencies([], Config({"EventCuts": {"gamma_efficiency": 0.9}})) == [0.9]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gamma-efficiency", "0.6", "0.8"], "--gamma-efficiencies 0.6 --gamma-efficiencies 0.8"),
        (["--gamma-efficiency=0.6", "--gamma-efficiencies", "0.8"], "not both"),
    ],
)
def test_gamma_efficiency_errors(tmp_path, capsys, argv, message):
    argv = [f"--gammas={tmp_path / 'g.h5'}", f"--output={tmp_path / 'lib'}", *argv]
    assert run_tool(IRFTool(), argv=argv, raises=False) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lib").exists()
