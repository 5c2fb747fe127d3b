"""
The chain per NSB level (moonlight): the MC tuned to each level of the data set by the
waveform-level `~iactpipe.simulation.nsb_modifier.NSBWaveformModifier`, models and an
IRF library per level, and each observed run analysed with those of its level.

A level is an entry of ``DataSet.nsb_levels``: ``{"tuning": "tuning/moon.yaml"}`` (the
``NSBWaveformModifier`` section of an ``iactpipe-tune-mc`` config; a list of configs,
one per telescope, is merged) or the modifier's settings themselves
(``{"extra_nsb_rate_mhz": 210}``). Every r0-dl1 step of a level, the MC's and its
runs', gets that section in its config: the DL1 fingerprint records the tuning, so
models and IRFs of one level refuse the DL1 of another. Observed runs are not modified
(the modifier acts on simulations only). Dark runs and the dark MC are the chain's
steps as without levels::

    mc/<production>_nsb_<level>/<file>.dl1.h5, .dl2.h5
    models_nsb_<level>/, irfs_nsb_<level>/zdZZ_azAAA/nsb_<level>/...
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from .dataset import DataSetError
from .graph import Step
from .layout import level_path
from .nodes import library_mc_steps, production_nodes
from .steps import StepOptionError, check_options

__all__ = ["DARK", "add_nsb_levels", "level_path", "level_settings", "tuned_config_text"]

#: the level of the untuned MC
DARK = "dark"
_LEVEL_NAME = re.compile(r"[A-Za-z0-9_]+")


def _tuning_section(base_dir: Path, level: str, file_name) -> Mapping:
    path = Path(str(file_name)).expanduser()
    path = path if path.is_absolute() else Path(base_dir) / path
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataSetError(f"nsb_levels[{level}]: cannot read tuning {path}: {err}") from None
    section = content.get("NSBWaveformModifier") if isinstance(content, Mapping) else None
    if not isinstance(section, Mapping):
        raise DataSetError(
            f"nsb_levels[{level}]: {path} is not an iactpipe-tune-mc config "
            "(no NSBWaveformModifier section)"
        )
    return section


def _merged(level: str, sections: list[Mapping]) -> dict:
    """One section of several (per-telescope tunings): lists joined, other values equal."""
    merged = {}
    for section in sections:
        for key, value in section.items():
            if isinstance(value, list) and isinstance(merged.get(key, []), list):
                merged[key] = [*merged.get(key, []), *value]
            elif merged.setdefault(key, value) != value:
                raise DataSetError(
                    f"nsb_levels[{level}]: the tunings disagree on {key} ({merged[key]}, {value})"
                )
    return merged


def level_settings(nsb_levels: Mapping, base_dir: Path) -> dict[str, dict]:
    """
    ``{level: NSBWaveformModifier section}`` (enabled) of ``DataSet.nsb_levels``.

    Raises
    ------
    DataSetError
        A level named dark or not usable in paths, an empty entry, an unreadable tuning.
    """
    settings = {}
    for level, entry in sorted(nsb_levels.items()):
        level = str(level)
        if level == DARK or not _LEVEL_NAME.fullmatch(level):
            raise DataSetError(
                f"nsb_levels: level {level!r} must be letters, digits or _ and not {DARK!r}"
            )
        if not isinstance(entry, Mapping) or not entry:
            raise DataSetError(
                f"nsb_levels[{level}]: expected {{tuning: file}} or NSBWaveformModifier settings"
            )
        if "tuning" in entry:
            if len(entry) > 1:
                raise DataSetError(f"nsb_levels[{level}]: give a tuning file or settings, not both")
            files = entry["tuning"] if isinstance(entry["tuning"], list) else [entry["tuning"]]
            entry = _merged(level, [_tuning_section(base_dir, level, f) for f in files])
        settings[level] = {**entry, "enabled": True}
    return settings


def tuned_config_text(config_text: str | None, section: Mapping) -> str:
    """An r0-dl1 config text with the ``NSBWaveformModifier`` settings of ``section``."""
    config = yaml.safe_load(config_text or "") or {}
    modifier = {**config.get("NSBWaveformModifier", {}), **section}
    return yaml.safe_dump({**config, "NSBWaveformModifier": modifier}, sort_keys=False)


def _tune_r0_dl1(builder, steps: Iterable[Step], level: str, section: Mapping) -> None:
    """The level's modifier settings into the config of the r0-dl1 ``steps``."""
    tool = builder.tools["r0-dl1"]
    for step in steps:
        if step.stage != "r0-dl1":
            continue
        text = tuned_config_text(step.config_text, section)
        try:
            check_options(tool, text, f"nsb_levels[{level}]", [], "")
        except StepOptionError as err:
            raise StepOptionError(f"stage r0-dl1 ({tool.name}): {err}") from err
        step.config_text = text


def _check_dark(productions) -> None:
    """The chain tunes the dark MC to each level: productions must be dark."""
    tuned = [p.name for p in productions if p.nsb_level != DARK]
    if tuned:
        raise DataSetError(
            f"MC productions {tuned} give an nsb_level while DataSet.nsb_levels is set: the "
            "chain tunes the dark MC to each level (give dark productions, or tune the MC "
            "outside the chain and leave nsb_levels empty)"
        )


def add_nsb_levels(builder, productions, runs, run_dl1: Mapping) -> dict[str, tuple]:
    """
    The steps of every NSB level of the builder's data set: r0-dl1 (and dl1-stereo) of
    each MC production tuned to the level, training, MC DL2 and, when there are runs,
    the IRF library; the r0-dl1 steps of the level's runs (``run_dl1``: obs_id ->
    {tel_id: step}) record the tuning. On a pointing grid (productions with a
    ``pointing``) each level gets its own node set: a model library and an IRF library
    per level (``models_nsb_<level>/zdZZ_azAAA/nsb_<level>``), the level's runs choose
    their level, then their nodes (`nodes.library_mc_steps`).

    Returns
    -------
    dict
        ``{level: (models, irf or None)}``: steps, or `nodes.Product` on a grid.
    """
    settings = level_settings(builder.dataset.nsb_levels, Path(builder.dataset.base_dir))
    grid = bool(production_nodes(productions))
    if settings and grid:
        _check_dark(productions)
    result = {}
    for level, section in settings.items():
        first = len(builder.steps)
        mc, by_production, tuned = {}, {}, []
        for production in productions:
            name = f"{production.name}_nsb_{level}"
            tuned.append(dataclasses.replace(production, name=name, nsb_level=level))
            by_production[name] = builder.mc_dl1(tuned[-1])
            mc.setdefault(production.kind, []).extend(by_production[name])
        _tune_r0_dl1(builder, builder.steps[first:], level, section)
        if grid:
            models, irf, _ = library_mc_steps(
                builder,
                production_nodes(tuned),
                by_production,
                bool(runs),
                builder.options.node_choice,
                level=level,
            )
        else:
            models = builder.train(mc, level=level)
            irf = builder.irf(builder.mc_dl2_all(mc, models), level=level) if runs else None
        for run in runs:
            if run.nsb_level == level:
                _tune_r0_dl1(builder, run_dl1[run.obs_id].values(), level, section)
        result[level] = (models, irf)
    return result
