"""DigiCamZFitsWriter: zfits files in the DigiCam layout that SST1MEventSource reads.

The written file is compared with the real DigiCam file of ../shared/data/r0_zfits (same
message name, columns and column types) and read back event by event.
"""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from ctapipe.containers import EventType

from iactpipe.io.digicam import SST1MEventSource, run_files
from iactpipe.io.errors import OutputExistsError
from iactpipe.io.zfits_writer import (
    DIGICAM_MESSAGE,
    DigiCamZFitsWriter,
    RawEvent,
    chunk_path,
    fits_checksum,
)

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
REAL_ZFITS = SHARED_DATA / "r0_zfits" / "example_10_evts.000.fits.fz"
START_NS = 1_704_920_000_123_456_789  # 2024-01-10T20:53:20 TAI


def _events(n: int, seed: int = 2) -> list[RawEvent]:
    rng = np.random.default_rng(seed)
    samples = rng.integers(280, 340, (n, 1296, 50)).astype(np.uint16)
    samples[:, 100:110, 20:25] = 4095  # a few saturated pulses
    return [
        RawEvent(
            samples=samples[i],
            baseline_adc=300 + rng.uniform(0, 30, 1296),
            event_number=i + 1,
            array_event_number=1000 + i,
            camera_event_type=8 if i % 3 == 0 else 1,
            local_time_ns=START_NS + 1000 * i,
            white_rabbit_time_ns=START_NS + 1000 * i + 7,
            pixel_flags=np.full(1296, 1, dtype=np.uint16),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Nine events in chunks of four (.000, .001, .002), tiles of three rows."""
    stem = tmp_path_factory.mktemp("zfits") / "SST1M1_20240110_0007"
    events = _events(9)
    header = {"TARGET": ("Crab_W1_83.633_22.014", "target_ra_dec"), "TELID": 21}
    with DigiCamZFitsWriter(stem, 21, events_per_file=4, rows_per_tile=3, header=header) as w:
        for event in events:
            w.write(event)
    return w.paths, events


def test_chunks_and_header(written):
    """Three chunks; the Events table says DataModel.CameraEvent with a valid checksum."""
    paths, _ = written
    assert [p.name[-12:] for p in paths] == [".000.fits.fz", ".001.fits.fz", ".002.fits.fz"]
    assert run_files(paths[0]) == paths
    assert not list(paths[0].parent.glob(".*partial*"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a wrong CHECKSUM/DATASUM is an astropy warning
        with fits.open(paths[0], checksum=True) as hdul:
            header = hdul["Events"].header
            assert header["PBFHEAD"] == DIGICAM_MESSAGE
            assert header["ZNAXIS2"] == 4
            assert header["TARGET"] == "Crab_W1_83.633_22.014"


def test_columns_match_the_real_file(written):
    """Same column names, protobuf ids and zfits types as a real DigiCam file."""
    if not REAL_ZFITS.exists():
        pytest.skip(f"{REAL_ZFITS} not present: real external test data lives in ../shared/data")

    def columns(path):
        header = fits.getheader(path, "Events")
        return {
            header[f"TTYPE{n}"]: (header[f"TPBID{n}"], header[f"ZFORM{n}"])
            for n in range(1, header["TFIELDS"] + 1)
        }

    ours, real = columns(written[0][0]), columns(REAL_ZFITS)
    shared = set(ours) & set(real)
    assert {"telescopeID", "eventNumber", "hiGain_waveforms_samples"} <= shared
    # all but arrayEvtNum and the White Rabbit trig_* block, absent from the 2017 file
    assert len(shared) == len(ours) - 3 == 9
    assert {k: ours[k] for k in shared} == {k: real[k] for k in shared}


def test_event_source_reads_written_events(written):
    """SST1MEventSource (unchanged) returns every written value, software pixel order."""
    paths, events = written
    with SST1MEventSource(paths[0], calibrate_r1=False) as source:
        read = list(source)
        assert source.pointing.ra.deg == pytest.approx(83.633)
    assert len(read) == len(events)
    for event, truth in zip(read, events, strict=True):
        r0 = event.r0.tel[21]
        np.testing.assert_array_equal(r0.waveform[0], truth.samples)
        np.testing.assert_allclose(r0.baseline, truth.baseline_adc, atol=1 / 32 + 1e-9)
        np.testing.assert_array_equal(r0.pixel_flags, truth.pixel_flags)
        assert event.index.obs_id == 202401100007
        assert event.index.event_id == truth.array_event_number
        assert r0.camera_event_number == truth.event_number
        assert r0.white_rabbit_time_ns == truth.white_rabbit_time_ns
        assert r0.local_time_ns == truth.local_time_ns
        expected = EventType.SKY_PEDESTAL if truth.camera_event_type == 8 else EventType.SUBARRAY
        assert event.trigger.event_type == expected


def test_failure_leaves_no_file(tmp_path):
    """An exception while writing removes the partial chunks; existing files are kept."""
    stem = tmp_path / "run"
    with pytest.raises(RuntimeError, match="stop"):
        with DigiCamZFitsWriter(stem, 22, events_per_file=2) as writer:
            for event in _events(3):
                writer.write(event)
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    chunk_path(stem, 0).write_text("old")
    with pytest.raises(OutputExistsError):
        DigiCamZFitsWriter(stem, 22).write(_events(1)[0])


def test_fits_checksum_matches_astropy():
    """The checksum helper agrees with astropy's on random data."""
    data = np.random.default_rng(1).integers(0, 256, 2880 * 3, dtype=np.uint8).tobytes()
    hdu = fits.ImageHDU(np.frombuffer(data, dtype=">i4").reshape(-1, 8))
    assert fits_checksum(data) == int(hdu._calculate_datasum())


@pytest.mark.parametrize("length", [0, 3, 4, 2880 * 3, 2880 * 3 - 1, 2880 * 3 + 2, 10_001])
def test_file_checksum_in_pieces(tmp_path, monkeypatch, length):
    """The integrity check's checksum of a file read in pieces (here of 100 bytes, not
    a multiple of the word boundaries of the data's start) equals the checksum of the
    bytes, the file's last bytes padded with zeros to a word."""
    from iactpipe.io.digicam import integrity

    monkeypatch.setattr(integrity, "_PIECE", 100)
    data = np.random.default_rng(2).integers(0, 256, length, dtype=np.uint8).tobytes()
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for start, stop in ((0, length + 5000), (0, length - length % 8), (8, length)):
            piece = data[start:stop]
            expected = fits_checksum(piece + b"\0" * (-len(piece) % 4))
            assert integrity._data_checksum(fd, start, stop) == expected, (start, stop)
    finally:
        os.close(fd)
