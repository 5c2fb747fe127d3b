"""Batch stereo geometry equals ctapipe's per-event HillasReconstructor (ctapipe-process)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import join
from ctapipe.core import run_tool
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import TableLoader
from ctapipe.tools.process import ProcessorTool

from iactpipe.stereo.geometry import BatchHillasReconstructor

PREFIX = "HillasReconstructor"
#: stated tolerances: float64 round-off of the same math
TOLERANCE = {
    "alt": 1e-9 * u.deg,
    "az": 1e-9 * u.deg,
    "core_x": 1e-3 * u.m,
    "core_y": 1e-3 * u.m,
    "h_max": 1e-3 * u.m,
}


@pytest.fixture(scope="module")
def processed_full_array(prod4_sst1m_path, tmp_path_factory):
    """ctapipe-process on the whole prod4 file (70 telescopes, many multiplicities)."""
    path = tmp_path_factory.mktemp("geometry") / "process.h5"
    argv = [
        f"--input={prod4_sst1m_path}",
        f"--output={path}",
        "--write-showers",
        "--write-parameters",
    ]
    assert run_tool(ProcessorTool(), argv=argv) == 0
    return path


def batch_geometry(path):
    """Our batch reconstruction from the DL1 parameters ctapipe-process wrote."""
    subarray = SubarrayDescription.from_hdf(path)
    with TableLoader(path) as loader:
        events = loader.read_subarray_events(dl2=True)
        by_tel = loader.read_telescope_events_by_id(dl1_parameters=True, pointing=True)
    keys = events["obs_id", "event_id"]
    parameters, pointing = {}, {}
    for tel_id, table in by_tel.items():
        if len(table) == 0:
            continue
        joined = join(keys, table, keys=["obs_id", "event_id"], join_type="left")
        joined.sort(["obs_id", "event_id"])
        for name in joined.colnames:
            column = joined[name]
            if (
                hasattr(column, "filled")
                and getattr(column, "dtype", None) is not None
                and column.dtype.kind == "f"
            ):
                joined[name] = joined[name].filled(np.nan)
        parameters[tel_id] = joined
        alt = u.Quantity(joined["telescope_pointing_altitude"], u.rad)
        az = u.Quantity(joined["telescope_pointing_azimuth"], u.rad)
        pointing[tel_id] = (alt, az)
    # prod4: parallel pointing, the array pointing is the telescopes' pointing
    alt = np.nanmean([a.value for a, _ in pointing.values()], axis=0) * u.rad
    az = np.nanmean([z.value for _, z in pointing.values()], axis=0) * u.rad
    geometry, impact = BatchHillasReconstructor(subarray)(parameters, pointing, (alt, az))
    return events, geometry, impact


def test_batch_equals_ctapipe_full_array(processed_full_array):
    events, geometry, _ = batch_geometry(processed_full_array)
    valid = np.asarray(events[f"{PREFIX}_is_valid"])
    assert valid.sum() >= 10
    np.testing.assert_array_equal(geometry[f"{PREFIX}_is_valid"], valid)
    for name, tolerance in TOLERANCE.items():
        ours = u.Quantity(geometry[f"{PREFIX}_{name}"][valid])
        theirs = u.Quantity(events[f"{PREFIX}_{name}"][valid])
        assert u.allclose(ours, theirs, atol=tolerance, rtol=0), name
    np.testing.assert_array_equal(
        geometry[f"{PREFIX}_telescopes"][valid], events[f"{PREFIX}_telescopes"][valid]
    )
