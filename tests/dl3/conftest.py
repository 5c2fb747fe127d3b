"""Session fixtures for the DL3 tests: a small MC production at the observation's
pointing -> models -> IRF library, and a short simulated observation run -> DL2.

Statistics (stated for the tests): MC at zenith 27.5 deg, azimuth 180 deg (the Crab's
culmination at Ondřejov, where the run is taken): 600 point gammas at the 0.4 deg wobble
offset, 400 diffuse gammas, 600 diffuse protons (1-100 TeV gammas, 2-60 TeV protons,
spectral index 1.5, 300 m scatter radius). Observation: 4 s starting at
2024-01-10T21:16:55 UTC, source at 2000 times the MAGIC Crab (gammas >= 1 TeV, 300 m),
protons at 0.3 times the reference flux, 1 ms dead time per telescope trigger so that
the dead-time correction is large enough to test (about 7 %).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/chain_fixtures.py
from chain_fixtures import (
    Production,
    apply_models,
    crab_fit_chain,
    make_irf_library,
    simulate_mc_stereo_dl1,
    simulate_observation_stereo_dl1,
    train_models,
)

ZENITH, AZIMUTH = "27.5 deg", "180 deg"
PRODUCTIONS = {
    "gamma_point": Production("gamma", 600, 61, "1 TeV", "100 TeV", "300 m",
                              source_offset="0.4 deg", zenith=ZENITH, azimuth=AZIMUTH),
    "gamma_diffuse": Production("gamma", 400, 62, "1 TeV", "100 TeV", "300 m",
                                viewcone="2.5 deg", zenith=ZENITH, azimuth=AZIMUTH),
    "proton": Production("proton", 600, 63, "2 TeV", "60 TeV", "300 m", viewcone="3.5 deg",
                         zenith=ZENITH, azimuth=AZIMUTH),
}  # fmt: skip
DEAD_TIME_S = 1e-3
OBSERVATION = {
    "ToySimulationSource": {"dead_time": "1 ms"},
    "ObservationRun": {"start_time": "2024-01-10T21:16:55", "source_flux_scale": 2000.0,
                       "proton_flux_scale": 0.3, "gamma_energy_min": "1 TeV",
                       "gamma_scatter_radius": "300 m"},
}  # fmt: skip
OBS_ID = 1001


@pytest.fixture(scope="session")
def dl3_chain(tmp_path_factory) -> dict[str, Path]:
    """``{"library", "models", "observation_dl1", "observation_dl2", "run_tel021", ...}``."""
    tmp = tmp_path_factory.mktemp("dl3_chain")
    dl1 = {name: simulate_mc_stereo_dl1(tmp, name, p) for name, p in PRODUCTIONS.items()}
    models = train_models(tmp, dl1["gamma_diffuse"], dl1["proton"])
    dl2 = {name: apply_models(path, models) for name, path in dl1.items()}
    library = make_irf_library(tmp / "irfs", dl2, "--gamma-efficiency", "0.7")
    obs = simulate_observation_stereo_dl1(tmp, "run", 7, OBS_ID, "4 s", OBSERVATION)
    return {"library": library, "models": models, "observation_dl1": obs,
            "observation_dl2": apply_models(obs, models),
            "run_tel021": tmp / "run_tel021.h5", "run_tel022": tmp / "run_tel022.h5"}  # fmt: skip


CRAB_FIT_FLUX_SCALE = 20000.0


@pytest.fixture(scope="session")
def crab_fit_dl3(dl3_chain, tmp_path_factory) -> Path:
    """DL3 directory of the spectral-fit run (statistics in tests/dl3/test_crab_fit.py)."""
    tmp = tmp_path_factory.mktemp("crab_fit")
    chain = dl3_chain["library"].parent
    dl2 = {name: chain / f"{name}.dl2.h5" for name in ("gamma_diffuse", "proton")}
    point = Production("gamma", 2500, 81, "2 TeV", "100 TeV", "300 m", source_offset="0.4 deg",
                       zenith=ZENITH, azimuth=AZIMUTH, spectral_index=2.0)  # fmt: skip
    observation = {
        "ObservationRun": {"start_time": "2024-01-10T21:16:55",
                           "source_flux_scale": CRAB_FIT_FLUX_SCALE,
                           "proton_flux_scale": 0.02, "gamma_energy_min": "2 TeV",
                           "gamma_scatter_radius": "300 m"},
    }  # fmt: skip
    return crab_fit_chain(tmp, dl3_chain["models"], dl2, point, "6 s", observation, 2001, 27,
                          ("--EventCuts.theta_max=0.3 deg",))  # fmt: skip
