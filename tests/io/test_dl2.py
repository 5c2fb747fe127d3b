"""DL2EventReader: the selected events and their multiplicity, chunk by chunk, equal a
direct event-by-event evaluation of the selection on the whole file."""

import numpy as np
import pytest
from ctapipe.io import TableLoader, read_table

from iactpipe.io import InputFileError
from iactpipe.io.dataformat import DL1_TEL_PARAMETERS_GROUP, tel_node
from iactpipe.io.dl2 import DL2EventReader
from iactpipe.irf.events import DL2EventSelection, load_dl2_events

#: stricter than the defaults, so that images, telescopes and events are rejected
SELECTION = {"min_intensity_pe": 80.0, "max_leakage_intensity_width_2": 0.15}


def _direct(path, selection):
    """Keys, multiplicity and n_raw of the selected events, one event at a time."""
    options = {"dl2": True, "simulated": False, "observation_info": False}
    with TableLoader(path, **options) as loader:
        events = loader.read_subarray_events(**options)
        subarray = loader.subarray
    good = set()
    for tel_id in subarray.tel_ids:
        params = read_table(path, tel_node(DL1_TEL_PARAMETERS_GROUP, tel_id))
        intensity = np.asarray(params["hillas_intensity"])
        leakage = np.asarray(params["leakage_intensity_width_2"])
        for obs_id, event_id, i, leak in zip(
            params["obs_id"], params["event_id"], intensity, leakage, strict=True
        ):
            if i >= selection.min_intensity_pe and leak <= selection.max_leakage_intensity_width_2:
                good.add((int(obs_id), int(event_id), tel_id))
    ids = list(zip(events["obs_id"].tolist(), events["event_id"].tolist(), strict=True))
    used = np.all([np.asarray(events[f"{p}_telescopes"]) for p in selection.prefixes], axis=0)
    multiplicity = np.zeros(len(events), dtype=int)
    for k, (obs_id, event_id) in enumerate(ids):
        for tel_id in subarray.tel_ids:
            index = subarray.tel_index_array[tel_id]
            multiplicity[k] += bool(used[k, index]) and (obs_id, event_id, tel_id) in good
    mask = selection.event_mask(events, multiplicity)
    return [key for key, m in zip(ids, mask, strict=True) if m], multiplicity[mask], len(events)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gamma_point.dl2.h5", {"simulated": True, "observation_info": True}),
        ("run.stereo.dl2.h5", {"observation_info": False}),
    ],
)
def test_selection_equals_direct_evaluation(dl3_chain, name, options):
    path = dl3_chain["observation_dl2"].with_name(name)
    selection = DL2EventSelection(**SELECTION)
    keys, multiplicity, n_raw = _direct(path, selection)
    assert 0 < len(keys) < n_raw and set(multiplicity) >= {2}
    with DL2EventReader(path, selection, chunk_size=n_raw // 3 + 1, **options) as reader:
        chunks = list(reader)
    assert len(chunks) == 3 and reader.n_raw == n_raw
    read_keys = [
        (o, e)
        for c in chunks
        for o, e in zip(c.events["obs_id"], c.events["event_id"], strict=True)
    ]
    assert read_keys == keys
    np.testing.assert_array_equal(np.concatenate([c.multiplicity for c in chunks]), multiplicity)
    if options.get("simulated"):  # the IRF step reads the same events
        loaded = load_dl2_events(path, selection)
        ids = zip(loaded.events["obs_id"].tolist(), loaded.events["event_id"].tolist(), strict=True)
        assert list(ids) == keys
        np.testing.assert_array_equal(loaded.events["multiplicity"], multiplicity)


def test_errors(dl3_chain, tmp_path):
    path = dl3_chain["observation_dl2"]
    with pytest.raises(InputFileError, match="no such file"):
        DL2EventReader(tmp_path / "missing.h5", DL2EventSelection())
    with pytest.raises(RuntimeError, match="with"):
        list(DL2EventReader(path, DL2EventSelection()))
    selection = DL2EventSelection(energy_prefix="Nope")
    with DL2EventReader(path, selection) as reader, pytest.raises(InputFileError) as err:
        list(reader)
    assert str(err.value) == (f"{path}: DL2 columns ['Nope_energy'] missing (run iactpipe-dl1-dl2)")
