"""iactpipe-tune-mc on small DL1 files written here (subarray + pedestal statistics)."""

import copy
import json

import numpy as np
import pytest
import yaml
from astropy.table import Table
from ctapipe.core import run_tool
from ctapipe.instrument import CameraDescription, SubarrayDescription, TelescopeDescription
from ctapipe.io import write_table
from traitlets.config import Config

from iactpipe.calib.pixel_charges import PixelChargeHistograms
from iactpipe.instrument import sst1m_subarray
from iactpipe.io.dataformat import DL1_SKY_PEDESTAL_IMAGE_GROUP, tel_node
from iactpipe.simulation.camera import CameraResponse
from iactpipe.simulation.tuning import (
    PedestalModel,
    PedestalTuner,
    median_pixel_std,
    pde_factor,
    read_pde_corrections,
    solve_extra_rate,
)
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.tune_mc import TuneMCTool

PDE = {
    "mc_correction_for_PDE": {
        "tel_001": {"qe_TEL1_NSB136.0": 0.966, "qe_TEL1_NSB251.0": 0.939},
        "tel_002": {"qe_TEL2_NSB177.0": 0.989, "qe_TEL2_NSB300.0": 0.982},
    }
}
SST1M = sst1m_subarray(tel_ids=(1, 2))
#: a small grid: fast, the answer to about 5 %
FAST = ["--n-toy-events=10", "--PedestalTuner.n_rates=6", "--max-extra=600"]


def _dl1(path, subarray, std_pe, from_showers=False, n_rows=3):
    subarray.to_hdf(path, overwrite=True)
    rng = np.random.default_rng(1)
    for tel_id in subarray.tel_ids:
        n_pix = subarray.tel[tel_id].camera.geometry.n_pixels
        std = (std_pe * (1 + 0.05 * rng.standard_normal((n_rows, n_pix)))).astype(np.float32)
        table = Table({"std": std, "from_shower_events": np.full(n_rows, from_showers)})
        write_table(table, path, tel_node(DL1_SKY_PEDESTAL_IMAGE_GROUP, tel_id), append=True)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tune_mc")
    data_subarray = sst1m_subarray(tel_ids=(21, 22))
    mc_subarray = sst1m_subarray(tel_ids=(1, 2))
    tel = mc_subarray.tel[1]
    geometry, readout = copy.deepcopy(tel.camera.geometry), copy.deepcopy(tel.camera.readout)
    geometry.name = readout.name = "OtherCam"
    camera = CameraDescription("OtherCam", geometry, readout)
    other = SubarrayDescription(
        "other",
        mc_subarray.positions,
        {i: TelescopeDescription("OTHER", tel.optics, camera) for i in (1, 2)},
        mc_subarray.reference_location,
    )
    pde = tmp / "pde.json"
    pde.write_text(json.dumps(PDE))
    return {
        "tmp": tmp,
        "data": _dl1(tmp / "moon.dl1.h5", data_subarray, 2.0),
        "no_pedestals": _dl1(tmp / "nopeds.dl1.h5", data_subarray, 2.0, from_showers=True),
        "too_noisy": _dl1(tmp / "noisy.dl1.h5", data_subarray, 40.0),
        "mc": _dl1(tmp / "mc.dl1.h5", mc_subarray, 1.0, from_showers=True),
        "other_camera": _dl1(tmp / "other.dl1.h5", other, 1.0, from_showers=True),
        "pde": pde,
    }


def test_tuned_config(files, tmp_path):
    out = tmp_path / "tuned" / "moon.yaml"
    argv = [f"--data={files['data']}", f"--mc={files['mc']}", f"--output={out}"]
    argv += [f"--pde-corrections={files['pde']}", *FAST]
    assert run_tool(TuneMCTool(), argv, cwd=tmp_path, raises=True) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert out.with_suffix(".png").stat().st_size > 1000
    for tel in summary["telescopes"]:
        # a 2.0 p.e. spread from 1.0 p.e. at 40 MHz: about 150-200 MHz more (the
        # simulator gives 1.95 p.e. at 250 MHz), matched by the model's curve
        assert 100 < tel["extra_nsb_rate_mhz"] < 260
        assert tel["tuned_pedestal_std_pe"] == pytest.approx(2.0, rel=0.05)
        assert tel["efficiency_factor"] in (0.939, 0.966, 0.989, 0.982)
    # the written config is one iactpipe-r0-dl1 reads
    config = yaml.safe_load(out.read_text())
    tool = R0DL1Tool(config=Config(config))
    modifier = tool.config.NSBWaveformModifier
    assert modifier.enabled and [row[1] for row in modifier.extra_nsb_rate_mhz] == [1, 2]


