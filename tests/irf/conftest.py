"""Session fixtures: small simulated SST-1M stereo MC -> DL1 -> models -> DL2 for the IRF tests.

Three productions as the issue asks (point gammas at the 0.4 deg wobble offset, diffuse
gammas, diffuse protons), narrow energy ranges and scatter radii so that most showers
trigger. The models are trained on the diffuse gammas and the protons and applied to all
three files (train and test overlap: the IRF tests check bookkeeping and agreement with
ctapipe on the same DL2, not the gamma/hadron separation; the statistically meaningful
numbers come from benchmarks/irf_vs_ctapipe.py).
"""

from pathlib import Path

import pytest
import yaml
from ctapipe.core import run_tool

REPO = Path(__file__).resolve().parents[2]
SMALL_FORESTS = [
    '--RecoModel.model_config={"n_estimators": 20, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 20, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]
PRODUCTIONS = {
    # name: (particle, showers, seed, E_min, E_max, scatter radius, viewcone, source offset)
    "gamma_point": ("gamma", 900, 41, "1 TeV", "30 TeV", "250 m", "0 deg", "0.4 deg"),
    "gamma_diffuse": ("gamma", 900, 42, "1 TeV", "30 TeV", "250 m", "2.5 deg", "0 deg"),
    "proton": ("proton", 1200, 43, "2 TeV", "60 TeV", "300 m", "3.5 deg", "0 deg"),
}


def simulate_stereo_dl1(tmp: Path, name: str) -> Path:
    """Simulate one production of ``PRODUCTIONS`` and take it to stereo DL1."""
    from iactpipe.tools.dl1_stereo import DL1StereoTool
    from iactpipe.tools.r0_dl1 import R0DL1Tool
    from iactpipe.tools.simulate import SimulateTool

    particle, n, seed, e_min, e_max, radius, viewcone, offset = PRODUCTIONS[name]
    config = {
        "ToySimulationSource": {"mode": "mc", "seed": seed, "obs_id": seed},
        "ShowerGenerator": {
            "particle": particle,
            "spectral_index": 1.5,
            "energy_min": e_min,
            "energy_max": e_max,
            "max_scatter_radius": radius,
            "viewcone": viewcone,
            "source_offset": offset,
            "zenith": "20 deg",
            "azimuth": "0 deg",
        },
    }
    config_path = tmp / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    r1, dl1, stereo = tmp / f"{name}.r1.h5", tmp / f"{name}.dl1.h5", tmp / f"{name}.h5"
    argv = [f"--config={config_path}", "-n", str(n), "--seed", str(seed), f"--output={r1}"]
    assert run_tool(SimulateTool(), argv=argv) == 0
    r0_config = REPO / "data_configs" / "r0_dl1_mc.yaml"
    argv = [f"--config={r0_config}", f"--input={r1}", f"--output={dl1}"]
    assert run_tool(R0DL1Tool(), argv=argv) == 0
    assert run_tool(DL1StereoTool(), argv=[f"--input={dl1}", f"--output={stereo}"]) == 0
    r1.unlink()
    dl1.unlink()
    return stereo


def train_and_apply(tmp: Path, dl1: dict[str, Path]) -> dict[str, Path]:
    """Train stereo models on diffuse gammas + protons and apply them to every file."""
    from iactpipe.tools.dl1_dl2 import DL1DL2Tool
    from iactpipe.tools.train import TrainTool

    models = tmp / "models"
    argv = [
        f"--gammas={dl1['gamma_diffuse']}",
        f"--protons={dl1['proton']}",
        f"--output={models}",
        "--stereo",
        *SMALL_FORESTS,
    ]
    assert run_tool(TrainTool(), argv=argv) == 0
    dl2 = {}
    for name, path in dl1.items():
        dl2[name] = tmp / f"{name}.dl2.h5"
        argv = [f"--input={path}", f"--models={models}", f"--output={dl2[name]}"]
        assert run_tool(DL1DL2Tool(), argv=argv) == 0
    return dl2


@pytest.fixture(scope="session")
def irf_dl2(tmp_path_factory) -> dict[str, Path]:
    """DL2 files ``gamma_point``, ``gamma_diffuse``, ``proton`` with simulation info."""
    tmp = tmp_path_factory.mktemp("irf_mc")
    dl1 = {name: simulate_stereo_dl1(tmp, name) for name in PRODUCTIONS}
    return train_and_apply(tmp, dl1)


@pytest.fixture(scope="session")
def irf_library(irf_dl2, tmp_path_factory) -> Path:
    """A library made by iactpipe-irf at gamma efficiencies 0.6 and 0.8 (two processes)."""
    from iactpipe.tools.irf import IRFTool

    library = tmp_path_factory.mktemp("irf_library")
    argv = [
        f"--gammas={irf_dl2['gamma_point']}",
        f"--diffuse-gammas={irf_dl2['gamma_diffuse']}",
        f"--protons={irf_dl2['proton']}",
        f"--output={library}",
        "--gamma-efficiencies=0.6",
        "--gamma-efficiencies=0.8",
        "--jobs=2",
    ]
    assert run_tool(IRFTool(), argv=argv) == 0
    return library
