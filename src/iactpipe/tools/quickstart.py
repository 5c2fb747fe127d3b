"""iactpipe-quickstart: write default config files for a stage, ready to edit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ctapipe.core import Tool, ToolConfigurationError
from ctapipe.core.traits import Bool, CaselessStrEnum, List, flag
from ctapipe.core.traits import Path as PathTrait

from ..defaults import SST1M_DL1_DEFAULTS
from ..image.selection import DEFAULT_DL1_SELECTION
from ..io import AtomicOutputFile
from .analysis import AnalysisTool
from .base import IactpipeTool, writable_directory
from .chain import ChainTool
from .dl1_dl2 import DL1DL2Tool
from .dl1_stereo import DL1StereoTool
from .dl2_dl3 import DL2DL3Tool
from .dqm import DQMTool
from .irf import IRFTool
from .r0_dl1 import R0DL1Tool
from .train import TrainTool

__all__ = [
    "KINDS",
    "MODES",
    "STAGES",
    "QuickstartTool",
    "config_filename",
    "config_yaml",
    "main",
    "stage_config",
    "stage_variants",
]

KINDS = ("mc", "data")
MODES = ("mono", "stereo")


def _r0_dl1_config(kind: str, mode: str) -> dict:
    # R0 -> DL1 is per telescope: the mode does not change it
    config = {cls: dict(traits) for cls, traits in SST1M_DL1_DEFAULTS.items()}
    config["SSTImageCleaner"] = {
        "picture_threshold_pe": [["type", "*", 8.0]],
        "boundary_threshold_pe": [["type", "*", 4.0]],
    }
    config["DL1EventSelection"] = {"quality_criteria": [list(c) for c in DEFAULT_DL1_SELECTION]}
    config["DataWriter"] = {"write_dl1_images": False, "write_dl1_parameters": True}
    if kind == "data":
        # interleaved pedestal and other calibration events are not shower images
        config["EventTypeFilter"] = {"allowed_types": ["SUBARRAY"]}
    return config


def _dl1_stereo_config(kind: str, mode: str) -> dict:
    config = {"DL1StereoTool": {"keep_mono": False}}
    if kind == "mc":
        # simulations share the array event id between telescopes
        config["DL1StereoTool"]["matcher_type"] = "EventIdMatcher"
    else:
        config["DL1StereoTool"]["matcher_type"] = "WhiteRabbitClosestMatcher"
        config["WhiteRabbitClosestMatcher"] = {"max_time_diff_ns": 10_000}
        # for periods without White Rabbit timestamps, switch matcher_type to this one
        config["SlidingWindowMatcher"] = {
            "window_half_width_ns": 1_000_000,
            "offset_start_ns": -10_000_000,
            "offset_stop_ns": 10_000_000,
            "offset_step_ns": 20_000,
        }
    config["BatchHillasReconstructor"] = {"min_intensity_pe": 50.0, "min_n_pixels": 3}
    return config


def _train_config(kind: str, mode: str) -> dict:
    # models are trained on simulations only; the kind does not change the config
    return {
        "ModelTrainer": {
            "n_events": 1_000_000,
            "n_events_classifier": 1_000_000,
            "cv_folds": 5,
            "direction_model_type": "NormSignDispModel",
            "energy_as_classifier_feature": False,
            "seed": 0,
            "chunk_size": 100_000,
        },
        "RecoModel": {"model_key": "type", "stereo": mode == "stereo", "n_jobs": -1},
        "EnergyModel": {
            "model_cls": "RandomForestRegressor",
            "model_config": {"n_estimators": 150, "min_samples_leaf": 5},
        },
        "ParticleModel": {
            "model_cls": "RandomForestClassifier",
            "model_config": {"n_estimators": 100, "min_samples_leaf": 5},
        },
        "NormSignDispModel": {
            "model_config": {"n_estimators": 150, "min_samples_leaf": 5},
            "sign_config": {"n_estimators": 100, "min_samples_leaf": 5},
        },
        "RecoEventSelection": {
            "quality_criteria": [
                ["intensity", "hillas_intensity > 50"],
                ["width", "hillas_width > 0"],
                ["n_pixels", "morphology_n_pixels > 3"],
                ["leakage", "leakage_intensity_width_2 < 0.2"],
            ]
        },
    }


def _dl1_dl2_config(kind: str, mode: str) -> dict:
    config = {"DL1DL2Tool": {"chunk_size": 50_000}}
    if mode == "stereo":
        config["StereoCombination"] = {"weights": "intensity", "resolve_sign": True}
    return config


def _irf_config(kind: str, mode: str) -> dict:
    # IRFs come from simulations; the mode sets the event class and multiplicity
    return {
        "IRFTool": {
            "gamma_efficiencies": [0.6, 0.7, 0.8],
            "nsb_level": "dark",
            "event_class": mode,
            "jobs": 3,
        },
        "DL2EventSelection": {
            "min_multiplicity": 2 if mode == "stereo" else 1,
            "min_intensity_pe": 50.0,
            "max_leakage_intensity_width_2": 0.2,
        },
        "EventCuts": {
            "method": "percentile",
            "gh_cut_type": "energy_dependent",
            "theta_cut_type": "energy_dependent",
            "theta_containment": 0.68,
            "theta_min": "0.05 deg",
            # below the 0.4 deg wobble offset: the ON region (RAD_MAX) must stay clear of
            # the reflected OFF region, or the analysis finds no OFF region
            "theta_max": "0.3 deg",
            "reco_energy_min": "0.3 TeV",
            "reco_energy_max": "300 TeV",
            "reco_energy_n_bins_per_decade": 5,
            "min_events_per_bin": 10,
        },
        "IRFMaker": {
            "true_energy_min": "0.3 TeV",
            "true_energy_max": "300 TeV",
            "true_energy_n_bins_per_decade": 10,
            "fov_offset_max": "2.5 deg",
            "fov_offset_n_bins": 5,
            "background_fov_offset_max": "3 deg",
            "background_fov_offset_n_bins": 3,
            "obs_time": "50 h",
        },
    }


def _dl2_dl3_config(kind: str, mode: str) -> dict:
    # DL3 is made from observed runs; the IRF choice follows the mode's event class, and
    # the event selection must be the one that made the IRFs (fingerprint check)
    return {
        "DL2EventSelection": dict(_irf_config("mc", mode)["DL2EventSelection"]),
        "DL2DL3Tool": {"skip_empty": True, "chunk_size": 100_000},
        "IRFSelector": {
            "irf_type": "point-like",
            "gamma_efficiency": 0.7,
            "event_class": mode,
            "nsb_level": "dark",
            "method": "nearest",
            "max_cos_zenith_distance": 0.05,
        },
    }


def _chain_config(kind: str, mode: str) -> dict:
    # a data set of both kinds: the kind does not change it. Paths are examples (relative
    # to this file's directory) to replace by the productions and runs to analyse
    run = {
        "obs_id": 1001,
        "night": "20240110",
        "source": "Crab",
        "files": {"21": "runs/run1001_tel021.h5", "22": "runs/run1001_tel022.h5"},
    }
    return {
        "DataSet": {
            "mode": mode,
            "mc_productions": [
                {"name": name, "kind": name, "files": [f"mc/{name}*.r1.h5"]}
                for name in ("gamma_point", "gamma_diffuse", "proton")
            ],
            "observed_runs": [run],
        },
        "StageConfigs": {"extra_args": {}},
        "ChainTool": {"executor": "local", "dqm": False, "analysis": True},
        "StepExecutor": {"jobs": 2},
        "SlurmExecutor": {
            "queue": None,
            "cores": 1,
            "memory": "4GB",
            "walltime": "02:00:00",
            "job_extra_directives": [],
        },
    }


def _analysis_config(kind: str, mode: str) -> dict:
    # the quick look of observed runs: a power law (a log-parabola needs more events
    # than a night gives); point-like IRFs give the ON region (RAD_MAX),
    # theta_cut is used with full-enclosure IRFs only
    return {
        "ObservationSelector": {"max_offset": "2.0 deg", "max_zenith": "60 deg"},
        "SpectrumAnalysis": {
            "theta_cut": "0.2 deg",
            "n_off_regions": 1,
            "energy_min": "1 TeV",
            "energy_max": "100 TeV",
            "spectral_model": "pl",
            "reference_energy": "3 TeV",
            "aeff_percent": 10.0,
            "n_flux_points": 6,
        },
        "Theta2Analysis": {"detection_threshold": 5.0, "theta2_max": "0.3 deg2"},
        "SkyMapAnalysis": {
            "ring_inner_radius": "0.5 deg",
            "ring_width": "0.3 deg",
            "exclusion_radius": "0.3 deg",
            "correlation_radius": "0.1 deg",
        },
        "LightCurveAnalysis": {"time_bins": "night"},
        "UpperLimitEstimator": {
            "energy_threshold": "1 TeV",
            "confidence_level": 0.95,
            "spectral_index": 2.5,
        },
    }


def _dqm_config(kind: str, mode: str) -> dict:
    # thresholds for 20-minute SST-1M runs; tolerances relative to the reference run
    return {
        "MonitorElementsMaker": {"rate_bin_s": 30.0, "bright_intensity_pe": 200.0},
        "RateCheck": {"min_relative_rate": 0.7, "n_sigma": 3.0, "min_bins": 2},
        "NSBCheck": {"max_nsb_level_pe": 1.6},
        "DeadPixelCheck": {"max_relative_std": 0.5, "max_relative_mean": 0.3, "max_dead_pixels": 3},
        "HotPixelCheck": {"min_relative_std": 3.0, "max_hot_pixels": 10},
        "TimestampCheck": {"max_gap_s": 5.0},
        "StereoFractionCheck": {"min_matched_fraction": 0.2},
        "ReferenceComparison": {
            "relative_tolerances": {
                "mean_rate_hz": 0.3,
                "nsb_level_pe": 0.3,
                "median_intensity_pe": 0.3,
                "median_width_deg": 0.2,
                "median_length_deg": 0.2,
            }
        },
    }


class Stage(NamedTuple):
    """A stage's Tool, its config function ``(kind, mode) -> {Class: {trait: value}}``,
    whether the mode (mono/stereo) changes the config, and the kinds it applies to
    (empty: the same config for every kind, no kind in the file name)."""

    tool: type[Tool]
    config: Callable[[str, str], dict]
    uses_mode: bool
    kinds: tuple[str, ...] = KINDS


STAGES = {
    "r0-dl1": Stage(R0DL1Tool, _r0_dl1_config, False),
    "dl1-stereo": Stage(DL1StereoTool, _dl1_stereo_config, False),
    "train": Stage(TrainTool, _train_config, True, kinds=("mc",)),
    "dl1-dl2": Stage(DL1DL2Tool, _dl1_dl2_config, True),
    "irf": Stage(IRFTool, _irf_config, True, kinds=("mc",)),
    "dl2-dl3": Stage(DL2DL3Tool, _dl2_dl3_config, True, kinds=("data",)),
    "dqm": Stage(DQMTool, _dqm_config, False, kinds=("data",)),
    "analysis": Stage(AnalysisTool, _analysis_config, False, kinds=("data",)),
    "chain": Stage(ChainTool, _chain_config, True, kinds=()),
}


def stage_variants(stage: str, kinds=KINDS, modes=MODES) -> list[tuple[str, str]]:
    """The (kind, mode) pairs of ``stage`` among ``kinds`` and ``modes``, one per file."""
    stage_kinds = STAGES[stage].kinds
    selected = [k for k in kinds if k in stage_kinds] if stage_kinds else ["any"]
    pairs = [(k, m) for k in selected for m in modes]
    seen, result = set(), []
    for kind, mode in pairs:
        name = config_filename(stage, kind, mode)
        if name not in seen:
            seen.add(name)
            result.append((kind, mode))
    return result


def stage_config(stage: str, kind: str, mode: str = "stereo") -> dict:
    """The default configuration of ``stage`` for ``kind`` (mc/data) and ``mode``."""
    return STAGES[stage].config(kind, mode)


def config_filename(stage: str, kind: str, mode: str) -> str:
    """``<stage>[_<kind>][_<mode>].yaml``; the kind and the mode only where they change
    the config."""
    kind_part = f"_{kind}" if STAGES[stage].kinds else ""
    suffix = f"_{mode}" if STAGES[stage].uses_mode else ""
    return f"{stage.replace('-', '_')}{kind_part}{suffix}.yaml"


def _trait_help(tool_cls: type[Tool], class_name: str, trait_name: str) -> str:
    for cls in [tool_cls, *tool_cls.classes]:
        if cls.__name__ == class_name and trait_name in cls.class_traits(config=True):
            return cls.class_traits()[trait_name].help.split(". ")[0].strip()
    return ""


def config_yaml(stage: str, kind: str, mode: str) -> str:
    """The YAML text of a stage config, each trait preceded by its help as a comment."""
    tool_cls = STAGES[stage].tool
    what = [kind] if STAGES[stage].kinds else []
    what += [mode] if STAGES[stage].uses_mode else []
    lines = [
        f"# iactpipe {stage} configuration: {', '.join(what)}",
        f"# use with: iactpipe-{stage} --config <this file> (inputs, outputs: --help)",
        "# every trait can also be overridden on the command line (--Class.trait=value)",
    ]
    for class_name, traits in stage_config(stage, kind, mode).items():
        lines.append(f"{class_name}:")
        for trait_name, value in traits.items():
            help_text = _trait_help(tool_cls, class_name, trait_name)
            if help_text:
                lines.append(f"  # {help_text}")
            # JSON is valid YAML and keeps every value on one readable line; a list of
            # mappings (the chain's productions and runs) takes one line per item
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"  {trait_name}:")
                lines += [f"    - {json.dumps(item)}" for item in value]
            else:
                lines.append(f"  {trait_name}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


class QuickstartTool(IactpipeTool):
    """Write the default iactpipe config files for a stage into a directory."""

    name = "iactpipe-quickstart"
    description = __doc__
    examples = """
    Configs for R0 -> DL1 of simulations, both telescopes:
    > iactpipe-quickstart --stage r0-dl1 --kind mc --mode stereo --output-dir configs/

    Every stage, kind and mode at once:
    > iactpipe-quickstart --all --output-dir configs/

    A commented data-set template for iactpipe-chain (chain_stereo.yaml):
    > iactpipe-quickstart --stage chain --output-dir .
    """

    stages = List(
        CaselessStrEnum(list(STAGES)), default_value=["r0-dl1"], help="Stages to write"
    ).tag(config=True)
    kinds = List(CaselessStrEnum(KINDS), default_value=["mc"], help="mc or data").tag(config=True)
    modes = List(CaselessStrEnum(MODES), default_value=["stereo"], help="mono or stereo").tag(
        config=True
    )
    write_all = Bool(False, help="Write every stage, kind and mode").tag(config=True)
    output_dir = PathTrait(
        default_value=".", file_ok=False, help="Directory for the config files"
    ).tag(config=True)

    aliases = {
        "stage": "QuickstartTool.stages",
        "kind": "QuickstartTool.kinds",
        "mode": "QuickstartTool.modes",
        ("d", "output-dir"): "QuickstartTool.output_dir",
    }
    flags = {
        **flag("all", "QuickstartTool.write_all", "Write every stage, kind and mode", ""),
        **flag("overwrite", "QuickstartTool.overwrite", "Replace existing files", ""),
    }

    def setup(self):
        if self.write_all:
            self.stages, self.kinds, self.modes = list(STAGES), list(KINDS), list(MODES)
        self.output_dir = Path(self.output_dir)
        if not self.output_dir.is_dir():
            raise ToolConfigurationError(f"{self.output_dir}: output directory does not exist")
        writable_directory(self.output_dir, "--output-dir")
        self.written = []

    def start(self):
        for stage in self.stages:
            for kind, mode in stage_variants(stage, self.kinds, self.modes):
                path = self.output_dir / config_filename(stage, kind, mode)
                with AtomicOutputFile(path, self.overwrite) as out:
                    out.temporary_path.write_text(config_yaml(stage, kind, mode))
                self.written.append(out.path)

    def finish(self):
        for path in self.written:
            print(f"wrote {path}")


def main():
    """Run iactpipe-quickstart."""
    QuickstartTool().run()


if __name__ == "__main__":
    main()
