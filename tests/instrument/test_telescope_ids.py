"""Telescope-id mapping between simulations (1, 2) and data (21, 22)."""

import numpy as np
import pytest

from iactpipe.instrument import (
    DATA_TEL_IDS,
    DATA_TO_MC,
    MC_TEL_IDS,
    MC_TO_DATA,
    relabel_subarray,
    sst1m_subarray,
    to_data_tel_id,
    to_mc_tel_id,
)


def test_constants():
    assert MC_TEL_IDS == (1, 2)
    assert DATA_TEL_IDS == (21, 22)
    assert MC_TO_DATA == {1: 21, 2: 22}
    assert DATA_TO_MC == {21: 1, 22: 2}


@pytest.mark.parametrize(("mc", "data"), [(1, 21), (2, 22)])
def test_round_trip(mc, data):
    assert to_data_tel_id(mc) == data
    assert to_mc_tel_id(data) == mc
    assert to_mc_tel_id(to_data_tel_id(mc)) == mc
    assert to_data_tel_id(to_mc_tel_id(data)) == data
    # identity for ids already in the target scheme, numpy integers accepted
    assert to_data_tel_id(np.int16(data)) == data
    assert to_mc_tel_id(mc) == mc
    assert isinstance(to_data_tel_id(np.int16(mc)), int)


@pytest.mark.parametrize("func", [to_data_tel_id, to_mc_tel_id])
@pytest.mark.parametrize("tel_id", [0, 3, 23, 121])
def test_unknown_id(func, tel_id):
    with pytest.raises(ValueError, match=rf"id {tel_id}\b.*\[1, 2, 21, 22\]"):
        func(tel_id)


def test_relabel_keeps_descriptions_and_positions():
    mc = sst1m_subarray(tel_ids=MC_TEL_IDS)
    data = relabel_subarray(mc, MC_TO_DATA)
    assert tuple(data.tel_ids) == DATA_TEL_IDS
    assert tuple(mc.tel_ids) == MC_TEL_IDS  # input untouched
    for mc_id, data_id in MC_TO_DATA.items():
        assert data.tel[data_id] is mc.tel[mc_id]
        np.testing.assert_array_equal(data.positions[data_id], mc.positions[mc_id])
    assert data.reference_location == mc.reference_location
    assert data.name == mc.name
    # a model keyed by the MC telescope description finds the data telescopes
    assert data.telescope_types == mc.telescope_types
    assert data == sst1m_subarray(tel_ids=DATA_TEL_IDS, name=mc.name)


def test_relabel_partial_and_name():
    subarray = sst1m_subarray()
    relabelled = relabel_subarray(subarray, {22: 2}, name="mixed")
    assert tuple(relabelled.tel_ids) == (2, 21)
    assert relabelled.name == "mixed"


def test_relabel_errors():
    subarray = sst1m_subarray()
    with pytest.raises(ValueError, match="not in subarray"):
        relabel_subarray(subarray, {1: 21})
    with pytest.raises(ValueError, match="duplicate"):
        relabel_subarray(subarray, {21: 22})
