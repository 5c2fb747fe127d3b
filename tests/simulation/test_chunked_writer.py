"""`ChunkedDataWriter` writes the same file as ctapipe's ``DataWriter`` (the peer), table
by table, for the simulator's MC (R0 and R1) and observation-run events."""

import gc

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.core import Provenance, run_tool
from ctapipe.io import DataWriter, HDF5EventSource
from ctapipe.io.tableio import FixedPointColumnTransform
from traitlets.config import Config

from iactpipe.io.r1_writer import ChunkedDataWriter, fixed_point
from iactpipe.simulation import TelescopeFileHeader, ToySimulationSource, single_telescope_event
from iactpipe.tools.simulate import WRITER_DEFAULTS, SimulateTool

#: root attributes that hold the time of writing or a random id (differ between any two files)
VOLATILE = {
    "CTA PRODUCT CREATION TIME",
    "CTA PRODUCT ID",
    "CTA ACTIVITY START TIME",
    "CTA ACTIVITY STOP TIME",
    "CTA ACTIVITY ID",
}


def _user_attrs(node) -> dict:
    return {k: str(node._v_attrs[k]) for k in node._v_attrs._f_list("user") if k not in VOLATILE}


def _assert_same_file(path_a, path_b):
    with tables.open_file(path_a) as fa, tables.open_file(path_b) as fb:
        nodes_a = {n._v_pathname: n for n in fa.walk_nodes("/")}
        nodes_b = {n._v_pathname: n for n in fb.walk_nodes("/")}
        assert nodes_a.keys() == nodes_b.keys()
        for path, a in nodes_a.items():
            b = nodes_b[path]
            assert _user_attrs(a) == _user_attrs(b), path
            if not isinstance(a, tables.Leaf):
                continue
            assert a.filters == b.filters, path
            data_a, data_b = a.read(), b.read()
            assert data_a.dtype == data_b.dtype, path
            if not isinstance(a, tables.Table):
                np.testing.assert_array_equal(data_a, data_b, err_msg=path)
                continue
            assert len(data_a) == len(data_b), path
            for name in data_a.dtype.names:
                np.testing.assert_array_equal(data_a[name], data_b[name], err_msg=f"{path} {name}")


@pytest.mark.parametrize("mode", ["mc", "observation"])
def test_chunked_writer_writes_the_datawriter_file(mode, tmp_path):
    config = {
        "ToySimulationSource": {"mode": mode, "seed": 5, "write_r0": mode == "mc"},
        "ShowerGenerator": {"n_showers": 120, "max_scatter_radius": 150 * u.m},
        "ObservationRun": {"duration": 0.4 * u.s},
    }
    source = ToySimulationSource(config=Config(config))
    tel_id = source.subarray.tel_ids[0]
    header = source if mode == "mc" else TelescopeFileHeader(source, tel_id)
    options = dict(
        WRITER_DEFAULTS, write_r1_waveforms=True, write_r0_waveforms=mode == "mc"
    ) | dict(write_dl1_images=False, write_dl1_parameters=False)
    plain = DataWriter(event_source=header, output_path=tmp_path / "plain.h5", **options)
    # 7 rows per chunk: several partial chunks, and tables created between two flushes
    chunked = ChunkedDataWriter(
        event_source=header, output_path=tmp_path / "chunked.h5", chunk_rows=7, **options
    )
    n_events = 0
    for event in source:
        if mode == "observation":
            if tel_id not in event.trigger.tels_with_trigger:
                continue
            event = single_telescope_event(event, tel_id)
        plain(event)
        chunked(event)
        n_events += 1
    assert n_events > 15  # more than two chunks
    provenance = Provenance()
    provenance.start_activity("test_chunked_writer")  # DataWriter.finish writes it
    for writer in (plain, chunked):
        writer.write_simulated_shower_distributions(source.simulated_shower_distributions)
        writer.finish()
    provenance.finish_activity()
    _assert_same_file(tmp_path / "plain.h5", tmp_path / "chunked.h5")
    with HDF5EventSource(tmp_path / "chunked.h5") as reader:
        events = list(reader)
    assert len(events) == n_events
    assert all(tel_id in e.r1.tel for e in events if tel_id in e.trigger.tels_with_trigger)


