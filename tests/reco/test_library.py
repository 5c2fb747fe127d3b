"""Model library: nodes per pointing, per-event choice and interpolation in cos(zenith).

The node mechanics use the session's 20 deg training set and copies of it whose fixed
pointing is rewritten (``_repoint``): the models of both nodes are then trained on the
same showers, which is what the bookkeeping tests need; the physics of the interpolation
(zenith-dependent showers) is in benchmarks/model_interpolation.py.
"""

import json
import shutil

import astropy.units as u
import numpy as np
import pytest
import tables
from astropy.table import Table
from ctapipe.core import run_tool
from ctapipe.io import read_table

from iactpipe.io import read_provenance
from iactpipe.io.dataformat import (
    DL2_MODEL_NODES_TABLE,
    DL2_SUBARRAY_CLASSIFICATION_GROUP,
    DL2_SUBARRAY_ENERGY_GROUP,
    FIXED_POINTING_GROUP,
    MODEL_LIBRARY_CONFIG_ATTRIBUTE,
    MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE,
)
from iactpipe.reco.interpolation import azimuth_groups, choose_nodes, merge_tables
from iactpipe.reco.library import MODEL_INDEX_NAME, ModelLibrary
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.train import TrainTool

TINY_FORESTS = [
    '--RecoModel.model_config={"n_estimators": 8, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 8, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
    "--stereo",
]
ENERGY = f"{DL2_SUBARRAY_ENERGY_GROUP}/EnergyModel"
CLASSIFICATION = f"{DL2_SUBARRAY_CLASSIFICATION_GROUP}/ParticleModel"
COS = np.cos(np.deg2rad([20.0, 40.0]))


def _repoint(source, target, zenith_deg):
    shutil.copyfile(source, target)
    with tables.open_file(target, "a") as h5:
        for node in h5.get_node(FIXED_POINTING_GROUP)._f_iter_nodes("Table"):
            node.modify_column(
                colname="telescope_pointing_altitude",
                column=np.full(node.nrows, np.deg2rad(90.0 - zenith_deg), node.dtype[3]),
            )
    return target


@pytest.fixture(scope="session")
def two_node_library(reco_dir, gamma_train, proton_train):
    library = reco_dir / "library"
    for zenith in (20, 40):
        g, p = gamma_train, proton_train
        if zenith != 20:
            g = _repoint(gamma_train, reco_dir / f"gamma_zd{zenith}.h5", zenith)
            p = _repoint(proton_train, reco_dir / f"proton_zd{zenith}.h5", zenith)
        argv = [f"-g={g}", f"-p={p}", f"--library={library}", "-n=400", *TINY_FORESTS]
        assert run_tool(TrainTool(), argv=argv) == 0
    return library


def test_choose_nodes_weights_are_linear_in_cos_zenith():
    zenith = np.array([30.0, 20.0, 40.0, 10.0, 50.0])
    cz = np.cos(np.deg2rad(zenith))
    choice = choose_nodes(COS, np.zeros(2), cz, np.zeros(5))
    # node 1 (40 deg) has the smaller cos: it is the lower node of an event in between
    assert choice.low[0] == 1 and choice.high[0] == 0
    expected = (COS[0] - cz[0]) / (COS[0] - COS[1])
    assert choice.weight_low[0] == pytest.approx(expected, rel=1e-12)
    weight_20 = np.where(choice.low == 0, choice.weight_low, 0) + np.where(
        choice.high == 0, 1 - choice.weight_low, 0
    )
    assert weight_20[1:] == pytest.approx([1, 0, 1, 0])
    assert list(choice.outside) == [False, False, False, True, True]
    nearest = choose_nodes(COS, np.zeros(2), cz, np.zeros(5), interpolate=False)
    assert list(nearest.low) == [0, 0, 1, 0, 1]  # 30 deg is nearer 20 deg in cos(zenith)
    assert np.all(nearest.low == nearest.high)


def test_choose_nodes_takes_the_nearest_azimuth():
    nodes_cz = np.concatenate([COS, COS])
    nodes_az = np.array([0.0, 0.0, 180.0, 180.0])
    choice = choose_nodes(
        nodes_cz, nodes_az, np.cos(np.deg2rad([30.0, 30.0])), np.array([350, 170])
    )
    assert set(choice.low[:1]) | set(choice.high[:1]) <= {0, 1}
    assert set(choice.low[1:]) | set(choice.high[1:]) <= {2, 3}


