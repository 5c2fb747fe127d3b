"""
iactpipe-chain on a two-node production (conftest.py ``node_chain``): one command trains
a model-library node and makes an IRF-library node per pointing, reconstructs the runs
at three zeniths with both libraries, writes each run's model nodes and weights into its
DL3 file, and a second call has nothing to do. Then the bad inputs of a library, end to
end: IRF nodes that are not the model nodes, a missing IRF node file, a one-node model
library used for a run far away (one ERROR line, exit 2, nothing written).
"""

import gzip
import json
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from ctapipe.core import run_tool

from iactpipe.dl3.index import hdu_type_and_class
from iactpipe.io.dataformat import MODEL_LIBRARY_KEYWORD, MODEL_NODES_HDU
from iactpipe.irf.library import INDEX_NAME
from iactpipe.reco.library import MODEL_INDEX_NAME, rebuild_model_index
from iactpipe.tools.dl1_dl2 import DL1DL2Tool
from iactpipe.tools.dl2_dl3 import DL2DL3Tool

NODES = ("zd28_az180/nsb_dark", "zd40_az180/nsb_dark")
RUN_DL2 = "dl2/20240110/Crab/run{:06d}.dl2.h5"


def test_two_node_chain_interpolates_and_records_nodes(node_chain):
    out, status = node_chain["out"], node_chain["status"]
    assert node_chain["code"] == 0, status
    # the first node's MC DL1 and the first runs' DL1 were done by the tiny chain
    assert status["r0-dl1 gamma_point/gamma_point"] == "up to date"
    assert status["dl1-stereo run 1001"] == "up to date"
    assert {
        name for name, s in status.items() if s == "ok" and name.startswith(("train", "irf"))
    } == {
        *(f"train {n}" for n in NODES),
        *(f"irf {n}" for n in NODES),
    }
    models = Table.read(out / "models" / MODEL_INDEX_NAME)
    assert list(models["node"]) == list(NODES)
    irfs = Table.read(out / "irfs" / INDEX_NAME)
    assert sorted({round(float(z)) for z in irfs["zenith"]}) == [28, 40]
    zeniths = {}
    for obs_id in (1001, 1002, 1004):
        path = out / f"dl3/20240110/dl3_obs{obs_id:08d}.fits.gz"
        with fits.open(path) as hdul:
            events, n_events = hdul["EVENTS"].header, len(hdul["EVENTS"].data)
            table = Table.read(hdul[MODEL_NODES_HDU])
            assert hdu_type_and_class(hdul[MODEL_NODES_HDU]) is None  # not in gammapy's index
        zeniths[obs_id] = zenith = 90 - events["ALT_PNT"]
        assert list(table["NODE"]) == list(NODES)
        # the weights of each event add up to one: their sum is the number of events
        assert table["WEIGHT"].sum() == pytest.approx(n_events)
        assert table["SHARE"].sum() == pytest.approx(1.0)
        assert events[MODEL_LIBRARY_KEYWORD] and events["MOD_ND1"] == NODES[0]
        if zenith < 27.5:  # the wobble pointing is below the lower node: nearest, flagged
            assert events["IRF_METH"] == "nearest" and events["IRF_NODE"].startswith("zd28")
            assert events["MOD_OUT"] == n_events and list(table["SHARE"]) == [1.0, 0.0]
            continue
        assert events["IRF_METH"] == "interpolate" and events["MOD_OUT"] == 0
        # IRF weight of the 27.5 deg node: linear in cos(zenith) between the nodes
        cz = np.cos(np.deg2rad([27.5, 40.0, zenith]))
        expected = (cz[2] - cz[1]) / (cz[0] - cz[1])
        weights = {events[f"IRF_ND{i}"][:4]: events[f"IRF_WT{i}"] for i in (1, 2)}
        assert weights["zd28"] == pytest.approx(expected, abs=1e-3)
        # the models' weights follow the same rule per event (the run's zenith changes
        # by less than 0.05 deg in 2 s)
        assert table["SHARE"][0] == pytest.approx(expected, abs=0.01)
    # three zeniths: below the lower node, just above it, half way
    assert zeniths[1001] < 27.5 < zeniths[1002] < 28 and 33.5 < zeniths[1004] < 35
    # gammapy reads the files as before (the MODEL_NODES HDU is not in the index)
    from gammapy.data import DataStore

    store = DataStore.from_dir(out / "dl3")
    observation = store.get_observations([1004], required_irf="point-like")[0]
    assert len(observation.events.table) == int(round(float(table["WEIGHT"].sum())))
    assert observation.aeff is not None and observation.rad_max is not None
    # a second call: nothing to do
    code, second = node_chain["second"]
    assert code == 0 and set(second.values()) == {"up to date"}


def _failure(capsys, tool, argv, out_dir):
    before = set(out_dir.rglob("*")) if out_dir.exists() else set()
    capsys.readouterr()
    code = run_tool(tool, argv=argv, raises=False)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert code == 2, err
    assert len(errors) == 1, errors
    assert "Traceback" not in err
    after = set(out_dir.rglob("*")) if out_dir.exists() else set()
    assert after == before, sorted(map(str, after - before))
    return errors[0]


