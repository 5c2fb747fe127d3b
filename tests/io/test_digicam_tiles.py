"""
Columnar zfits decoding (`ZFitsTable`) against protozfits' own decoding of the same rows.

Every column of a small file written by `DigiCamZFitsWriter` (zstd, tiles of three
rows, a last tile of one), and every column of the real 2017 DigiCam file whose
processings the decoder handles (all those the batch engine reads; the one other is
named by `ZFitsTable.unsupported`);
a damaged tile gives `InputFileError` naming the file and its events, and
``iactpipe-r0-dl1`` one ERROR line and no output.
"""

from pathlib import Path

import numpy as np
import pytest
from ctapipe.core import run_tool
from protozfits import ProtoDataModel_pb2, any_array_to_numpy
from protozfits.rawzfits import ProtobufIFits

from iactpipe.batch.zfits import READ_COLUMNS
from iactpipe.io.digicam.tiles import ZFitsTable
from iactpipe.io.errors import InputFileError
from iactpipe.io.zfits_writer import DigiCamZFitsWriter, RawEvent
from iactpipe.tools.r0_dl1 import R0DL1Tool

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
REAL_ZFITS = SHARED_DATA / "r0_zfits" / "example_10_evts.000.fits.fz"
START_NS = 1_704_900_000 * 1_000_000_000


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """Seven events (tiles of 3, 3, 1) with every field varying, zstd (the default)."""
    rng = np.random.default_rng(5)
    stem = tmp_path_factory.mktemp("tiles") / "SST1M1_20240110_0003"
    with DigiCamZFitsWriter(stem, 22, rows_per_tile=3) as writer:
        for i in range(7):
            writer.write(
                RawEvent(
                    samples=rng.integers(250, 4096, (1296, 50)).astype(np.uint16),
                    baseline_adc=300 + rng.uniform(0, 40, 1296),
                    event_number=70_000 + 3 * i,
                    array_event_number=(1 << 31) + i,  # > int32: the unsigned type kept
                    camera_event_type=8 if i % 3 == 0 else 1,
                    local_time_ns=START_NS + 999_999_000 * i,
                    white_rabbit_time_ns=START_NS + 999_999_000 * i + 7,
                    pixel_flags=rng.integers(0, 4, 1296).astype(np.uint16),
                )
            )
    return writer.paths[0]


def _field(message, protobuf_id: str):
    """The field of ``message`` at a ``TPBID`` path (``6.1.1``), as numpy for arrays."""
    for number in protobuf_id.split("."):
        message = getattr(message, message.DESCRIPTOR.fields_by_number[int(number)].name)
    return any_array_to_numpy(message) if hasattr(message, "type") else message


def _protozfits_columns(path: Path, table: ZFitsTable) -> dict[str, np.ndarray]:
    reader = ProtobufIFits(str(path), "Events")
    try:
        messages = [
            ProtoDataModel_pb2.CameraEvent.FromString(reader.read_serialized_message(row + 1))
            for row in range(table.n_rows)
        ]
    finally:
        reader.close()
    return {
        name: np.array([_field(m, table.header[f"TPBID{c.index + 1}"]) for m in messages])
        for name, c in table.columns.items()
    }


def _decoded(table: ZFitsTable, name: str) -> np.ndarray:
    return np.concatenate([table.read(name, tile) for tile in range(table.n_tiles)])


def test_every_column_equals_protozfits(written):
    with ZFitsTable(written) as table:
        assert (table.n_rows, table.n_tiles, table.rows_per_tile) == (7, 3, 3)
        assert table.unsupported(table.columns) is None
        reference = _protozfits_columns(written, table)
        assert len(reference) == 12
        for name in table.columns:
            ours = _decoded(table, name)
            assert ours.shape == reference[name].shape, name
            np.testing.assert_array_equal(ours, reference[name], err_msg=name)
        assert table.read("no_such_column", 0) is None
        assert _decoded(table, "arrayEvtNum").dtype == np.uint32  # TZERO: unsigned


def test_real_file_columns_equal_protozfits():
    """The 2017 file's CTA coding (Huffman, differences, smoothing, byte split, offset)."""
    if not REAL_ZFITS.exists():
        pytest.skip(f"{REAL_ZFITS} not present: real external test data lives in ../shared/data")
    with ZFitsTable(REAL_ZFITS) as table:
        reference = _protozfits_columns(REAL_ZFITS, table)
        decoded = [name for name in table.columns if table.unsupported([name]) is None]
        assert set(READ_COLUMNS) & set(table.columns) <= set(decoded)  # what the engine reads
        assert len(decoded) == 11
        for name in decoded:
            np.testing.assert_array_equal(_decoded(table, name), reference[name], err_msg=name)
        # one trigger column with a processing not decoded here (left to protozfits)
        reason = table.unsupported(table.columns)
        assert reason == "column trigger_output_patch19: processing 14 (not decoded here)"


