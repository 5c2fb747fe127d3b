"""The waveform-level MC tuning (`NSBWaveformModifier`): against the simulator, and in
both engines of iactpipe-r0-dl1."""

import numpy as np
import pytest
import tables
from ctapipe.core import run_tool

from iactpipe.calib.pixel_charges import histogram_std
from iactpipe.instrument import sst1m_subarray
from iactpipe.io.dataformat import DL1_FINGERPRINT_ATTRIBUTE, DL1_PIXEL_CHARGES_GROUP
from iactpipe.simulation.camera import CameraResponse
from iactpipe.simulation.nsb_modifier import NSBWaveformModifier, gain_drop_noise
from iactpipe.simulation.tuning import PedestalModel, median_pixel_std
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool

SUBARRAY = sst1m_subarray(tel_ids=(1, 2))
N_EVENTS = 30


def _camera(rate_mhz):
    camera = SUBARRAY.tel[1].camera
    return CameraResponse(
        camera.readout,
        camera.geometry.n_pixels,
        nsb_condition="moon",
        nsb_rate_moon_mhz=rate_mhz,
        nsb_pixel_spread=0.0,
    )


@pytest.mark.parametrize("moon_mhz", [250.0, 500.0])
def test_moonlit_pedestals_match_the_simulator(moon_mhz):
    """
    Pedestals simulated at 40 MHz + the rest added by the modifier have the pedestal
    charge spread (LocalPeakWindowSum 7/3, median pixel std) of pedestals simulated at
    the moon level, and its mean.
    """
    readout = SUBARRAY.tel[1].camera.readout
    dark = PedestalModel(_camera(40.0), readout, n_events=N_EVENTS, seed=1)
    moon = PedestalModel(_camera(moon_mhz), readout, n_events=N_EVENTS, seed=2)
    tuned, direct = dark.charges(moon_mhz - 40.0, 1.0), moon.charges(0.0, 1.0)
    # 30 events x 1296 pixels: the median pixel std is known to about 0.5 %
    assert median_pixel_std(tuned) == pytest.approx(median_pixel_std(direct), rel=0.02)
    assert np.mean(tuned) == pytest.approx(np.mean(direct), abs=0.05 * np.std(direct))
    assert median_pixel_std(direct) > 1.8 * median_pixel_std(dark.charges(0.0, 1.0))


def test_reproducible_and_efficiency():
    modifier = NSBWaveformModifier(SUBARRAY, enabled=True, extra_nsb_rate_mhz=100.0, seed=3)
    wave = np.ones((1296, 50), dtype=np.float32)
    a, b = modifier.modify(wave, 1, 1, 7), modifier.modify(wave, 1, 1, 7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, modifier.modify(wave, 1, 1, 8))
    scaled = NSBWaveformModifier(SUBARRAY, enabled=True, efficiency_factor=0.9)
    # no extra NSB: the factor, and noise that restores the electronic noise the factor took
    out = scaled.modify(wave, 2, 1, 1)
    assert np.mean(out) == pytest.approx(0.9, abs=0.01)
    noise = scaled.camera_model.electronic_noise_adc / scaled.camera_model.gain_adc_per_pe
    expected = gain_drop_noise(noise * scaled.camera_model.r1_scale, 40.0, 0.0, 0.9, 2000.0)
    assert np.std(out) == pytest.approx(expected, rel=0.03)
    assert expected > 0
    # observed data: not modified (the tuning only recorded), unless forced
    assert not NSBWaveformModifier(SUBARRAY, is_simulation=False, enabled=True).active
    forced = NSBWaveformModifier(
        SUBARRAY, is_simulation=False, enabled=True, modify_observed_data=True
    )
    assert forced.active


@pytest.fixture(scope="module")
def mc_file(tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("nsb_modifier")
    path = tmp / "gamma.r1.h5"
    config = request.config.rootpath / "data_configs" / "simulate_mc_gamma.yaml"
    argv = [f"--config={config}", "-n", "60", "--ShowerGenerator.max_scatter_radius=150 m"]
    assert run_tool(SimulateTool(), [*argv, f"--output={path}"], cwd=tmp) == 0
    return path


def _read(path):
    with tables.open_file(path) as h5:
        parameters = h5.root.dl1.event.telescope.parameters.tel_001.read()
        charges = h5.get_node(f"{DL1_PIXEL_CHARGES_GROUP}/tel_001").read()
        return parameters, charges, h5.root._v_attrs[DL1_FINGERPRINT_ATTRIBUTE]


def test_both_engines_tuned_alike(mc_file, tmp_path):
    tuning = [
        "--NSBWaveformModifier.enabled=True",
        "--NSBWaveformModifier.extra_nsb_rate_mhz=210",
        "--NSBWaveformModifier.efficiency_factor=0.95",
    ]
    outputs = {}
    for name, argv in {
        "dark": ["--engine=batch"],
        "ctapipe": ["--engine=ctapipe", *tuning],
        "batch": ["--engine=batch", *tuning],
    }.items():
        out = tmp_path / f"{name}.dl1.h5"
        argv = [f"--input={mc_file}", f"--output={out}", *argv]
        assert run_tool(R0DL1Tool(), argv, cwd=tmp_path) == 0
        outputs[name] = _read(out)
    dark, ctapipe, batch = outputs["dark"], outputs["ctapipe"], outputs["batch"]
    assert len(ctapipe[0]) > 3
    for name in ("hillas_intensity", "hillas_width", "morphology_n_pixels"):
        np.testing.assert_allclose(ctapipe[0][name], batch[0][name], rtol=1e-4, err_msg=name)
    np.testing.assert_array_equal(ctapipe[1]["all_counts"], batch[1]["all_counts"])
    # the tuning is in the DL1 fingerprint; the extra NSB widens the charge distribution
    assert ctapipe[2] == batch[2] != dark[2]
    std = [
        histogram_std(c["charge_low"], c["charge_high"], c["all_counts"])
        for c in (dark[1], batch[1])
    ]
    # the histogram holds every pixel, shower light included: since the toy's shower model
    # was tuned to CORSIKA (issue 19) its gamma images are 2-4 times brighter and the
    # signal pixels weigh more in the spread, so the extra NSB widens it by 1.16 on this
    # file (seed fixed), no longer by more than 1.2
    assert std[1] > 1.1 * std[0]
