"""SST1MEventSource on real DigiCam raw data, and on bad input.

``example_10_evts.000.fits.fz`` (../shared/data/r0_zfits, 2017-10-31, 0.2 MB) holds one
``Events`` table of 10 ``DataModel.CameraEvent`` messages written by ACTL 0.2 for the
SST-1M prototype camera (``telescopeID = 1``, read as telescope 21): camera event
numbers 97750287..97750296, no array event number, no White Rabbit (``trig``) block,
camera clock 2017-10-31T02:04:54.41 to .45 (TAI). Nine events are 7-patch shower
triggers (``event_type = 1``), one (97750292) an internal trigger, i.e. a pedestal
event (``event_type = 8``). Per event: high-gain samples 1296 x 50 (int16, readout
order), ``pixelsIndices`` (software id of each readout position), the DigiCam
baselines (plain ADC in this firmware, about 235; later firmware stores 16 x ADC),
``pixels_flags`` (all 1) and the trigger traces. Five events have samples at the
12-bit ceiling 4095 (2, 1, 2, 1, 1 saturated pixels). The header has no pointing.
"""

from pathlib import Path

import numpy as np
import pytest
import tables
from astropy.io import fits
from ctapipe.containers import EventType
from ctapipe.core import run_tool
from ctapipe.io import EventSource
from ctapipe.tools.process import ProcessorTool
from protozfits import File

from iactpipe.instrument import digicam_geometry, sst1m_subarray
from iactpipe.io.digicam import (
    SST1MEventSource,
    detect_baseline_scale,
    readout_modules,
    readout_pixel_ids,
    run_files,
    software_order,
)
from iactpipe.tools.r0_dl1 import R0DL1Tool

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
ZFITS = SHARED_DATA / "r0_zfits" / "example_10_evts.000.fits.fz"
MAPPING = SHARED_DATA / "instrument" / "digicam_pixels_mapping_V5T.txt"


@pytest.fixture(scope="module")
def zfits_path():
    if not ZFITS.exists():
        pytest.skip(f"{ZFITS} not present: real external test data lives in ../shared/data")
    return ZFITS


@pytest.fixture(scope="module")
def events(zfits_path):
    with SST1MEventSource(zfits_path) as source:
        return [event for event in source]


@pytest.fixture(scope="module")
def raw_events(zfits_path):
    with File(str(zfits_path)) as zfile:
        return [
            (
                np.asarray(e.hiGain.waveforms.samples).reshape(1296, -1).copy(),
                np.asarray(e.hiGain.waveforms.pixelsIndices).copy(),
                np.asarray(e.hiGain.waveforms.baselines).copy(),
            )
            for e in zfile.Events
        ]


def test_found_by_ctapipe(zfits_path):
    """The ctapipe_io entry point makes EventSource pick SST1MEventSource."""
    assert SST1MEventSource.is_compatible(zfits_path)
    with EventSource(zfits_path) as source:
        assert isinstance(source, SST1MEventSource)


def test_ten_events_in_software_order(events, raw_events):
    assert len(events) == 10
    assert [e.index.event_id for e in events] == list(range(97750287, 97750297))
    for event, (samples, pixel_ids, _) in zip(events, raw_events, strict=True):
        assert set(event.r0.tel) == {21}
        waveform = event.r0.tel[21].waveform
        assert waveform.shape == (1, 1296, 50)
        # software pixel k is the readout position whose pixelsIndices is k
        np.testing.assert_array_equal(waveform[0][pixel_ids], samples)


def test_packaged_readout_order_matches_file(raw_events):
    """The packaged readout order equals the pixelsIndices the camera wrote."""
    for _, pixel_ids, _ in raw_events:
        np.testing.assert_array_equal(readout_pixel_ids(), pixel_ids)
    np.testing.assert_array_equal(software_order(None), np.argsort(raw_events[0][1]))


def test_packaged_mapping_matches_mapping_file():
    """Software ids and modules agree with the DigiCam mapping and with the geometry."""
    if not MAPPING.exists():
        pytest.skip(f"{MAPPING} not present")
    table = np.genfromtxt(MAPPING, comments="#", usecols=(2, 8, 9, 10))
    sw_id = table[:, 1].astype(int)
    np.testing.assert_array_equal(readout_modules()[sw_id], table[:, 0].astype(int))
    geometry = digicam_geometry()
    # ctapipe frame (x, y) = (-v, -u) of the mapping's (u, v) = (x_pixel, y_pixel)
    np.testing.assert_allclose(geometry.pix_x.to_value("mm")[sw_id], -table[:, 3], atol=0.02)
    np.testing.assert_allclose(geometry.pix_y.to_value("mm")[sw_id], -table[:, 2], atol=0.02)