def test_declination_line_nodes_are_bracketed_on_their_side_of_the_meridian():
    # nodes along a declination line: east (az ~120) and west (az ~240), zenith 30 and 40
    nodes_cz = np.cos(np.deg2rad([30.0, 40.0, 30.0, 40.0]))
    nodes_az = np.array([125.0, 112.0, 235.0, 248.0])
    assert list(azimuth_groups(nodes_az, 30.0)) == [0, 0, 1, 1]
    assert list(azimuth_groups(np.array([350.0, 10.0, 180.0]), 30.0)) == [0, 0, 1]
    event_cz = np.cos(np.deg2rad([35.0, 35.0]))
    choice = choose_nodes(nodes_cz, nodes_az, event_cz, np.array([118.0, 241.0]))
    assert (choice.low[0], choice.high[0]) == (1, 0) and (choice.low[1], choice.high[1]) == (3, 2)
    assert 0 < choice.weight_low[0] < 1 and not choice.outside.any()


def test_merge_tables_interpolates_log_energy_and_azimuth():
    a = Table({"x_energy": [1.0, 1.0] * u.TeV, "x_az": [359.0, 10.0] * u.deg, "ok": [True, True]})
    b = Table(
        {"x_energy": [100.0, np.nan] * u.TeV, "x_az": [1.0, 20.0] * u.deg, "ok": [False, True]}
    )
    w = [np.array([0.5, 0.25]), np.array([0.5, 0.75])]
    merged = merge_tables([a, b], w)
    assert merged["x_energy"].quantity.to_value(u.TeV) == pytest.approx([10.0, 1.0])
    assert merged["x_az"].quantity.to_value(u.deg) == pytest.approx([0.0, 17.5], abs=1e-9)
    assert list(merged["ok"]) == [True, True]  # the node of largest weight


def test_library_index_and_interpolated_dl2(two_node_library, gamma_test, reco_dir):
    library = ModelLibrary(two_node_library)
    assert [n.name for n in library.nodes] == ["zd20_az000/nsb_dark", "zd40_az000/nsb_dark"]
    index = Table.read(two_node_library / MODEL_INDEX_NAME)
    assert list(index["n_proton_files"]) == [1, 1]
    test30 = _repoint(gamma_test, reco_dir / "gamma_test_zd30.h5", 30)
    out = reco_dir / "gamma_test_zd30.dl2.h5"
    argv = [f"-i={test30}", f"-m={two_node_library}", f"-o={out}"]
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    nodes = read_table(out, DL2_MODEL_NODES_TABLE)
    expected = (COS[0] - np.cos(np.deg2rad(30))) / (COS[0] - COS[1])
    assert np.all(nodes["node_low"] == 1) and np.all(nodes["node_high"] == 0)
    assert nodes["weight_low"] == pytest.approx(np.full(len(nodes), expected), rel=1e-6)
    assert not nodes["outside_node_range"].any()
    # the merged energy is the cos(zenith)-weighted mean in log10(E) of each node's own
    energies, scores = [], []
    for node in library.nodes:
        single = reco_dir / f"gamma_test_zd30.{node.zenith.value:.0f}.dl2.h5"
        assert run_tool(DL1DL2Tool(), argv=[f"-i={test30}", f"-m={node.path}", f"-o={single}"]) == 0
        energies.append(
            u.Quantity(read_table(single, ENERGY)["EnergyModel_energy"]).to_value(u.TeV)
        )
        scores.append(np.asarray(read_table(single, CLASSIFICATION)["ParticleModel_prediction"]))
    # the node table keeps each node's own score and energy (node_low: 40 deg)
    for side, k in (("low", 1), ("high", 0)):
        np.testing.assert_array_equal(np.asarray(nodes[f"gammaness_{side}"]), scores[k])
        np.testing.assert_array_equal(
            u.Quantity(nodes[f"energy_{side}"]).to_value(u.TeV), energies[k]
        )
    assert np.isfinite(scores[0]).sum() > 100
    merged = u.Quantity(read_table(out, ENERGY)["EnergyModel_energy"]).to_value(u.TeV)
    expected_energy = 10 ** (
        expected * np.log10(energies[1]) + (1 - expected) * np.log10(energies[0])
    )
    ok = np.isfinite(expected_energy)
    assert ok.sum() > 100 and np.array_equal(ok, np.isfinite(merged))
    assert merged[ok] == pytest.approx(expected_energy[ok], rel=1e-9)
    provenance = read_provenance(out)
    assert provenance[MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE] == library.fingerprint
    recorded = json.loads(provenance[MODEL_LIBRARY_CONFIG_ATTRIBUTE])
    assert [n["node"] for n in recorded["nodes"]] == [n.name for n in library.nodes]