@pytest.mark.parametrize(
    ("data", "mc", "message"),
    [
        ("no_pedestals", "mc", "no pedestal-event statistics"),
        ("data", "other_camera", "MC of another camera"),
        ("too_noisy", "mc", "data noisier than the MC can be tuned to"),
    ],
)
def test_bad_input(files, tmp_path, capsys, data, mc, message):
    out = tmp_path / "out" / "t.yaml"
    argv = [f"--data={files[data]}", f"--mc={files[mc]}", f"--output={out}", *FAST]
    assert run_tool(TuneMCTool(), argv, cwd=tmp_path, raises=False) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "out").exists()


def test_pde_file_and_solver():
    levels = read_pde_corrections(PDE)
    assert pde_factor(levels[1], 150.0) == 0.966 and pde_factor(levels[1], 400.0) == 0.939
    with pytest.raises(ValueError, match="mc_correction_for_PDE"):
        read_pde_corrections({"other": {}})
    rates, stds = np.array([0.0, 100.0, 200.0]), np.array([1.0, 1.5, 2.0])
    assert solve_extra_rate(rates, stds, 1.75) == pytest.approx(150.0)
    assert solve_extra_rate(rates, stds, 0.9) == 0.0
    with pytest.raises(ValueError, match="above"):
        solve_extra_rate(rates, stds, 2.5)


def test_help_all():
    assert run_tool(TuneMCTool(), ["--help-all"], raises=False) == 0


@pytest.mark.parametrize("true_noise", [1.5, 0.0])
def test_extra_noise_fit_recovers_truth(true_noise):
    """
    Toy data: pedestals of the 40 MHz camera + 210 MHz NSB + ``true_noise`` extra
    electronic noise per sample (other random numbers than the tuner's toys). The tuner
    matches the spread with NSB and the skewness of the pedestal charge histogram with
    the extra noise. 20 events x 1296 pixels: skewness error 0.015 per sample, 0.02 on a
    difference; the skewness falls by about 0.15 per unit of noise near 1.5, so the
    noise is known to about 0.15 (tolerance 0.5, with the grid's linear interpolation);
    the rate then to about 5 % (tolerance 15 %). Without extra noise the data's
    skewness is that of NSB alone (within 3 errors) and no noise is fitted.
    """
    camera = SST1M.tel[1].camera

    def camera_model():
        return CameraResponse(
            camera.readout,
            camera.geometry.n_pixels,
            nsb_condition="moon",
            nsb_rate_moon_mhz=40.0,
            nsb_pixel_spread=0.0,
        )

    data = PedestalModel(camera_model(), camera.readout, n_events=20, seed=11).charges(
        210.0, 1.0, true_noise
    )
    histograms = PixelChargeHistograms()
    for image in data:
        histograms.add(1, image, is_pedestal=True)
    tuner = PedestalTuner(
        n_toy_events=20, n_rates=6, max_extra_nsb_rate_mhz=500, n_noises=4, max_extra_noise_pe=3
    )
    model = tuner.model(camera_model(), camera.readout, seed=1)
    result, _ = tuner.tune(model, median_pixel_std(data), histograms.to_tables()[1])
    assert result.extra_noise_pe == pytest.approx(true_noise, abs=0.5)
    assert result.extra_nsb_rate_mhz == pytest.approx(210.0, rel=0.15)
    assert result.tuned_std_pe == pytest.approx(result.data_std_pe, rel=0.03)
    if true_noise > 0:
        # NSB alone would leave the charges too skewed: the second parameter is needed
        assert result.nsb_only_skewness > result.data_skewness + 0.06
