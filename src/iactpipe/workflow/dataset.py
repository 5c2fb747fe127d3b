"""
The description of a data set for the chain: MC productions, observed runs, the
analysis branch (mono or stereo) and the configuration file of every stage.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Dict, List, Unicode
from ctapipe.core.traits import Path as PathTrait

__all__ = [
    "DATA_CONFIGS",
    "MC_KINDS",
    "DataSet",
    "DataSetError",
    "MCProduction",
    "ObservedRun",
    "StageConfigs",
]

#: the shipped stage configs (``iactpipe-quickstart --all``), at the repository root
DATA_CONFIGS = Path(__file__).resolve().parents[3] / "data_configs"
MC_KINDS = ("gamma_point", "gamma_diffuse", "proton")


class DataSetError(ValueError):
    """An inconsistent data-set description (message names the entry)."""


@dataclass(frozen=True)
class MCProduction:
    """
    One MC production: a name, its kind (``MC_KINDS``) and its R1 files; on a pointing
    grid also its node's pointing (zenith, azimuth in deg) and NSB level.
    """

    name: str
    kind: str
    files: tuple[Path, ...]
    pointing: tuple[float, float] | None = None
    nsb_level: str = "dark"


@dataclass(frozen=True)
class ObservedRun:
    """One observed run: id, night, source, one R1 file per telescope, its NSB level."""

    obs_id: int
    night: str
    source: str
    files: dict[int, Path]
    nsb_level: str = "dark"


def _resolve(base: Path, pattern: str) -> list[Path]:
    path = Path(pattern).expanduser()
    path = path if path.is_absolute() else base / path
    if glob.has_magic(str(path)):
        return [Path(p) for p in sorted(glob.glob(str(path)))]
    return [path]


class DataSet(Component):
    """
    A data set: MC productions (point and diffuse gammas, protons) and observed runs.
    Relative file names refer to ``base_dir``.
    """

    base_dir = PathTrait(
        default_value=".",
        file_ok=False,
        help="Directory that relative input file names refer to",
    ).tag(config=True)
    mc_productions = List(
        Dict(),
        default_value=[],
        help=(
            "MC productions: {name, kind (gamma_point, gamma_diffuse or proton), files "
            "(list of R1 files or glob patterns, both telescopes in each file)}; on a "
            "pointing grid also pointing: [zenith_deg, azimuth_deg] and optionally "
            "nsb_level (default dark): then models and IRFs are trained per node into "
            "libraries and runs get interpolated models and IRFs"
        ),
    ).tag(config=True)
    observed_runs = List(
        Dict(),
        default_value=[],
        help=(
            "Observed runs: {obs_id, night (YYYYMMDD), source, files: {tel_id: R1 "
            "file of that telescope}}"
        ),
    ).tag(config=True)
    nsb_levels = Dict(
        default_value={},
        help=(
            "NSB levels beyond dark (moonlight): {level: {tuning: iactpipe-tune-mc config "
            "file} or {NSBWaveformModifier settings, e.g. extra_nsb_rate_mhz}}. The MC is "
            "processed tuned to each level, models and IRFs made per level, and each run "
            "analysed with those of its level (a run's optional key nsb_level: dark or a "
            "key of nsb_levels)"
        ),
    ).tag(config=True)
    sources = Dict(
        default_value={},
        help="Optional source coordinates for the analysis: {name: {ra_deg, dec_deg}}",
    ).tag(config=True)
    mode = CaselessStrEnum(
        ["stereo", "mono"],
        default_value="stereo",
        help="Analysis branch: stereo (both telescopes combined) or mono (per telescope)",
    ).tag(config=True)

    def productions(self) -> list[MCProduction]:
        """The MC productions with their files resolved (globs expanded)."""
        result, names = [], set()
        for entry in self.mc_productions:
            name, kind = str(entry.get("name", entry.get("kind", ""))), entry.get("kind")
            if kind not in MC_KINDS:
                raise DataSetError(f"MC production {name!r}: kind must be one of {MC_KINDS}")
            if name in names:
                raise DataSetError(f"MC production {name!r} given twice")
            names.add(name)
            patterns = entry.get("files", [])
            patterns = [patterns] if isinstance(patterns, str) else patterns
            files = [f for p in patterns for f in _resolve(Path(self.base_dir), str(p))]
            if not files:
                raise DataSetError(f"MC production {name!r}: no file matches {patterns}")
            result.append(MCProduction(name, kind, tuple(files), *_node_keys(name, entry)))
        return result

    def runs(self) -> list[ObservedRun]:
        """The observed runs, sorted by ``obs_id``."""
        result = {}
        for entry in self.observed_runs:
            try:
                obs_id = int(entry["obs_id"])
                files = {
                    int(tel): _resolve(Path(self.base_dir), str(path))[0]
                    for tel, path in entry["files"].items()
                }
            except (KeyError, TypeError, ValueError) as err:
                raise DataSetError(f"observed run {entry}: needs obs_id and files") from err
            if obs_id in result:
                raise DataSetError(f"observed run {obs_id} given twice")
            night, source = str(entry.get("night", "night")), str(entry.get("source", "source"))
            level = str(entry.get("nsb_level", "dark"))
            if level != "dark" and level not in self.nsb_levels:
                raise DataSetError(
                    f"observed run {obs_id}: nsb_level {level!r} is neither dark nor one of "
                    f"the nsb_levels {sorted(self.nsb_levels)}"
                )
            result[obs_id] = ObservedRun(obs_id, night, source, files, level)
        return [result[k] for k in sorted(result)]

    def source_position(self, source: str) -> tuple[float, float] | None:
        """``(ra_deg, dec_deg)`` of ``source`` if given in ``sources``."""
        entry = self.sources.get(source)
        if not entry:
            return None
        return float(entry["ra_deg"]), float(entry["dec_deg"])


def _node_keys(name: str, entry: dict) -> tuple[tuple[float, float] | None, str]:
    """The ``pointing`` (zenith, azimuth in deg) and ``nsb_level`` of a production entry."""
    pointing, nsb_level = entry.get("pointing"), str(entry.get("nsb_level", "dark"))
    if pointing is None:
        return None, nsb_level
    try:
        zenith, azimuth = (float(v) for v in pointing)
    except (TypeError, ValueError):
        raise DataSetError(
            f"MC production {name!r}: pointing must be [zenith_deg, azimuth_deg], got {pointing!r}"
        ) from None
    if not 0 <= zenith < 90:
        raise DataSetError(f"MC production {name!r}: zenith {zenith} deg not in [0, 90)")
    return (zenith, azimuth % 360), nsb_level


def _config_trait(default: str) -> PathTrait:
    return PathTrait(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help=f"Config file of this stage; default: {default} in config_dir",
    ).tag(config=True)


class StageConfigs(Component):
    """
    The configuration file of every stage of the chain and extra command-line
    arguments. A stage without a file takes the shipped one from ``config_dir``
    (``<stage>_<kind>[_<mode>].yaml``, as written by ``iactpipe-quickstart``).
    """

    config_dir = PathTrait(
        default_value=DATA_CONFIGS,
        file_ok=False,
        help="Directory of the default stage configs (iactpipe-quickstart --all output)",
    ).tag(config=True)
    r0_dl1_mc = _config_trait("r0_dl1_mc.yaml")
    r0_dl1_data = _config_trait("r0_dl1_data.yaml")
    dl1_stereo_mc = _config_trait("dl1_stereo_mc.yaml")
    dl1_stereo_data = _config_trait("dl1_stereo_data.yaml")
    train_mc = _config_trait("train_mc_<mode>.yaml")
    dl1_dl2_mc = _config_trait("dl1_dl2_mc_<mode>.yaml")
    dl1_dl2_data = _config_trait("dl1_dl2_data_<mode>.yaml")
    irf_mc = _config_trait("irf_mc_<mode>.yaml")
    dl2_dl3_data = _config_trait("dl2_dl3_data_<mode>.yaml")
    dqm_data = _config_trait("none (tool defaults)")
    analysis_data = _config_trait("none (tool defaults)")
    extra_args = Dict(
        default_value={},
        help=(
            "Extra command-line arguments per stage, {stage: [args]}, for instance "
            "{train: ['--ModelTrainer.cv_folds=2']}; a key <stage>_<kind> (r0_dl1_mc, "
            "dl1_dl2_data) applies to one kind only; part of the step fingerprint"
        ),
    ).tag(config=True)
    object_name = Unicode(
        "", help="OBJECT keyword of the DL3 files; default: the run's source name"
    ).tag(config=True)

    #: stages whose shipped config depends on the branch (mono/stereo)
    MODE_STAGES = ("train", "dl1-dl2", "irf", "dl2-dl3")

    def config_path(self, stage: str, kind: str, mode: str) -> Path | None:
        """The config file of ``stage`` for ``kind`` (mc/data) and ``mode``, or None."""
        key = f"{stage.replace('-', '_')}_{kind}"
        explicit = getattr(self, key, None)
        if explicit is not None:
            return Path(explicit)
        suffix = f"_{mode}" if stage in self.MODE_STAGES else ""
        if not Path(self.config_dir).is_dir():
            # without it every stage would silently run with the tool defaults (an
            # installation without the repository's data_configs/, for instance)
            raise DataSetError(
                f"StageConfigs.config_dir: {self.config_dir} is not a directory (the stage "
                "configs; write them with iactpipe-quickstart --all, or give each stage's file)"
            )
        path = Path(self.config_dir) / f"{key}{suffix}.yaml"
        return path if path.is_file() else None

    def config_text(self, stage: str, kind: str, mode: str) -> str | None:
        """The text of the stage's config file (None: tool defaults)."""
        path = self.config_path(stage, kind, mode)
        return None if path is None else path.read_text()

    def args(self, stage: str, kind: str) -> list[str]:
        """The extra arguments of ``stage`` for ``kind`` (mc/data)."""
        per_kind = self.extra_args.get(f"{stage.replace('-', '_')}_{kind}", [])
        return [str(a) for a in [*self.extra_args.get(stage, []), *per_kind]]
