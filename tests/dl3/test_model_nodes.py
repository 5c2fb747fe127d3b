"""The model nodes of a run in its DL3 file: weights summed over the DL3 events."""

import json

import numpy as np
import pytest
import tables
from astropy.table import Table
from ctapipe.io import write_table

from iactpipe.dl3.model_nodes import run_model_nodes
from iactpipe.io import InputFileError
from iactpipe.io.dataformat import (
    DL2_MODEL_NODES_TABLE,
    MODEL_LIBRARY_CONFIG_ATTRIBUTE,
    MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE,
)

NODES = [
    {"node": f"zd{z}_az000/nsb_dark", "zenith_deg": z, "azimuth_deg": 0.0, "nsb_level": "dark"}
    for z in (20.0, 40.0)
]


def _dl2(path, weight_low, library=True):
    n = len(weight_low)
    table = Table(
        {
            "obs_id": np.full(n, 7),
            "event_id": np.arange(n) * 2 + 1,
            "node_low": np.zeros(n, np.int16),
            "node_high": np.ones(n, np.int16),
            "weight_low": weight_low,
            "weight_high": 1 - weight_low,
            "outside_node_range": weight_low == 1,
        }
    )
    write_table(table, path, DL2_MODEL_NODES_TABLE)
    if library:
        with tables.open_file(path, "a") as h5:
            h5.root._v_attrs[MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE] = "f" * 64
            h5.root._v_attrs[MODEL_LIBRARY_CONFIG_ATTRIBUTE] = json.dumps({"nodes": NODES})
    return path


def test_weights_of_the_dl3_events(tmp_path):
    path = _dl2(tmp_path / "run.dl2.h5", np.array([1.0, 0.25, 0.5, 0.75]))
    usage = run_model_nodes(path, 7, np.array([7, 3]))  # rows 3 and 1
    assert usage.weight == pytest.approx([1.0, 1.0])
    assert usage.weight_dl2 == pytest.approx([2.5, 1.5])
    assert usage.n_outside == 0
    cards = {key: value for key, value, _ in usage.header_cards()}
    assert cards["MOD_NNOD"] == 2 and cards["MOD_WT1"] == pytest.approx(0.5)
    hdu = usage.hdu([("OBS_ID", 7, "")])
    assert list(hdu.data["SHARE"]) == pytest.approx([0.5, 0.5])
    assert run_model_nodes(path, 7, np.array([1])).n_outside == 1
    with pytest.raises(InputFileError, match="DL3 events missing"):
        run_model_nodes(path, 7, np.array([2]))
    plain = _dl2(tmp_path / "plain.dl2.h5", np.array([1.0]), library=False)
    assert run_model_nodes(plain, 7, np.array([1])) is None