def test_read_first_equals_first_row_of_read(written):
    """The first row alone (zstd decoded only that far, other codings whole)."""
    tables_ = [written] + ([REAL_ZFITS] if REAL_ZFITS.exists() else [])
    for path in tables_:
        with ZFitsTable(path) as table:
            for name in table.columns:
                if table.unsupported([name]) is not None:
                    continue
                for tile in range(table.n_tiles):
                    first = table.read_first(name, tile)
                    expected = table.read(name, tile)[0:1].reshape(-1)
                    assert first.dtype == expected.dtype, name
                    np.testing.assert_array_equal(first, expected, err_msg=name)
            assert table.read_first("no_such_column") is None


def _damage_samples_tile(path: Path, out: Path, tile: int) -> None:
    """``out``: ``path`` with the zstd frame of one tile of samples overwritten."""
    with ZFitsTable(path) as table:
        size, offset = table.catalog[tile, table.columns["hiGain_waveforms_samples"].index]
        start = table.heap + int(offset) + 10 + 2 * 1  # block header, one processing
    raw = bytearray(path.read_bytes())
    raw[start : start + 8] = b"\xff" * 8  # not a zstd frame any more
    out.write_bytes(bytes(raw))


def test_damaged_tile_names_file_and_events(written, tmp_path, capsys):
    damaged = tmp_path / "SST1M1_20240110_0003.000.fits.fz"
    _damage_samples_tile(written, damaged, tile=1)
    with ZFitsTable(damaged) as table:
        table.read("hiGain_waveforms_samples", 0)  # the other tiles are intact
        with pytest.raises(InputFileError, match=r"events 3 to 5 \(tile 1, column hiGain_wave"):
            table.read("hiGain_waveforms_samples", 1)
        with pytest.raises(InputFileError, match=r"event 3 \(tile 1, column hiGain_wave"):
            table.read_first("hiGain_waveforms_samples", 1)
    out = tmp_path / "out.dl1.h5"
    for checksum in (True, False):  # first found by the DATASUM check, else by the decoder
        argv = [f"--input={damaged}", f"--output={out}", "--engine=batch"]
        argv.append(f"--SST1MEventSource.verify_checksum={checksum}")
        assert run_tool(R0DL1Tool(), argv, cwd=tmp_path, raises=False) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
        assert len(errors) == 1 and str(damaged) in errors[0], errors
        assert ("DATASUM" in errors[0]) == checksum
        assert checksum or "events 3 to 5" in errors[0]
        assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_frames_decoded_by_libzstd_equal_the_stream_path(written, tmp_path):
    """The samples decoded into a buffer by the system's zstd library (when present)
    are those python-zstandard's stream decodes; a frame damaged inside (its header
    intact) fails with the file, events and column named, by either path."""
    with ZFitsTable(written) as table:
        for tile in range(table.n_tiles):
            direct = np.array(table.read("hiGain_waveforms_samples", tile, out=_buffer()))
            frames, table._frames = table._frames, None
            try:
                stream = table.read("hiGain_waveforms_samples", tile, out=_buffer())
            finally:
                table._frames = frames
            np.testing.assert_array_equal(direct, stream)
            np.testing.assert_array_equal(direct, table.read("hiGain_waveforms_samples", tile))
    with ZFitsTable(written) as table:
        size, offset = table.catalog[1, table.columns["hiGain_waveforms_samples"].index]
        start = table.heap + int(offset) + 10 + 2 * 1
    raw = bytearray(written.read_bytes())
    raw[start + int(size) // 2 : start + int(size) // 2 + 64] = b"\x00" * 64
    damaged = tmp_path / "damaged.000.fits.fz"
    damaged.write_bytes(bytes(raw))
    with ZFitsTable(damaged) as table:
        for frames in (table._frames, None):
            table._frames = frames
            with pytest.raises(InputFileError, match=r"events 3 to 5 \(tile 1, column hiGain"):
                table.read("hiGain_waveforms_samples", 1, out=_buffer())


def _buffer() -> np.ndarray:
    return np.empty(1 << 24, dtype=np.uint8)
