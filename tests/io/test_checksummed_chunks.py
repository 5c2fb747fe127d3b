"""Rows appended as directly written checksummed chunks against HDF5's own appending."""

import numpy as np
import pytest
import tables

from iactpipe.io.checksummed_chunks import ChecksummedChunkAppender

DTYPE = np.dtype([("event_id", "<i8"), ("waveform", "<i2", (1, 37, 16)), ("status", "u1", (5,))])
FILTERS = tables.Filters(complevel=0, fletcher32=True)


def _rows(n: int, first: int = 0) -> np.ndarray:
    rng = np.random.default_rng(first)
    rows = np.zeros(n, dtype=DTYPE)
    rows["event_id"] = np.arange(first, first + n)
    rows["waveform"] = rng.integers(-3000, 3000, size=rows["waveform"].shape)
    rows["status"] = rng.integers(0, 255, size=rows["status"].shape)
    return rows


def _table(h5file, name, chunk_rows=3):
    return h5file.create_table(
        "/", name, description=DTYPE, filters=FILTERS, chunkshape=(chunk_rows,)
    )


# batches: held rows completed by the next batch, batches shorter than a chunk, a batch
# of whole chunks, a last chunk left partial; "first": rows HDF5 appended before
@pytest.mark.parametrize(
    ("first", "batches"), [(0, [1, 7, 2, 6, 1, 4]), (2, [5, 1, 1, 9]), (4, [3, 3])]
)
def test_appender_stores_what_hdf5_stores(tmp_path, first, batches):
    rows = _rows(first + sum(batches))
    with tables.open_file(tmp_path / "f.h5", "w") as f:
        reference = _table(f, "reference")
        direct = _table(f, "direct")
        reference.append(rows)
        direct.append(rows[:first])
        appender = ChecksummedChunkAppender(direct)
        start = first
        for n in batches:
            batch = rows[start : start + n].copy()
            appender.append(batch)
            start += n
            np.testing.assert_array_equal(batch, rows[start - n : start])  # restored
        appender.finish()
        assert direct.nrows == len(rows)
        # HDF5 checks the stored checksums while reading (a wrong one is an error)
        np.testing.assert_array_equal(direct.read(), rows)
        for chunk_start in range(0, len(rows), 3):
            stored = direct.read_chunk((chunk_start,))
            assert bytes(stored) == bytes(reference.read_chunk((chunk_start,)))
            assert direct.chunk_info((chunk_start,)).filter_mask == 0


def test_a_wrong_checksum_is_detected(tmp_path):
    """The chunks written directly are verified by HDF5 like its own ones: guards that
    reading checks them at all (a corrupted waveform byte makes reading fail)."""
    rows = _rows(6)
    with tables.open_file(tmp_path / "f.h5", "w") as f:
        table = _table(f, "direct")
        appender = ChecksummedChunkAppender(table)
        appender.append(rows)
        raw = bytearray(table.read_chunk((3,)))
        raw[100] ^= 1
        table.write_chunk((3,), raw)
        np.testing.assert_array_equal(table.read(0, 3), rows[:3])
        with pytest.raises(tables.HDF5ExtError):
            table.read(3, 6)


def test_only_large_checksummed_rows_suit(tmp_path):
    small = np.dtype([("event_id", "<i8"), ("x", "<f4")])
    with tables.open_file(tmp_path / "f.h5", "w") as f:
        assert ChecksummedChunkAppender.suits(_table(f, "waveforms"))
        assert not ChecksummedChunkAppender.suits(
            f.create_table("/", "small", description=small, filters=FILTERS)
        )
        compressed = f.create_table(
            "/", "compressed", description=DTYPE, filters=tables.Filters(5, "blosc:zstd")
        )
        assert not ChecksummedChunkAppender.suits(compressed)
        with pytest.raises(ValueError, match="not an uncompressed checksummed table"):
            ChecksummedChunkAppender(compressed)
