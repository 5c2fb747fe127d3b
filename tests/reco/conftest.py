"""Session fixtures: small simulated stereo DL1 sets (gammas, protons) and trained models.

The simulator writes a few tens of telescope events per second, so the sets are small
(narrow energy ranges, 250 m scatter radius to raise the trigger fraction) and the
forests have 30 trees; the same sets feed the comparison with ctapipe's tools
(test_vs_ctapipe.py). Larger statistics: benchmarks/reco_vs_ctapipe.py.
"""

from pathlib import Path

import pytest
import yaml
from ctapipe.core import run_tool

REPO = Path(__file__).resolve().parents[2]
SMALL_FORESTS = [
    '--RecoModel.model_config={"n_estimators": 30, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 30, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=3",
]


def _simulate(tmp: Path, name: str, particle: str, n: int, seed: int) -> Path:
    from iactpipe.tools.dl1_stereo import DL1StereoTool
    from iactpipe.tools.r0_dl1 import R0DL1Tool
    from iactpipe.tools.simulate import SimulateTool

    config = {
        "ToySimulationSource": {"mode": "mc", "seed": seed, "obs_id": seed},
        "ShowerGenerator": {
            "particle": particle,
            "spectral_index": 1.5,
            "energy_min": "1 TeV" if particle == "gamma" else "2 TeV",
            "energy_max": "30 TeV" if particle == "gamma" else "60 TeV",
            "max_scatter_radius": "250 m",
            "viewcone": "3 deg" if particle == "gamma" else "4 deg",
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
    assert (
        run_tool(DL1StereoTool(), argv=[f"--input={dl1}", f"--output={stereo}", "--keep-mono"]) == 0
    )
    r1.unlink()
    return stereo


@pytest.fixture(scope="session")
def reco_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reco")


@pytest.fixture(scope="session")
def gamma_train(reco_dir) -> Path:
    return _simulate(reco_dir, "gamma_train", "gamma", 900, 31)


@pytest.fixture(scope="session")
def proton_train(reco_dir) -> Path:
    return _simulate(reco_dir, "proton_train", "proton", 700, 32)


@pytest.fixture(scope="session")
def gamma_test(reco_dir) -> Path:
    return _simulate(reco_dir, "gamma_test", "gamma", 700, 33)


@pytest.fixture(scope="session")
def proton_test(reco_dir) -> Path:
    return _simulate(reco_dir, "proton_test", "proton", 500, 34)


@pytest.fixture(scope="session")
def stereo_models(reco_dir, gamma_train, proton_train) -> Path:
    from iactpipe.tools.train import TrainTool

    out = reco_dir / "models_stereo"
    argv = [
        f"--gammas={gamma_train}",
        f"--protons={proton_train}",
        f"--output={out}",
        "--stereo",
        *SMALL_FORESTS,
    ]
    assert run_tool(TrainTool(), argv=argv) == 0
    return out


@pytest.fixture(scope="session")
def mono_models(reco_dir, gamma_train, proton_train) -> Path:
    from iactpipe.tools.train import TrainTool

    out = reco_dir / "models_mono"  # per telescope: keeps the model_key option tested
    argv = [
        f"--gammas={gamma_train}",
        f"--protons={proton_train}",
        f"--output={out}",
        "--model-key=telescope",
        *SMALL_FORESTS,
    ]
    assert run_tool(TrainTool(), argv=argv) == 0
    return out


@pytest.fixture(scope="session")
def stereo_dl2(reco_dir, stereo_models, gamma_test) -> Path:
    from iactpipe.tools.dl1_dl2 import DL1DL2Tool

    out = reco_dir / "gamma_test.stereo.dl2.h5"
    argv = [
        f"--input={gamma_test}",
        f"--models={stereo_models}",
        f"--output={out}",
        "--chunk-size=200",
    ]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    return out


@pytest.fixture(scope="session")
def mono_dl2(reco_dir, mono_models, gamma_test) -> Path:
    from iactpipe.tools.dl1_dl2 import DL1DL2Tool

    out = reco_dir / "gamma_test.mono.dl2.h5"
    argv = [f"--input={gamma_test}", f"--models={mono_models}", f"--output={out}"]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    return out
