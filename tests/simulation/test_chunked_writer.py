"""`ChunkedDataWriter` writes the same file as ctapipe's ``DataWriter`` (the peer), table
by table, for the simulator's MC (R0 and R1) and observation-run events."""

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.core import Provenance
from ctapipe.io import DataWriter, HDF5EventSource
from ctapipe.io.tableio import FixedPointColumnTransform
from traitlets.config import Config

from iactpipe.io.r1_writer import ChunkedDataWriter, fixed_point
from iactpipe.simulation import TelescopeFileHeader, ToySimulationSource, single_telescope_event
from iactpipe.tools.simulate import WRITER_DEFAULTS

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
