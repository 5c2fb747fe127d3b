"""``overwrite`` is declared once (IactpipeTool); every tool keeps its flag and config key."""

import importlib

import pytest

from iactpipe.tools.base import IactpipeTool

MODULES = [
    "simulate",
    "r0_dl1",
    "dl1_stereo",
    "train",
    "dl1_dl2",
    "irf",
    "performance",
    "quickstart",
    "dl2_dl3",
    "index",
    "analysis",
    "dqm",
]


def _tool_class(module):
    module = importlib.import_module(f"iactpipe.tools.{module}")
    (cls,) = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, IactpipeTool) and c.__module__ == module.__name__
    ]
    return cls


@pytest.mark.parametrize("module", MODULES)
def test_overwrite_declared_once_and_settable(module):
    cls = _tool_class(module)
    assert "overwrite" not in vars(cls), f"{cls.__name__} re-declares overwrite"
    assert cls.class_traits()["overwrite"] is IactpipeTool.class_traits()["overwrite"]
    for argv in (
        ["--overwrite"],
        [f"--{cls.__name__}.overwrite=True"],
        ["--IactpipeTool.overwrite=True"],
    ):
        tool = cls()
        tool.parse_command_line(argv)
        assert tool.overwrite is True, argv
    tool = cls()
    tool.parse_command_line([])
    assert tool.overwrite is False
