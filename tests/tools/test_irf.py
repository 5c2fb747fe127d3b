"""iactpipe-irf through run_tool: help and options (the data tests are in tests/irf)."""

from ctapipe.core import run_tool

from iactpipe.tools.irf import IRFTool, expand_list_option


def test_help():
    assert run_tool(IRFTool(), argv=["--help-all"]) == 0


def test_expand_list_option():
    argv = ["--gamma-efficiency", "0.6", "0.7", "-o", "x"]
    assert expand_list_option(argv, "--gamma-efficiency") == [
        "--gamma-efficiency", "0.6", "--gamma-efficiency", "0.7", "-o", "x"]  # fmt: skip
