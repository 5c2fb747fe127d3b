"""Simulated DigiCam raw zfits: round trip to R1, the tool's output, corrupted files.

A short observation run of the toy simulator is written as DigiCam zfits (telescope 21)
and read back by `SST1MEventSource`. The simulator's R1 is its ideal calibration of the
R0 it drew (true baseline with the NSB shift, true gain with the voltage drop), so:

- R0 comes back exactly (integer ADC), the stored baseline within 1/32 ADC (it is
  stored in 1/16 ADC);
- R1 recomputed from what the file holds equals the simulator's R1 within that
  quantisation: 1/32 ADC is 0.00036 in R1 units (one ADC is 0.0115);
- R1 from the DigiCam calibration of the chain (`R0R1Calibrator`, given the simulated
  camera's constant) equals it within the same quantisation and the 0.2 % of its
  voltage-drop gain estimate (from the median baseline shift instead of the true rate).
"""

import re

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.core import run_tool
from traitlets.config import Config

from iactpipe.calib.r0r1 import pulse_area_ns
from iactpipe.io.digicam import SST1MEventSource
from iactpipe.io.zfits_writer import DigiCamZFitsWriter, raw_event
from iactpipe.simulation import ToySimulationSource
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import TRUTH_GROUP, SimulateTool

TEL_ID = 21
RUN_CONFIG = {
    "ToySimulationSource": {"mode": "observation", "seed": 3, "obs_id": 7},
    "ObservationRun": {
        "duration": 0.15 * u.s,
        "source_flux_scale": 20000.0,
        "proton_flux_scale": 0.02,
        "gamma_energy_min": 2 * u.TeV,
    },
}


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    """Telescope 21 of a 0.15 s run: zfits chunks of 20 events in tiles of 5, and the
    simulator's R1."""
    config = Config(RUN_CONFIG)
    config.ToySimulationSource.write_r0 = True
    source = ToySimulationSource(config=config)
    stem = tmp_path_factory.mktemp("raw") / "run0007_tel021"
    truth = {"r0": [], "r1": [], "baseline": [], "time": []}
    header = {"OBS_ID": 7}
    with DigiCamZFitsWriter(stem, TEL_ID, 20, header, rows_per_tile=5) as writer:
        for event in source:
            if TEL_ID not in event.trigger.tels_with_trigger:
                continue
            baseline = source.pixel_baselines_adc(TEL_ID)
            writer.write(raw_event(event, TEL_ID, baseline))
            truth["r0"].append(event.r0.tel[TEL_ID].waveform[0])
            truth["r1"].append(event.r1.tel[TEL_ID].waveform[0])
            truth["baseline"].append(baseline)
            truth["time"].append(event.trigger.tel[TEL_ID].time)
    return writer.paths, {k: v if k == "time" else np.array(v) for k, v in truth.items()}, source


def _read(path, **config):
    with SST1MEventSource(path, config=Config({"R0R1Calibrator": config})) as source:
        return list(source)


def test_round_trip_r0_exact_r1_within_quantisation(simulated_run):
    paths, truth, source = simulated_run
    assert len(paths) >= 2  # chunks .000, .001, ... read as one run
    events = _read(paths[0])
    assert len(events) == len(truth["r0"]) > 20
    r0 = np.array([e.r0.tel[TEL_ID].waveform[0] for e in events])
    baseline = np.array([e.r0.tel[TEL_ID].baseline for e in events])
    np.testing.assert_array_equal(r0, truth["r0"])
    np.testing.assert_allclose(baseline, truth["baseline"], atol=1 / 32 + 1e-9)
    for event, time in zip(events, truth["time"], strict=True):
        assert abs((event.trigger.time - time).to_value(u.ns)) < 1.0
        assert event.index.obs_id == 7

    camera = source.camera
    r1_per_adc = camera.r1_scale / (camera.gain_adc_per_pe * camera.gain_factor)
    r1 = (r0 - baseline[:, :, np.newaxis]) * r1_per_adc
    quantisation = 1 / 32 * r1_per_adc
    assert np.abs(r1 - truth["r1"]).max() <= quantisation + 1e-4  # + float32 rounding

    # the chain's DigiCam calibration, given the simulated camera's constant
    area = pulse_area_ns(source.subarray.tel[TEL_ID].camera.readout) / camera.sample_ns
    calibrated = _read(
        paths[0],
        dc_to_pe=camera.gain_adc_per_pe / (camera.r1_scale * area),
        dark_baseline_adc=camera.baseline_adc,
        voltage_drop_scale_mhz=camera.voltage_drop_scale_mhz,
    )
    r1_chain = np.array([e.r1.tel[TEL_ID].waveform[0] for e in calibrated])
    np.testing.assert_allclose(r1_chain, truth["r1"], rtol=0.002, atol=quantisation + 1e-4)


def test_tool_writes_zfits_runs_and_truth_sidecar(tmp_path):
    """Both telescopes' runs as zfits, every event's truth in the side-car."""
    config = tmp_path / "run.yaml"
    config.write_text(
        "ObservationRun: {source_flux_scale: 20000.0, proton_flux_scale: 0.02,"
        " gamma_energy_min: 2 TeV}\n"
    )
    argv = [
        f"--config={config}",
        "--mode=observation",
        "--duration=0.05 s",
        "--obs-id=1001",
        "--format=zfits",
        f"--output={tmp_path / 'run1001.fits.fz'}",
    ]
    assert run_tool(SimulateTool(), argv=argv, cwd=tmp_path) == 0
    for tel_id in (21, 22):
        chunk = tmp_path / f"run1001_tel{tel_id:03d}.000.fits.fz"
        events = _read(chunk)
        assert {e.index.obs_id for e in events} == {1001}
        assert {e.trigger.tels_with_trigger[0] for e in events} == {tel_id}
        with tables.open_file(tmp_path / f"run1001_tel{tel_id:03d}.truth.h5") as h5:
            table = h5.get_node(f"{TRUTH_GROUP}/tel_{tel_id:03d}").read()
        np.testing.assert_array_equal(table["event_id"], [e.index.event_id for e in events])
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_corrupted_zfits_fails_cleanly(simulated_run, tmp_path, capsys, damage):
    """One ERROR line naming the file (and the lost events), exit 2, no output."""
    data = bytearray(simulated_run[0][0].read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:  # bytes of a compressed tile in the middle of the heap
        middle = len(data) // 2
        data[middle : middle + 16] = bytes(255 - b for b in data[middle : middle + 16])
    bad = tmp_path / "bad.fits.fz"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.h5"
    argv = [f"--input={bad}", f"--output={out}"]
    assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp_path, raises=False) == 2
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert str(bad) in errors[0]
    if damage == "truncated":  # the complete tiles of 5 events are named
        assert re.search(r"events (6|11|16) to 20 \(of 20\) are missing", errors[0]), errors
    else:
        assert "DATASUM" in errors[0]
