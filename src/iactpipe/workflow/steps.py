"""
Chain steps made from the Tools themselves. Each Tool declares which of its traits name
the files it reads and writes (`ChainStep`); the chain gives a step's trait values,
``{"Class.trait": value}``, and its command line is generated through the Tool's own
aliases and flags (``--Class.trait=value`` where the Tool has none). The stage's config
file and extra arguments are checked against the Tool's configurable classes when the
chain is built (`check_options`), so that a misspelt option stops the chain before any
step runs.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from traitlets import Container
from traitlets.config import Config, Configurable

from ..io.chain_step import ChainStep

__all__ = ["ChainStep", "StepOptionError", "check_options", "tool_argv"]


class StepOptionError(ValueError):
    """A stage's config file or extra arguments name an option its Tool does not have."""


def _configurables(tool_cls) -> list[type]:
    return [tool_cls, *tool_cls.classes]


def known_traits(tool_cls) -> dict[str, set[str]]:
    """
    ``{section: trait names}`` that a config of ``tool_cls`` may set: every configurable
    class of the Tool and its base classes (a base-class section applies to subclasses).
    """
    known = defaultdict(set)
    for cls in _configurables(tool_cls):
        names = set(cls.class_traits(config=True))
        for base in cls.mro():
            if isinstance(base, type) and issubclass(base, Configurable):
                known[base.__name__] |= names
    return known


def _trait(tool_cls, key: str):
    section, _, name = key.rpartition(".")
    for cls in _configurables(tool_cls):
        if cls.__name__ == section and cls.class_traits(config=True).get(name) is not None:
            return cls.class_traits(config=True)[name]
    raise KeyError(f"{tool_cls.name}: no configurable trait {key}")


def _names(keys) -> tuple[str, ...]:
    return keys if isinstance(keys, tuple) else (keys,)


def _alias(tool_cls, key: str) -> str | None:
    names = [n for keys, target in tool_cls.aliases.items() if target == key for n in _names(keys)]
    return f"--{max(names, key=len)}" if names else None


def _flag(tool_cls, key: str, value: bool) -> str | None:
    section, _, name = key.rpartition(".")
    names = [
        n
        for keys, (setting, _) in tool_cls.flags.items()
        if dict(setting) == {section: {name: value}}
        for n in _names(keys)
    ]
    return f"--{max(names, key=len)}" if names else None


def _text(value: Any) -> str:
    return str(value) if not isinstance(value, Path) else value.as_posix()


def tool_argv(tool_cls, values: Mapping[str, Any]) -> list[str]:
    """
    The command line of ``tool_cls`` that sets ``values`` (``{"Class.trait": value}``).

    Booleans use the Tool's flag when it has one; list traits repeat the option per
    value (traitlets takes one value per option); ``None`` leaves the trait at its
    configured value.

    Raises
    ------
    KeyError
        A key that is not a configurable trait of the Tool's classes.
    """
    argv = []
    for key, value in values.items():
        trait = _trait(tool_cls, key)
        if value is None:
            continue
        option = _alias(tool_cls, key)
        if isinstance(value, bool) and _flag(tool_cls, key, value):
            argv.append(_flag(tool_cls, key, value))
        elif isinstance(trait, Container):
            items = [_text(v) for v in value]
            if option:
                argv += [item for v in items for item in (option, v)]
            else:
                argv += [f"--{key}={v}" for v in items]
        else:
            argv += [option, _text(value)] if option else [f"--{key}={_text(value)}"]
    return argv


def _unknown(config: Mapping, known: dict[str, set[str]], prefix: str = "") -> list[str]:
    """Keys of ``config`` that set no trait (``Class.trait``, or the bare option name)."""
    unknown = []
    for section, settings in config.items():
        if section not in known or not isinstance(settings, Mapping):
            keys = list(settings) if isinstance(settings, Mapping) else []
            unknown += [f"{prefix}{section}.{k}" for k in keys] or [f"{prefix}{section}"]
            continue
        for key, value in settings.items():
            if key[:1].isupper() and isinstance(value, Mapping):  # a child's sub-section
                unknown += _unknown({key: value}, known, f"{prefix}{section}.")
            elif key not in known[section]:
                unknown.append(f"{prefix}{section}.{key}")
    return unknown


def _suggestion(option: str, known: dict[str, set[str]], tool_cls=None) -> str:
    candidates = [f"{s}.{t}" for s, traits in known.items() for t in traits]
    if tool_cls is not None:
        candidates += [f"--{n}" for keys in tool_cls.aliases for n in _names(keys)]
    close = difflib.get_close_matches(option, candidates, n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""


def check_options(
    tool_cls, config_text: str | None, config_name: str, args: list[str], args_name: str
) -> None:
    """
    Check a step's config file text and extra arguments against ``tool_cls``.

    Raises
    ------
    StepOptionError
        One line naming the first unknown option (or unreadable config, stray argument)
        and where it was given (``config_name`` or ``args_name``).
    """
    known = known_traits(tool_cls)
    if config_text is not None:
        try:
            config = yaml.safe_load(config_text) or {}
        except yaml.YAMLError as err:
            raise StepOptionError(f"config file {config_name} is not YAML: {err}") from err
        if not isinstance(config, Mapping):
            raise StepOptionError(f"config file {config_name}: not a mapping of sections")
        unknown = _unknown(config, known)
        if unknown:
            raise StepOptionError(
                f"unknown option {unknown[0]} in config file {config_name}"
                + _suggestion(unknown[0], known)
            )
    if not args:
        return
    tool = tool_cls()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):  # argparse prints its usage, then exits
            tool.parse_command_line([str(a) for a in args])
    except (SystemExit, Exception) as err:
        reason = (stderr.getvalue().strip().splitlines() or [str(err)])[-1]
        match = re.search(r"unrecognized arguments: (\S+)", reason)
        if match is None:
            raise StepOptionError(f"cannot parse {args_name} {args}: {reason}") from err
        raise StepOptionError(
            f"unknown option {match[1]} in {args_name}" + _suggestion(match[1], known, tool_cls)
        ) from err
    if tool.extra_args:
        raise StepOptionError(
            f"unexpected argument {tool.extra_args[0]!r} in {args_name} "
            f"(one value per option: --opt a --opt b)"
        )
    unknown = _unknown(Config(tool.cli_config), known)
    if unknown:
        option = unknown[0] if "." in unknown[0] else f"--{unknown[0]}"
        raise StepOptionError(
            f"unknown option {option} in {args_name}" + _suggestion(option, known, tool_cls)
        )