def test_event_types_times_and_baselines(events, raw_events):
    types = [e.trigger.event_type for e in events]
    assert types.count(EventType.SKY_PEDESTAL) == 1
    assert types[5] == EventType.SKY_PEDESTAL
    assert types.count(EventType.SUBARRAY) == 9
    times = [e.trigger.time for e in events]
    assert times[0].isot.startswith("2017-10-31T02:04:54")
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    _, pixel_ids, stored = raw_events[0]
    baseline = events[0].r0.tel[21].baseline
    np.testing.assert_array_equal(baseline[pixel_ids], stored)  # plain ADC in this file
    assert detect_baseline_scale(stored, raw_events[0][0]) == 1
    assert detect_baseline_scale(stored * 16, raw_events[0][0]) == 16


def test_saturation_flagged(events):
    """Pixels with a sample at 4095 get the SATURATED bit in R1."""
    from ctapipe.containers import PixelStatus

    from iactpipe.calib import R0R1Calibrator

    calibrate = R0R1Calibrator(sst1m_subarray())
    n_saturated = []
    for event in events:
        calibrate(event)
        expected = (event.r0.tel[21].waveform[0] >= 4095).any(axis=1)
        flagged = (event.r1.tel[21].pixel_status & PixelStatus.SATURATED) > 0
        np.testing.assert_array_equal(flagged, expected)
        n_saturated.append(int(expected.sum()))
    assert n_saturated == [2, 1, 0, 0, 2, 0, 1, 0, 0, 1]


def test_run_files(tmp_path):
    for i in (0, 1, 2, 4):
        (tmp_path / f"run.{i:03d}.fits.fz").touch()
    assert [p.name for p in run_files(tmp_path / "run.000.fits.fz")] == [
        "run.000.fits.fz",
        "run.001.fits.fz",
        "run.002.fits.fz",
    ]
    assert run_files(tmp_path / "single.fits.fz") == [tmp_path / "single.fits.fz"]


def test_run_of_several_files_is_one_stream(zfits_path, tmp_path):
    for i in range(2):
        (tmp_path / f"run.{i:03d}.fits.fz").symlink_to(zfits_path)
    with SST1MEventSource(tmp_path / "run.000.fits.fz") as source:
        counts = [event.count for event in source]
    assert counts == list(range(20))


def test_pointing_from_traits(zfits_path):
    with SST1MEventSource(zfits_path, pointing_ra_deg=83.63, pointing_dec_deg=22.01) as source:
        event = next(iter(source))
    pointing = event.monitoring.tel[21].pointing
    assert np.isfinite(pointing.altitude.value) and np.isfinite(pointing.azimuth.value)


def test_r0_dl1_end_to_end(zfits_path, tmp_path):
    """iactpipe-r0-dl1 on the zfits file: DL1 parameters and pedestal monitoring."""
    out = tmp_path / "zfits.dl1.h5"
    argv = [f"--input={zfits_path}", f"--output={out}", "--PedestalMonitor.min_events=2"]
    assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp_path) == 0
    with tables.open_file(out) as h5:
        parameters = h5.root.dl1.event.telescope.parameters.tel_021
        assert len(parameters) == 10  # all event types (EventTypeFilter default)
        assert np.all(parameters.col("hillas_intensity") > 0)
        monitoring = "/dl1/monitoring/telescope/calibration/camera/pixel_statistics"
        stats = h5.get_node(f"{monitoring}/sky_pedestal_image/tel_021")
        assert stats.col("std").shape[1:] == (1, 1296)


def test_ctapipe_process_reads_zfits(zfits_path, tmp_path):
    """ctapipe's own tool finds the plugin and processes the file (R1 filled by the source)."""
    out = tmp_path / "process.h5"
    argv = [f"--input={zfits_path}", f"--output={out}"]
    assert run_tool(ProcessorTool(), argv=argv, cwd=tmp_path) == 0
    with tables.open_file(out) as h5:
        assert len(h5.root.dl1.event.subarray.trigger) == 10
        assert len(h5.root.dl1.event.telescope.parameters.tel_021) == 10


def _assert_clean_failure(path, tmp_path, capsys):
    out = tmp_path / "out.h5"
    argv = [f"--input={path}", f"--output={out}"]
    assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp_path, raises=False) != 0
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert "Traceback" not in "\n".join(errors)
    assert any(str(path) in e for e in errors), errors


def test_truncated_file_fails_cleanly(zfits_path, tmp_path, capsys):
    truncated = tmp_path / "truncated.000.fits.fz"
    truncated.write_bytes(zfits_path.read_bytes()[:60_000])
    _assert_clean_failure(truncated, tmp_path, capsys)


def test_non_digicam_fits_fz_fails_cleanly(tmp_path, capsys):
    other = tmp_path / "image.fits.fz"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.BinTableHDU.from_columns(
                [fits.Column(name="a", format="J", array=np.arange(3))], name="Events"
            ),
        ]
    ).writeto(other)
    assert not SST1MEventSource.is_compatible(other)
    _assert_clean_failure(other, tmp_path, capsys)
