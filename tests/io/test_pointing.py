"""Observed-data DL1 files carry the telescope pointing that ctapipe interpolates."""

import numpy as np
import pytest
import tables
from astropy.time import Time
from ctapipe.core import run_tool
from ctapipe.io import TableLoader, read_table
from ctapipe.monitoring import PointingInterpolator

from iactpipe.io.pointing import POINTING_GROUP, PointingRecorder
from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool


@pytest.fixture(scope="module")
def observed_run(tmp_path_factory):
    """A 2 s two-telescope toy observation run (per-telescope R1 files)."""
    tmp = tmp_path_factory.mktemp("observed")
    argv = ["--mode=observation", "--duration=2 s", "--split", f"--output={tmp / 'run.h5'}"]
    assert run_tool(SimulateTool(), argv, cwd=tmp) == 0
    return tmp / "run_tel021.h5"


def test_pointing_recorded_and_interpolated(observed_run, tmp_path):
    out = tmp_path / "run.dl1.h5"
    argv = [f"--input={observed_run}", f"--output={out}", "--pointing-interval=0.5 s"]
    assert run_tool(R0DL1Tool(), argv, cwd=tmp_path) == 0

    recorded = read_table(out, f"{POINTING_GROUP}/tel_021")
    truth = read_table(observed_run, f"{POINTING_GROUP}/tel_021")  # one row per event
    # 2 s at 0.5 s, the last event, and one extrapolated row 0.5 s beyond each end
    assert 5 <= len(recorded) <= 8
    assert np.all(np.diff(recorded["time"].unix_tai)[1:-2] >= 0.5)

    with TableLoader(out) as loader:
        events = loader.read_telescope_events(dl1_parameters=False, pointing=True)
    # ctapipe's interpolation between the recorded rows reproduces every event's pointing
    times = events["time"].unix_tai
    truth_alt = np.interp(times, truth["time"].unix_tai, truth["altitude"].quantity.to_value("rad"))
    truth_az = np.interp(times, truth["time"].unix_tai, truth["azimuth"].quantity.to_value("rad"))
    alt = events["telescope_pointing_altitude"].quantity.to_value("rad")
    az = events["telescope_pointing_azimuth"].quantity.to_value("rad")
    assert np.max(np.abs(alt - truth_alt)) < 1e-6  # rad: tracking is linear over 0.5 s
    assert np.max(np.abs(az - truth_az)) < 1e-6

    # times a little outside this telescope's events (another clock in a stereo file)
    interpolator = PointingInterpolator()
    interpolator.add_table(21, recorded)
    t_out = Time([times.min() - 0.3, times.max() + 0.3], format="unix_tai")
    alt_out, _ = interpolator(21, t_out)
    slope = np.polyfit(truth["time"].unix_tai, truth["altitude"].quantity.to_value("rad"), 1)
    expected = np.polyval(slope, t_out.unix_tai)
    assert np.max(np.abs(alt_out.to_value("rad") - expected)) < 1e-6


def test_simulations_keep_fixed_pointing(prod4_sst1m_path, tmp_path):
    out = tmp_path / "mc.dl1.h5"
    assert run_tool(R0DL1Tool(), [f"--input={prod4_sst1m_path}", f"--output={out}", "-m", "3"]) == 0
    with tables.open_file(out) as h5:
        assert POINTING_GROUP not in h5
        assert "/configuration/telescope/pointing" in h5


def test_add_rows_records_as_event_by_event():
    """The chunked recording keeps the rows and the pending last row of the per-event one."""
    rng = np.random.default_rng(3)
    chunked, per_event = PointingRecorder(), PointingRecorder()
    start = 0.0
    for size in (0, 1, 7, 300, 40):
        times = start + np.cumsum(rng.exponential(0.05, size))
        alt, az = rng.uniform(0.5, 1.2, size), rng.uniform(0, 6, size)
        alt[::13] = np.nan  # not recorded
        start = times[-1] if size else start
        chunked.add_rows(21, times, alt, az)
        for row in zip(times.tolist(), alt.tolist(), az.tolist(), strict=True):
            per_event._add(21, row)
        got, expected = chunked.tables(), per_event.tables()
        assert got.keys() == expected.keys()
        for tel_id, table in got.items():
            np.testing.assert_array_equal(table["time"].unix_tai, expected[tel_id]["time"].unix_tai)
            for name in ("altitude", "azimuth"):
                np.testing.assert_array_equal(table[name], expected[tel_id][name])
    assert 10 < len(got[21]) < 50  # about one row per second of the ~17 s, not per event
