"""Building blocks for session fixtures that run the chain on simulated data.

MC productions and observation runs -> (stereo) DL1 -> models -> DL2 -> IRF library,
each step through its Tool with ``ctapipe.core.run_tool``. Used by ``tests/dl3``; the
functions take every setting as an argument, so a fixture states its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from ctapipe.core import run_tool

REPO = Path(__file__).resolve().parents[1]
SMALL_FORESTS = [
    '--RecoModel.model_config={"n_estimators": 20, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 20, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]


@dataclass
class Production:
    """One MC production (``iactpipe-simulate --mode mc``)."""

    particle: str
    n_showers: int
    seed: int
    energy_min: str
    energy_max: str
    scatter_radius: str
    viewcone: str = "0 deg"
    source_offset: str = "0 deg"
    zenith: str = "20 deg"
    azimuth: str = "0 deg"
    spectral_index: float = 1.5


def simulate_mc_stereo_dl1(tmp: Path, name: str, production: Production) -> Path:
    """Simulate ``production`` and take it to stereo DL1 (``<tmp>/<name>.h5``)."""
    from iactpipe.tools.dl1_stereo import DL1StereoTool
    from iactpipe.tools.r0_dl1 import R0DL1Tool
    from iactpipe.tools.simulate import SimulateTool

    p = production
    config = {
        "ToySimulationSource": {"mode": "mc", "seed": p.seed, "obs_id": p.seed},
        "ShowerGenerator": {
            "particle": p.particle,
            "spectral_index": p.spectral_index,
            "energy_min": p.energy_min,
            "energy_max": p.energy_max,
            "max_scatter_radius": p.scatter_radius,
            "viewcone": p.viewcone,
            "source_offset": p.source_offset,
            "zenith": p.zenith,
            "azimuth": p.azimuth,
        },
    }
    config_path = tmp / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    r1, dl1, stereo = tmp / f"{name}.r1.h5", tmp / f"{name}.dl1.h5", tmp / f"{name}.h5"
    argv = [
        f"--config={config_path}",
        "-n",
        str(p.n_showers),
        "--seed",
        str(p.seed),
        f"--output={r1}",
    ]
    assert run_tool(SimulateTool(), argv=argv) == 0
    r0_config = REPO / "data_configs" / "r0_dl1_mc.yaml"
    argv = [f"--config={r0_config}", f"--input={r1}", f"--output={dl1}"]
    assert run_tool(R0DL1Tool(), argv=argv) == 0
    assert run_tool(DL1StereoTool(), argv=[f"--input={dl1}", f"--output={stereo}"]) == 0
    r1.unlink()
    dl1.unlink()
    return stereo


def simulate_observation_stereo_dl1(
    tmp: Path, name: str, seed: int, obs_id: int, duration: str, config: dict
) -> Path:
    """
    Simulate an observation run (one file per telescope), R0 -> DL1 per telescope and
    match them into a stereo DL1 file kept with the mono events (``--keep-mono``, so
    the telescope trigger tables hold every event: the live-time estimate needs them).
    ``config`` is merged into the ``ToySimulationSource`` / ``ObservationRun`` config.
    """
    from iactpipe.tools.dl1_stereo import DL1StereoTool
    from iactpipe.tools.r0_dl1 import R0DL1Tool
    from iactpipe.tools.simulate import SimulateTool

    full = {"ToySimulationSource": {"obs_id": obs_id}, **config}
    full["ToySimulationSource"] = {"obs_id": obs_id, **config.get("ToySimulationSource", {})}
    config_path = tmp / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(full))
    argv = [
        f"--config={config_path}",
        "-o",
        str(tmp / f"{name}.h5"),
        "--mode",
        "observation",
        "--duration",
        duration,
        "--seed",
        str(seed),
    ]
    assert run_tool(SimulateTool(), argv=argv, cwd=tmp) == 0
    dl1 = {}
    for tel_id in (21, 22):
        r1 = tmp / f"{name}_tel{tel_id:03d}.h5"
        dl1[tel_id] = tmp / f"{name}_tel{tel_id:03d}.dl1.h5"
        argv = [f"--input={r1}", f"--output={dl1[tel_id]}"]
        assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp) == 0
    stereo = tmp / f"{name}.stereo.h5"
    argv = [f"--input-1={dl1[21]}", f"--input-2={dl1[22]}", f"--output={stereo}", "--keep-mono"]
    assert run_tool(DL1StereoTool(), argv=argv, cwd=tmp) == 0
    return stereo


def train_models(tmp: Path, gammas: Path, protons: Path) -> Path:
    """Stereo models (small forests) trained on diffuse gammas and protons."""
    from iactpipe.tools.train import TrainTool

    models = tmp / "models"
    argv = [
        f"--gammas={gammas}",
        f"--protons={protons}",
        f"--output={models}",
        "--stereo",
        *SMALL_FORESTS,
    ]
    assert run_tool(TrainTool(), argv=argv) == 0
    return models


def apply_models(path: Path, models: Path) -> Path:
    """DL1 -> DL2 (``<stem>.dl2.h5`` next to the input)."""
    from iactpipe.tools.dl1_dl2 import DL1DL2Tool

    dl2 = path.with_name(f"{path.stem}.dl2.h5")
    argv = [f"--input={path}", f"--models={models}", f"--output={dl2}"]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    return dl2


def make_irf_library(library: Path, dl2: dict[str, Path], *args: str) -> Path:
    """``iactpipe-irf`` on ``gamma_point``, ``gamma_diffuse``, ``proton`` DL2 files."""
    from iactpipe.tools.irf import IRFTool

    argv = [
        f"--gammas={dl2['gamma_point']}",
        f"--diffuse-gammas={dl2['gamma_diffuse']}",
        f"--protons={dl2['proton']}",
        f"--output={library}",
        *args,
    ]
    assert run_tool(IRFTool(), argv=argv) == 0
    return library


def dl2_to_dl3(dl2: Path, library: Path, out: Path, *args: str) -> Path:
    """``iactpipe-dl2-dl3`` then ``iactpipe-index`` into ``out``."""
    from iactpipe.tools.dl2_dl3 import DL2DL3Tool
    from iactpipe.tools.index import IndexTool

    argv = [f"--input={dl2}", f"--irfs={library}", f"--output={out}", "--object=Crab", *args]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    assert run_tool(IndexTool(), argv=[f"--dl3-dir={out}"]) == 0
    return out


def crab_fit_chain(
    tmp: Path,
    models: Path,
    dl2: dict[str, Path],
    point: Production,
    duration: str,
    observation: dict,
    obs_id: int,
    seed: int,
    irf_args: tuple[str, ...] = (),
) -> Path:
    """
    For the spectral-fit check: a point-gamma production ``point`` (cuts and point-like
    IRFs; ``dl2`` gives the diffuse gammas and protons, already DL2, and ``models`` the
    trained models), an IRF library, and an observation run -> DL2 -> DL3 + index.
    Returns the DL3 directory.
    """
    point_dl2 = apply_models(simulate_mc_stereo_dl1(tmp, "fit_gamma_point", point), models)
    library = make_irf_library(
        tmp / "irfs_fit", {**dl2, "gamma_point": point_dl2}, "--gamma-efficiency", "0.7", *irf_args
    )
    obs = simulate_observation_stereo_dl1(tmp, "fit_run", seed, obs_id, duration, observation)
    return dl2_to_dl3(apply_models(obs, models), library, tmp / "dl3_fit")


@dataclass
class Run:
    """One simulated observation run (``iactpipe-simulate --mode observation``)."""

    obs_id: int
    seed: int
    start_time: str
    duration: str
    source_flux_scale: float
    proton_flux_scale: float
    gamma_energy_min: str = "2 TeV"


def simulate_runs_dl2(tmp: Path, models: Path, runs: list[Run]) -> list[Path]:
    """Simulate each of ``runs`` (tracking the Crab in wobble mode) and take it to DL2."""
    out = []
    for run in runs:
        config = {
            "ObservationRun": {
                "start_time": run.start_time,
                "source_flux_scale": run.source_flux_scale,
                "proton_flux_scale": run.proton_flux_scale,
                "gamma_energy_min": run.gamma_energy_min,
                "gamma_scatter_radius": "300 m",
            }
        }
        name = f"run{run.obs_id}"
        dl1 = simulate_observation_stereo_dl1(tmp, name, run.seed, run.obs_id, run.duration, config)
        out.append(apply_models(dl1, models))
    return out


def dl2_runs_to_dl3(dl2: list[Path], library: Path, out: Path, *args: str) -> Path:
    """Several runs -> one DL3 directory with its index (``iactpipe-dl2-dl3`` + ``-index``)."""
    from iactpipe.tools.dl2_dl3 import DL2DL3Tool
    from iactpipe.tools.index import IndexTool

    argv = [
        *(f"--input={p}" for p in dl2),
        f"--irfs={library}",
        f"--output={out}",
        "--object=Crab",
        *args,
    ]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    assert run_tool(IndexTool(), argv=[f"--dl3-dir={out}"]) == 0
    return out


# The chain shared by tests/dl3 and tests/analysis (session fixtures ``dl3_chain`` and
# ``crab_fit_dl3`` in tests/conftest.py). Statistics: MC at zenith 27.5 deg, azimuth
# 180 deg (the Crab's culmination at Ondřejov, where the runs are taken): 600 point
# gammas at the 0.4 deg wobble offset, 400 diffuse gammas, 600 diffuse protons (1-100
# TeV gammas, 2-60 TeV protons, spectral index 1.5, 300 m scatter radius). Observation:
# 4 s starting at 2024-01-10T21:16:55 UTC, source at 2000 times the MAGIC Crab (gammas
# >= 1 TeV, 300 m), protons at 0.3 times the reference flux, 1 ms dead time per
# telescope trigger so that the dead-time correction is large enough to test (about 7 %).
DL3_ZENITH, DL3_AZIMUTH = "27.5 deg", "180 deg"
DL3_PRODUCTIONS = {
    "gamma_point": Production(
        "gamma",
        600,
        61,
        "1 TeV",
        "100 TeV",
        "300 m",
        source_offset="0.4 deg",
        zenith=DL3_ZENITH,
        azimuth=DL3_AZIMUTH,
    ),
    "gamma_diffuse": Production(
        "gamma",
        400,
        62,
        "1 TeV",
        "100 TeV",
        "300 m",
        viewcone="2.5 deg",
        zenith=DL3_ZENITH,
        azimuth=DL3_AZIMUTH,
    ),
    "proton": Production(
        "proton",
        600,
        63,
        "2 TeV",
        "60 TeV",
        "300 m",
        viewcone="3.5 deg",
        zenith=DL3_ZENITH,
        azimuth=DL3_AZIMUTH,
    ),
}
DL3_DEAD_TIME_S = 1e-3
DL3_OBSERVATION = {
    "ToySimulationSource": {"dead_time": "1 ms"},
    "ObservationRun": {
        "start_time": "2024-01-10T21:16:55",
        "source_flux_scale": 2000.0,
        "proton_flux_scale": 0.3,
        "gamma_energy_min": "1 TeV",
        "gamma_scatter_radius": "300 m",
    },
}
DL3_OBS_ID = 1001
#: the spectral-fit run (``crab_fit_dl3``; statistics in tests/dl3/test_crab_fit.py)
CRAB_FIT_FLUX_SCALE = 20000.0
CRAB_FIT_OBS_ID = 2001


def build_dl3_chain(tmp: Path) -> dict[str, Path]:
    """MC -> models -> IRF library, and the 4 s run -> DL2 (``dl3_chain`` fixture)."""
    dl1 = {name: simulate_mc_stereo_dl1(tmp, name, p) for name, p in DL3_PRODUCTIONS.items()}
    models = train_models(tmp, dl1["gamma_diffuse"], dl1["proton"])
    dl2 = {name: apply_models(path, models) for name, path in dl1.items()}
    library = make_irf_library(tmp / "irfs", dl2, "--gamma-efficiency", "0.7")
    obs = simulate_observation_stereo_dl1(tmp, "run", 7, DL3_OBS_ID, "4 s", DL3_OBSERVATION)
    return {
        "library": library,
        "models": models,
        "observation_dl1": obs,
        "observation_dl2": apply_models(obs, models),
        "run_tel021": tmp / "run_tel021.h5",
        "run_tel022": tmp / "run_tel022.h5",
    }


def build_crab_fit_dl3(tmp: Path, chain: dict[str, Path]) -> Path:
    """
    The spectral-fit run: 2500 point gammas (2-100 TeV, E^-2) for point-like IRFs with a
    theta cut of at most 0.3 deg, and a 6 s run at 20 000 times the MAGIC Crab above
    2 TeV, protons at 0.02 (``crab_fit_dl3`` fixture). Returns the DL3 directory; the
    run's DL2 is ``<tmp>/fit_run.stereo.dl2.h5`` and the IRF library ``<tmp>/irfs_fit``.
    """
    base = chain["library"].parent
    dl2 = {name: base / f"{name}.dl2.h5" for name in ("gamma_diffuse", "proton")}
    point = Production(
        "gamma",
        2500,
        81,
        "2 TeV",
        "100 TeV",
        "300 m",
        source_offset="0.4 deg",
        zenith=DL3_ZENITH,
        azimuth=DL3_AZIMUTH,
        spectral_index=2.0,
    )
    observation = {
        "ObservationRun": {
            "start_time": "2024-01-10T21:16:55",
            "source_flux_scale": CRAB_FIT_FLUX_SCALE,
            "proton_flux_scale": 0.02,
            "gamma_energy_min": "2 TeV",
            "gamma_scatter_radius": "300 m",
        },
    }
    return crab_fit_chain(
        tmp,
        chain["models"],
        dl2,
        point,
        "6 s",
        observation,
        CRAB_FIT_OBS_ID,
        27,
        ("--EventCuts.theta_max=0.3 deg",),
    )
