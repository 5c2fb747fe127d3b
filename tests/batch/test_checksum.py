"""
Raw-chunk reading with the Fletcher-32 check against HDF5's own reading and checksum.

The reference checksum is a line-by-line transcription of ``H5_checksum_fletcher32``
(HDF5's H5checksum.c); the reference rows are ``tables.Table.read``.
"""

import numpy as np
import pytest
import tables

from iactpipe.batch.checksum import ChunkedRowReader, _checksum_matches, checksum_only, fletcher32
from iactpipe.io import InputFileError

DTYPE = np.dtype([("event_id", "<i8"), ("waveform", "<i2", (1, 37, 11)), ("status", "u1", (5,))])


def hdf5_fletcher32(data: bytes) -> int:
    """H5_checksum_fletcher32, transcribed (32-bit sums reduced every 360 words)."""
    length = len(data) // 2
    sum1 = sum2 = 0
    i = 0
    while length:
        block = min(length, 360)
        length -= block
        for _ in range(block):
            sum1 += (data[i] << 8) | data[i + 1]
            i += 2
            sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if len(data) % 2:
        sum1 += data[i] << 8
        sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


@pytest.mark.parametrize(
    "data",
    [
        np.zeros(0, np.uint8),
        np.zeros(40, np.uint8),
        np.full(2 * 65535, 255, np.uint8),  # sums that are multiples of 65535
        np.full(255, 255, np.uint8),  # odd length
        np.random.default_rng(1).integers(0, 256, 2 * 1000, dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, 777, dtype=np.uint8),
        # beyond the 64-bit sums' reduction interval (1024 blocks of 128 words)
        np.random.default_rng(3).integers(0, 256, 2 * 128 * 1024 * 3 + 98, dtype=np.uint8),
    ],
    ids=["empty", "zeros", "65535-multiple", "odd", "random", "random-odd", "long"],
)
def test_fletcher32_equals_hdf5(data):
    assert fletcher32(data) == hdf5_fletcher32(data.tobytes())


@pytest.fixture()
def checksummed_table(tmp_path):
    path = tmp_path / "rows.h5"
    rng = np.random.default_rng(0)
    rows = np.zeros(50, dtype=DTYPE)
    rows["event_id"] = np.arange(50)
    rows["waveform"] = rng.integers(-2000, 30000, rows["waveform"].shape)
    rows["status"] = rng.integers(0, 256, rows["status"].shape)
    # ctapipe's DataWriter for R1: no compression, Fletcher-32
    filters = tables.Filters(complevel=0, fletcher32=True)
    with tables.open_file(path, "w") as h5:
        h5.create_table("/", "r1", obj=rows, filters=filters, chunkshape=(3,))
    return path, rows


def test_raw_chunks_equal_hdf5_read(checksummed_table):
    path, rows = checksummed_table
    with tables.open_file(path) as h5:
        table = h5.root.r1
        assert checksum_only(table)
        reader = ChunkedRowReader(table)
        # the stored checksums are the kernel's (no chunk falls back to HDF5)
        raw = np.empty(reader.chunk_bytes + 4, np.uint8)
        for start in range(0, table.nrows, 3):
            table.read_chunk((start,), out=raw)
            assert _checksum_matches(raw)
        buffer = reader.buffer(20)
        for first, last in [(0, 20), (1, 2), (4, 23), (31, 50), (48, 50), (49, 50)]:
            got = reader.read(first, last, buffer)
            np.testing.assert_array_equal(got, rows[first:last])
            np.testing.assert_array_equal(got, table.read(first, last))


def test_corrupted_chunk_is_reported(checksummed_table):
    path, _ = checksummed_table
    with tables.open_file(path) as h5:
        info = h5.root.r1.chunk_info((6,))
    with open(path, "r+b") as f:
        f.seek(info.offset + 100)
        byte = f.read(1)
        f.seek(info.offset + 100)
        f.write(bytes([byte[0] ^ 0x10]))
    with tables.open_file(path) as h5:
        reader = ChunkedRowReader(h5.root.r1)
        buffer = reader.buffer(10)
        np.testing.assert_array_equal(reader.read(0, 6, buffer)["event_id"], np.arange(6))
        with pytest.raises(InputFileError, match=r"rows.h5: /r1: rows 6-8 are corrupted"):
            reader.read(5, 10, buffer)


def test_compressed_tables_are_not_read_raw(tmp_path):
    with tables.open_file(tmp_path / "z.h5", "w") as h5:
        table = h5.create_table(
            "/", "t", obj=np.zeros(5, DTYPE), filters=tables.Filters(5, "zlib", fletcher32=True)
        )
        assert not checksum_only(table)
        with pytest.raises(ValueError, match="not an uncompressed checksummed table"):
            ChunkedRowReader(table)