@pytest.mark.parametrize("dtype", ["int16", "uint16", "int8"])
def test_fixed_point_matches_ctapipe(dtype):
    """The one-pass fixed-point conversion gives ctapipe's values, markers included, on
    noise, exact half steps (round half to even), under- and overflows, nan and inf."""
    rng = np.random.default_rng(1)
    transform = FixedPointColumnTransform(
        scale=500.0, offset=3, source_dtype=np.float32, target_dtype=np.dtype(dtype)
    )
    values = np.concatenate(
        [
            rng.normal(0, 30, 20000),
            (np.arange(-2000, 2000) + 0.5) / 500,
            [np.nan, np.inf, -np.inf, 70, -70, 65.533, 65.534, -65.534],
        ]
    ).astype(np.float32)
    with np.errstate(invalid="ignore"):
        expected = transform(values)
    result = fixed_point(transform, values.reshape(2, -1)).reshape(-1)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(("write_r0", "encode"), [(False, True), (True, False)])
def test_block_writer_writes_the_datawriter_file(write_r0, encode, tmp_path):
    """`ChunkedDataWriter.write_block` writes the file ``DataWriter`` writes from the
    block's events (`MCEventBlock.events`, what the source yields), with tables created
    inside a block (a telescope's first trigger after other events) and partial chunks;
    with the R1 waveforms converted by the writer's encoder as they are made or by the
    writer itself."""
    config = {
        # seed 1: telescope 1 alone in the first event, telescope 2 in the second
        "ToySimulationSource": {"seed": 1, "write_r0": write_r0},
        "ShowerGenerator": {"n_showers": 80, "max_scatter_radius": 400 * u.m},
    }
    source = ToySimulationSource(config=Config(config))
    options = dict(
        WRITER_DEFAULTS,
        write_r1_waveforms=True,
        write_r0_waveforms=write_r0,
        write_dl1_images=False,
        write_dl1_parameters=False,
    )
    plain = DataWriter(event_source=source, output_path=tmp_path / "plain.h5", **options)
    blocks = ChunkedDataWriter(
        event_source=source, output_path=tmp_path / "blocks.h5", chunk_rows=7, **options
    )
    n_events, first_seen = 0, {}
    encoder = blocks.r1_waveform_encoder if encode else None
    for block in source.event_blocks(block_size=5, r1_encoder=encoder):
        assert (block.r1_stored is not None) == encode
        for i, event in enumerate(block.events()):
            plain(event)
            for tel_id in event.trigger.tels_with_trigger:
                first_seen.setdefault(int(tel_id), (n_events, i))
            n_events += 1
        blocks.write_block(block)
    assert n_events > 20
    assert len(first_seen) == 2
    # a telescope's tables are made by an event in the middle of a block
    assert any(i > 0 for _, i in first_seen.values()), first_seen
    provenance = Provenance()
    provenance.start_activity("test_block_writer")
    for writer in (plain, blocks):
        writer.write_simulated_shower_distributions(source.simulated_shower_distributions)
        writer.finish()
    provenance.finish_activity()
    _assert_same_file(tmp_path / "plain.h5", tmp_path / "blocks.h5")


