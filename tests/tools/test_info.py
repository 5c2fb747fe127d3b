"""iactpipe-info lists the tools and every component family."""

from ctapipe.core import run_tool

from iactpipe.image import SSTImageCleaner
from iactpipe.tools.info import InfoTool, component_families, iactpipe_tools


def test_tools_are_registered():
    tools = iactpipe_tools()
    for name in ("iactpipe-r0-dl1", "iactpipe-info", "iactpipe-quickstart"):
        assert name in tools


def test_families_include_iactpipe_implementations():
    families = component_families()
    assert SSTImageCleaner in families["ImageCleaner"]
    assert "LocalPeakWindowSum" in {c.__name__ for c in families["ImageExtractor"]}
    # iactpipe's own abstract families are discovered, not listed by hand
    assert {c.__name__ for c in families["CoincidenceMatcher"]} >= {
        "EventIdMatcher",
        "SlidingWindowMatcher",
        "WhiteRabbitClosestMatcher",
    }
    assert "CoincidenceMatcher" not in {c.__name__ for c in families["CoincidenceMatcher"]}


def test_info_output(capsys):
    assert run_tool(InfoTool(), argv=[]) == 0
    out = capsys.readouterr().out
    assert "iactpipe-r0-dl1" in out
    assert "SSTImageCleaner" in out
    assert "ImageCleaner" in out