def test_library_bad_inputs_exit_2(two_node_library, gamma_test, reco_dir, tmp_path):
    far = _repoint(gamma_test, tmp_path / "zd60.h5", 60)
    out = tmp_path / "out.dl2.h5"
    argv = [f"-i={far}", f"-m={two_node_library}", f"-o={out}"]
    assert run_tool(DL1DL2Tool(), argv=argv, raises=False) == 2  # far from every node
    assert not out.exists()
    near = _repoint(gamma_test, tmp_path / "zd15.h5", 15)  # outside but near 20 deg
    argv = [f"-i={near}", f"-m={two_node_library}", f"-o={out}"]
    assert run_tool(DL1DL2Tool(), argv=[*argv, "--strict"], raises=False) == 2
    assert not out.exists()
    assert run_tool(DL1DL2Tool(), argv=argv) == 0
    assert read_table(out, DL2_MODEL_NODES_TABLE)["outside_node_range"].all()
    broken = tmp_path / "broken"
    shutil.copytree(two_node_library, broken)
    (broken / "zd40_az000" / "nsb_dark" / "energy.joblib").unlink()
    argv = [f"-i={near}", f"-m={broken}", f"-o={tmp_path / 'b.dl2.h5'}"]
    assert run_tool(DL1DL2Tool(), argv=argv, raises=False) == 2
    assert not (tmp_path / "b.dl2.h5").exists()


def test_info_lists_nodes_and_runs(two_node_library, reco_dir, capsys):
    from iactpipe.tools.info import InfoTool

    dl2 = reco_dir / "gamma_test_zd30.dl2.h5"  # made by test_library_index_and_interpolated_dl2
    argv = [f"--model-library={two_node_library}"] + ([f"--runs={dl2}"] if dl2.exists() else [])
    assert run_tool(InfoTool(), argv=argv) == 0
    out = capsys.readouterr().out
    assert "zd20_az000/nsb_dark" in out and "zd40_az000/nsb_dark" in out
    if dl2.exists():
        assert "per node: zd20_az000/nsb_dark" in out


def test_dl3_refuses_irf_nodes_or_library_of_another_model_library(tmp_path):
    from astropy.io import fits

    from iactpipe.dl3.irf_choice import IRFFile, check_library_nodes, model_library_problem
    from iactpipe.io import InputFileError
    from iactpipe.irf.library import update_index

    rows = [
        {"zenith": zd, "azimuth": 0.0, "nsb_level": "dark", "event_class": "stereo"}
        | {"gamma_efficiency": 0.7, "irf_type": "point-like", "path": f"zd{zd:.0f}"}
        for zd in (20.0, 40.0)
    ]
    update_index(tmp_path, rows)
    nodes = [
        {"node": f"zd{zd}_az000/nsb_dark", "zenith_deg": zd, "azimuth_deg": 0.0}
        | {"nsb_level": "dark"}
        for zd in (20.0, 40.0)
    ]
    check_library_nodes(tmp_path, "dark", nodes)  # the same nodes: accepted
    with pytest.raises(InputFileError, match="differ from the model library nodes"):
        check_library_nodes(tmp_path, "dark", nodes[:1])
    header = fits.Header({"MODLIBFP": "abc"})
    irf = IRFFile(tmp_path / "irf.fits", [], None, None, "s", {}, "point-like", header)
    assert model_library_problem(irf, "abc") is None
    assert "model library abc" in model_library_problem(irf, "def")
    assert model_library_problem(irf, None) is not None
    plain = IRFFile(tmp_path / "irf.fits", [], None, None, "s", {}, "point-like", fits.Header())
    assert model_library_problem(plain, None) is None
