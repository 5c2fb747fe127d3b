"""
Session fixtures: short simulated observation runs, one clean and one per fault, taken
to DL1 with ``iactpipe-r0-dl1`` (data config), both telescopes.

Scaling (the toy simulator costs about 2 s CPU per second of observation with protons
above 1.5 TeV): runs last 8 s instead of 20-30 min and the rates are monitored in 1 s
bins instead of 10-60 s. The cloud passage covers 3 s of the 8 s run (3/8 of it, as a
7-minute cloud in a 20-minute run), with a transmission of 0.4. Raised NSB: the moon
condition, 250 MHz per pixel instead of 40 MHz. Dead pixels: a pixel and its six
neighbours (a group of 7) without signal or noise.
"""

from pathlib import Path

import pytest
import yaml
from ctapipe.core import run_tool

REPO = Path(__file__).parents[2]
DURATION = "8 s"
CLOUD = [3.0, 6.0, 0.4]
DEAD_CENTRE = 700

RUNS = {
    # name: (obs_id, seed, extra config)
    "clean": (3001, 21, {}),
    "clean2": (3002, 22, {}),
    "cloud": (3003, 23, {"ObservationRun": {"cloud_passages": [CLOUD]}}),
    "nsb": (3004, 24, {"CameraResponse": {"nsb_condition": "moon"}}),
    "dead": (3005, 25, {"CameraResponse": {"dead_pixels": "DEAD"}}),
}


def dead_pixel_group() -> list[int]:
    """The injected dead pixels: ``DEAD_CENTRE`` and its neighbours."""
    from iactpipe.instrument import sst1m_subarray

    geometry = sst1m_subarray(tel_ids=(21, 22)).tel[21].camera.geometry
    return sorted([DEAD_CENTRE, *map(int, geometry.neighbors[DEAD_CENTRE])])


def _config(obs_id: int, extra: dict) -> dict:
    config = {
        "ToySimulationSource": {
            "mode": "observation",
            "obs_id": obs_id,
            "pedestal_rate": "10 Hz",
            "dead_time": "20 us",
        },
        "ObservationRun": {
            "start_time": f"2024-01-10T22:{obs_id % 100:02d}:00",
            "proton_energy_min": "1.5 TeV",
        },
        "CameraResponse": {"nsb_condition": "dark"},
    }
    for section, values in extra.items():
        values = {k: (dead_pixel_group() if v == "DEAD" else v) for k, v in values.items()}
        config.setdefault(section, {}).update(values)
    return config


def simulate_dl1(tmp: Path, name: str) -> dict[int, Path]:
    """Simulate run ``name`` of `RUNS` and take both telescopes to DL1."""
    from iactpipe.tools.r0_dl1 import R0DL1Tool
    from iactpipe.tools.simulate import SimulateTool

    obs_id, seed, extra = RUNS[name]
    config_path = tmp / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(_config(obs_id, extra)))
    argv = [
        f"--config={config_path}",
        "-o",
        str(tmp / f"{name}.r1.h5"),
        "--split",
        "--duration",
        DURATION,
        "--seed",
        str(seed),
    ]
    assert run_tool(SimulateTool(), argv=argv, cwd=tmp) == 0
    dl1 = {}
    for tel_id in (21, 22):
        dl1[tel_id] = tmp / f"{name}_tel{tel_id:03d}.dl1.h5"
        r1 = tmp / f"{name}.r1_tel{tel_id:03d}.h5"
        argv = [
            f"--config={REPO / 'data_configs' / 'r0_dl1_data.yaml'}",
            f"--input={r1}",
            f"--output={dl1[tel_id]}",
        ]
        assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp) == 0
        r1.unlink()  # R1 is large and not needed
    return dl1


@pytest.fixture(scope="session")
def dqm_runs(tmp_path_factory) -> dict[str, dict[int, Path]]:
    """DL1 files of the clean and faulty runs: name -> {tel_id: path}."""
    tmp = tmp_path_factory.mktemp("dqm_runs")
    return {name: simulate_dl1(tmp, name) for name in RUNS}
