"""Every iactpipe command has a documentation page (sphinx itself runs in `make docs`)."""

import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"


def _commands():
    with (REPO_ROOT / "pyproject.toml").open("rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    return sorted(name for name in scripts if name.startswith("iactpipe-"))


def tool_pages(command: str) -> list[Path]:
    """Where the page of ``command`` may live: docs/tools/<name>.rst or docs/<name>.rst."""
    name = command.removeprefix("iactpipe-").replace("-", "_")
    return [DOCS / "tools" / f"{name}.rst", DOCS / f"{name}.rst"]


def test_commands_found():
    assert "iactpipe-r0-dl1" in _commands()


@pytest.mark.parametrize("command", _commands())
def test_every_tool_has_a_page(command):
    pages = tool_pages(command)
    assert any(p.is_file() for p in pages), (
        f"{command} has no documentation page: write {pages[0].relative_to(REPO_ROOT)} "
        "and add it to the toctree in docs/index.rst"
    )
