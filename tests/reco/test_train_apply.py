"""iactpipe-train and iactpipe-dl1-dl2 on small simulated sets: outputs, physics, guards."""

import json
import shutil

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.core import run_tool
from ctapipe.io import TableLoader

from iactpipe.io import FINGERPRINT_ATTRIBUTE, InputFileError, read_provenance
from iactpipe.reco.apply import DL2Reconstructor
from iactpipe.reco.evaluation import dl2_performance
from iactpipe.reco.model_files import MODEL_FILES, load_model
from iactpipe.reco.tables import DL1EventFile
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.version import __version__

BINS = np.array([1, 5, 50]) * u.TeV  # two wide bins: enough events in each


def test_model_files_record_provenance(stereo_models, gamma_train):
    fingerprint = read_provenance(gamma_train)[FINGERPRINT_ATTRIBUTE]
    for kind, name in MODEL_FILES.items():
        model = load_model(stereo_models / name)
        meta = model.metadata
        assert meta["kind"] == kind and meta["iactpipe_version"] == __version__
        assert meta["dl1_fingerprint"] == fingerprint and meta["dl1_config"]
        assert "HillasReconstructor_h_max" in meta["features"] and meta["stereo"]
        assert {f["role"] for f in meta["training_files"]} == {"gamma", "proton"}
        assert meta["keys"] == ["SST_1M_DigiCam"]  # one model per type (default)
    with tables.open_file(stereo_models / "cv_report.h5") as h5:
        assert "/report/energy" in h5 and "/report/roc" in h5 and "/report/importances" in h5
    assert (stereo_models / "cv_report.png").stat().st_size > 0


def test_data_telescope_ids_map_onto_simulation_models(stereo_models, mono_models):
    model = load_model(mono_models / MODEL_FILES["energy"])  # per telescope
    assert sorted(model.keys) == ["tel_001", "tel_002"]
    assert model.key(21) == model.key(1) == "tel_001" and model.key(22) == "tel_002"
    model = load_model(stereo_models / MODEL_FILES["energy"])  # per type
    assert model.key(21) == model.key(2) == "SST_1M_DigiCam"


def test_dl2_in_ctapipe_layout(stereo_dl2):
    with TableLoader(stereo_dl2) as loader:
        events = loader.read_subarray_events(dl2=True, simulated=True)
        tel = loader.read_telescope_events_by_id(dl2=True)
    for column in (
        "EnergyModel_energy",
        "ParticleModel_prediction",
        "disp_alt",
        "disp_az",
        "disp_disp_distance",
        "EnergyModel_log_energy_std",
        "ParticleModel_prediction_std",
    ):
        assert column in events.colnames
    for t in tel.values():
        assert {"EnergyModel_tel_energy", "disp_tel_alt", "ParticleModel_tel_prediction"} <= set(
            t.colnames
        )
    with tables.open_file(stereo_dl2) as h5:
        assert "/dl2/event/telescope/energy/EnergyModel/tel_001" in h5
        assert "/dl2/event/subarray/geometry/disp" in h5


def test_resolution_improves_with_energy_and_stereo_beats_mono(stereo_dl2):
    perf = dl2_performance(stereo_dl2, "EnergyModel", "disp", BINS)
    stereo, mono = perf["stereo"], perf["mono"]
    r68 = stereo["angular_resolution"].to_value(u.deg)
    mono_r68 = mono["angular_resolution"].to_value(u.deg)
    # tolerance 10 % for the small samples (about 100 events per bin)
    assert r68[1] < 1.1 * r68[0], r68
    assert mono_r68[1] < 1.1 * mono_r68[0], mono_r68
    assert np.all(r68 < 1.1 * mono_r68), (r68, mono_r68)
    assert np.all(stereo["energy_resolution"] < 1.1 * mono["energy_resolution"])


def test_sign_resolution_beats_plain_mean(stereo_models, gamma_test, tmp_path, stereo_dl2):
    plain = tmp_path / "plain.h5"
    argv = [
        f"--input={gamma_test}",
        f"--models={stereo_models}",
        f"--output={plain}",
        "--no-resolve-sign",
    ]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    resolved = dl2_performance(stereo_dl2, "EnergyModel", "disp", BINS[[0, -1]])["stereo"]
    mean = dl2_performance(plain, "EnergyModel", "disp", BINS[[0, -1]])["stereo"]
    assert resolved["angular_resolution"][0] < mean["angular_resolution"][0]


@pytest.mark.parametrize("weights", ["none", "aspect_weighted_intensity"])
def test_weights_options(stereo_models, gamma_test, tmp_path, weights):
    out = tmp_path / "w.h5"
    argv = [
        f"--input={gamma_test}",
        f"--models={stereo_models}",
        f"--output={out}",
        f"--weights={weights}",
    ]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0


def _with_other_cleaning(path, tmp_path):
    copy = tmp_path / "other_cleaning.h5"
    shutil.copyfile(path, copy)
    with tables.open_file(copy, mode="a") as h5:
        config = json.loads(h5.root._v_attrs["IACTPIPE_DL1_CONFIG"])
        config.setdefault("SSTImageCleaner", {})["picture_threshold_pe"] = [["type", "*", 12.0]]
        h5.root._v_attrs["IACTPIPE_DL1_CONFIG"] = json.dumps(config)
        h5.root._v_attrs[FINGERPRINT_ATTRIBUTE] = "0" * 64
    return copy


def test_config_mismatch_stops_and_names_the_setting(stereo_models, gamma_test, tmp_path, capsys):
    other = _with_other_cleaning(gamma_test, tmp_path)
    out = tmp_path / "mismatch.h5"
    argv = [f"--input={other}", f"--models={stereo_models}", f"--output={out}"]
    assert run_tool(DL1DL2Tool(), argv=argv, raises=False) == 2
    assert "picture_threshold_pe" in capsys.readouterr().err
    assert not out.exists()
    assert run_tool(DL1DL2Tool(), argv=[*argv, "--allow-config-mismatch"]) == 0
    assert out.exists()


def test_stereo_models_on_mono_file_is_a_clear_error(stereo_models, gamma_test, tmp_path, capsys):
    mono_dl1 = gamma_test.with_name("gamma_test.dl1.h5")  # before iactpipe-dl1-stereo
    out = tmp_path / "x.h5"
    argv = [
        f"--input={mono_dl1}",
        f"--models={stereo_models}",
        f"--output={out}",
        "--allow-config-mismatch",
    ]
    assert run_tool(DL1DL2Tool(), argv=argv, raises=False) == 2
    assert "HillasReconstructor_h_max" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".x.h5*"))


def test_models_for_another_telescope(mono_models, gamma_test):
    models = {k: load_model(mono_models / n) for k, n in MODEL_FILES.items()}
    for model in models.values():
        model.keys.remove("tel_002")
    with DL1EventFile(gamma_test) as f, pytest.raises(InputFileError, match="telescope 2"):
        DL2Reconstructor(models).check(f)


def test_mono_models_apply(mono_dl2):
    perf = dl2_performance(mono_dl2, "EnergyModel", "disp", BINS, stereo_only=False)
    assert np.all(np.isfinite(perf["stereo"]["angular_resolution"]))
