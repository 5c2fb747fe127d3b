"""Session fixtures: small toy-simulated MC productions and an observation run."""

import pytest
from ctapipe.core import run_tool

from iactpipe.tools.simulate import SimulateTool


def _simulate(path, *args):
    assert run_tool(SimulateTool(), ["-o", str(path), *args], cwd=path.parent) == 0
    return path


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory):
    """Directory of the simulated files."""
    return tmp_path_factory.mktemp("simulation")


@pytest.fixture(scope="session")
def gamma_file(sim_dir):
    """Point-source gammas at the camera centre, 20 deg zenith, two telescopes."""
    return _simulate(
        sim_dir / "gamma.h5",
        "--n-showers",
        "1500",
        "--seed",
        "1",
        "--ShowerGenerator.max_scatter_radius=400 m",
    )


@pytest.fixture(scope="session")
def turn_on_file(sim_dir):
    """Gammas 0.0625-2 TeV (E^-2) with cores within 120 m: the trigger turn-on. The thrown
    histogram's 40 energy bins have edges at 0.0625 x 2^(k/8) TeV, so 0.125, 0.25, 0.5 and
    1 TeV are bin edges; about 490 showers fall below 0.125 TeV. (0.25-8 TeV before the
    shower model was tuned to CORSIKA: its images are brighter and the 50 % point moved
    from 0.5-0.7 TeV to 0.18-0.25 TeV.)"""
    return _simulate(
        sim_dir / "turn_on.h5",
        "--n-showers",
        "1000",
        "--seed",
        "4",
        "--ShowerGenerator.max_scatter_radius=120 m",
        "--ShowerGenerator.energy_min=0.0625 TeV",
        "--ShowerGenerator.energy_max=2 TeV",
    )


@pytest.fixture(scope="session")
def proton_file(sim_dir):
    """Diffuse protons (5 deg view cone), two telescopes."""
    return _simulate(
        sim_dir / "proton.h5",
        "--particle",
        "proton",
        "--viewcone",
        "5 deg",
        "--n-showers",
        "1500",
        "--seed",
        "2",
        "--ShowerGenerator.energy_min=1 TeV",
        "--ShowerGenerator.max_scatter_radius=400 m",
    )


@pytest.fixture(scope="session")
def observation_files(sim_dir):
    """A one-second Crab run: one file per telescope (21, 22)."""
    _simulate(sim_dir / "run.h5", "--mode", "observation", "--duration", "1 s", "--seed", "3")
    return {21: sim_dir / "run_tel021.h5", 22: sim_dir / "run_tel022.h5"}