def test_event_blocks_are_the_source_events():
    """Iterating the source and its event blocks gives the same events (same seed)."""
    config = Config({"ShowerGenerator": {"n_showers": 60, "max_scatter_radius": 200 * u.m}})
    events = list(ToySimulationSource(config=config, seed=3))
    blocks = list(ToySimulationSource(config=config, seed=3).event_blocks(block_size=4))
    assert sum(len(b) for b in blocks) == len(events) > 8
    assert max(len(b) for b in blocks) == 4
    from_blocks = [e for b in blocks for e in b.events()]
    for a, b in zip(events, from_blocks, strict=True):
        assert a.index.event_id == b.index.event_id
        assert a.count == b.count
        assert a.trigger.time == b.trigger.time
        assert list(a.trigger.tels_with_trigger) == list(b.trigger.tels_with_trigger)
        assert a.simulation.shower.energy == b.simulation.shower.energy
        for tel_id in a.trigger.tels_with_trigger:
            np.testing.assert_array_equal(a.r1.tel[tel_id].waveform, b.r1.tel[tel_id].waveform)
            np.testing.assert_array_equal(
                a.simulation.tel[tel_id].true_image, b.simulation.tel[tel_id].true_image
            )


def test_block_columns_must_match_the_table(tmp_path):
    """A table whose columns differ from the block's (another ctapipe data model) stops
    the block writer with a clear error instead of writing a wrong file."""
    config = Config({"ShowerGenerator": {"n_showers": 60, "max_scatter_radius": 200 * u.m}})
    source = ToySimulationSource(config=config, seed=3)
    writer = ChunkedDataWriter(
        event_source=source,
        output_path=tmp_path / "blocks.h5",
        write_dl1_images=False,
        write_dl1_parameters=False,
        **WRITER_DEFAULTS,
    )
    block = next(iter(source.event_blocks(block_size=8)))
    writer.write_block(block)
    with pytest.raises(ValueError, match="are not the table's"):
        writer._writer.append_columns("dl1/event/subarray/trigger", {"obs_id": np.zeros(2)})
    writer.finish()


def test_block_writer_with_dl2_output_writes_event_by_event(tmp_path, monkeypatch):
    """With DL2 (or DL1, muon) output asked for, tables a block does not hold,
    `write_block` writes each of the block's events through ``DataWriter.__call__``:
    still ``DataWriter``'s file."""
    config = Config({"ShowerGenerator": {"n_showers": 40, "max_scatter_radius": 200 * u.m}})
    source = ToySimulationSource(config=config, seed=3)
    options = dict(
        WRITER_DEFAULTS, write_dl1_images=False, write_dl1_parameters=False, write_dl2=True
    )
    plain = DataWriter(event_source=source, output_path=tmp_path / "plain.h5", **options)
    blocks = ChunkedDataWriter(event_source=source, output_path=tmp_path / "blocks.h5", **options)
    calls = []
    call = ChunkedDataWriter.__call__
    monkeypatch.setattr(ChunkedDataWriter, "__call__", lambda w, e: calls.append(1) or call(w, e))
    n_events = 0
    for block in source.event_blocks(block_size=4):
        for event in block.events():
            plain(event)
            n_events += 1
        blocks.write_block(block)
    assert len(calls) == n_events > 8
    provenance = Provenance()
    provenance.start_activity("test_block_writer_dl2")
    for writer in (plain, blocks):
        writer.finish()
    provenance.finish_activity()
    _assert_same_file(tmp_path / "plain.h5", tmp_path / "blocks.h5")


@pytest.mark.parametrize("fail", [False, True])
def test_simulate_freezes_the_collector_during_its_run_only(tmp_path, monkeypatch, fail):
    """``iactpipe-simulate`` runs with the objects of its set-up frozen (``gc.freeze``)
    and unfreezes them after the run, also when it fails (a test process runs many)."""
    seen = []
    write_block = ChunkedDataWriter.write_block

    def recording(writer, block):
        seen.append(gc.get_freeze_count())
        if fail:
            raise RuntimeError("write failed")
        return write_block(writer, block)

    monkeypatch.setattr(ChunkedDataWriter, "write_block", recording)
    before = gc.get_freeze_count()
    argv = ["-o", str(tmp_path / "sim.h5"), "-n", "20"]
    if fail:  # an internal error: reported, then raised by run_tool
        with pytest.raises(RuntimeError, match="write failed"):
            run_tool(SimulateTool(), argv)
    else:
        assert run_tool(SimulateTool(), argv) == 0
    assert seen and min(seen) > before
    assert gc.get_freeze_count() == before