def test_library_bad_inputs_end_to_end(node_chain, tmp_path, capsys):
    out = node_chain["out"]
    dl2 = out / RUN_DL2.format(1004)
    dl3 = tmp_path / "dl3"
    dl3.mkdir()
    argv = [f"-i={dl2}", f"-o={dl3}", "--irf-choice=interpolate", "--gamma-efficiency=0.7"]
    # an IRF library whose nodes are not the model library's
    one_node = tmp_path / "irfs_one"
    shutil.copytree(out / "irfs", one_node)
    index = Table.read(one_node / INDEX_NAME)
    index[[not str(p).startswith("zd40") for p in index["path"]]].write(
        one_node / INDEX_NAME, overwrite=True
    )
    error = _failure(capsys, DL2DL3Tool(), [*argv, f"--irfs={one_node}"], dl3)
    assert "differ from the model library nodes" in error
    # a missing IRF node file
    missing = tmp_path / "irfs_missing"
    shutil.copytree(out / "irfs", missing)
    for path in (missing / "zd40_az180").rglob("irf_point_like*"):
        path.unlink()
    error = _failure(capsys, DL2DL3Tool(), [*argv, f"--irfs={missing}"], dl3)
    assert "zd40_az180" in error
    # a one-node model library for a run 7 deg away from its node (|dcos zd| 0.06)
    models = tmp_path / "models_one"
    shutil.copytree(out / "models", models)
    shutil.rmtree(models / "zd40_az180")
    rebuild_model_index(models)
    dl1 = out / "dl1/20240110/Crab/stereo/run001004.stereo.dl1.h5"
    dl2_out = tmp_path / "dl2"
    dl2_out.mkdir()
    argv = [f"-i={dl1}", f"-m={models}", f"-o={dl2_out / 'run.dl2.h5'}"]
    error = _failure(capsys, DL1DL2Tool(), argv, dl2_out)
    assert "from every node" in error
    record = json.loads((out / "models/zd40_az180/nsb_dark/node.json").read_text())
    assert record["zenith"] == pytest.approx(40.0, abs=0.1)


def _dl3(out, obs_id, target, *extra, irfs=None):
    """iactpipe-dl2-dl3 on a run of the node chain, with the chain's config."""
    config = out / f"dl3/20240110/dl3_obs{obs_id:08d}.fits.gz.config.yaml"
    argv = [f"-i={out / RUN_DL2.format(obs_id)}", f"--irfs={irfs or out / 'irfs'}"]
    argv += [f"-o={target}", f"--config={config}", "--object=Crab", "--irf-choice=interpolate"]
    argv += list(extra)
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    return target / f"dl3_obs{obs_id:08d}.fits.gz"


def _events(path):
    with fits.open(path) as hdul:
        return hdul["EVENTS"].header, np.asarray(hdul["EVENTS"].data["EVENT_ID"])


def test_gammaness_cut_between_nodes(node_chain, tmp_path, capsys):
    """
    The chain's DL3 cuts the events between the nodes with the efficiency-mean rule
    (iactpipe.dl3.node_cuts; its statistics in tests/dl3/test_node_cuts.py): recorded
    in GH_RULE, and each DL3 event of run 1004 (half way) passes it, each event only the
    interpolated score kept fails it. A run at one node (1001: weight 1, the nearest IRF)
    gives the same DL3 file, byte for byte, as the interpolated score; an IRF library
    without efficiency curves gives the interpolated score with a warning.
    """
    from ctapipe.io import read_table

    from iactpipe.dl3.node_cuts import NodeOutputs, efficiency_mean_mask, read_node_cut_tables
    from iactpipe.io.dataformat import DL2_MODEL_NODES_TABLE
    from iactpipe.io.dl2_model_records import dl2_model_library

    out = node_chain["out"]
    rule, old = (
        (out / "dl3/20240110/dl3_obs00001004.fits.gz"),
        _dl3(out, 1004, tmp_path / "old", "--gh-cut-rule=interpolated-score"),
    )
    (header, kept), (old_header, old_kept) = _events(rule), _events(old)
    assert header["GH_RULE"] == "efficiency-mean" and "GH_RULE" not in old_header
    # the rule, recomputed for the events of either file from the DL2 node table
    dl2 = out / RUN_DL2.format(1004)
    nodes = NodeOutputs(read_table(dl2, DL2_MODEL_NODES_TABLE))
    tables, _ = read_node_cut_tables(
        out / "irfs", dl2_model_library([dl2])[1], "dark", 0.7, "point-like", "stereo"
    )
    ids = np.union1d(kept, old_kept)
    rows = nodes.rows(np.full(len(ids), 1004), ids)
    assert (rows["node_low"] != rows["node_high"]).all() and rows["weight_low"].min() > 0.2
    events = QTable({"gh_score": rows["gammaness_low"], "reco_energy": rows["energy_low"]})
    passed = efficiency_mean_mask(events, rows, tables)
    np.testing.assert_array_equal(passed, np.isin(ids, kept))
    assert len(kept) > 20 and len(old_kept) > 20
    # one node: the file of the interpolated score
    one = _dl3(out, 1001, tmp_path / "one", "--gh-cut-rule=interpolated-score")
    with gzip.open(one) as a, gzip.open(out / "dl3/20240110/dl3_obs00001001.fits.gz") as b:
        assert a.read() == b.read()
    # IRFs without efficiency curves (made before them): the interpolated score
    irfs = tmp_path / "irfs_old"
    shutil.copytree(out / "irfs", irfs)
    for path in irfs.rglob("irf_point_like.fits.gz"):
        with fits.open(path, mode="update") as hdul:
            del hdul["GH_EFFICIENCY"]
    capsys.readouterr()
    header, fallback = _events(_dl3(out, 1004, tmp_path / "fallback", irfs=irfs))
    assert "GH_RULE" not in header and np.array_equal(fallback, old_kept)
    assert "no GH_EFFICIENCY HDU" in capsys.readouterr().err
