"""Fletcher-32 checksummed HDF5 chunks: the checksum kernel, and rows appended as chunks.

ctapipe's ``DataWriter`` stores every table with HDF5's Fletcher-32 checksum filter, and
``iactpipe-simulate`` stores the waveforms uncompressed. Appending rows through HDF5 costs
more than the bytes: PyTables and HDF5's chunk cache copy them, and HDF5 checksums each
chunk in a scalar loop (about 40 us per DigiCam waveform of 130 kB).
`ChecksummedChunkAppender` writes the full chunks of such a table itself, with PyTables'
direct chunk write: the rows where they are, followed by the checksum of `fletcher32`
(vectorised, about 6 us per waveform). HDF5 stores the same bytes per chunk as when it
applies the filter (tested), so the file holds the same values and HDF5 verifies the
checksums on reading as always; only where the chunks lie in the file may differ.
"""

from __future__ import annotations

import numpy as np
import tables
from numba import njit

__all__ = ["ChecksummedChunkAppender", "checksum_only", "fletcher32"]

#: words per block in ``fletcher32``: sum of weights * 0xFFFF below 2**31
_BLOCK = 128
#: blocks between modular reductions of the 64-bit sums
_REDUCE_EVERY = 1024


@njit(cache=True, nogil=True)
def fletcher32(data: np.ndarray) -> np.uint32:
    """
    HDF5's Fletcher-32 checksum of a byte array (``H5_checksum_fletcher32``).

    The data are big-endian 16-bit words; ``sum1`` is their sum and ``sum2`` the sum
    of the running ``sum1``, both modulo 65535, in one's complement (a non-zero sum
    that is a multiple of 65535 is 65535, as HDF5's end-around-carry reduction gives).
    Here the words are summed in blocks of 128 with 32-bit lanes, which the compiler
    vectorises, and weighted by their distance to the block end.

    Parameters
    ----------
    data : np.ndarray
        uint8, C-contiguous.

    Returns
    -------
    np.uint32
        ``(sum2 << 16) | sum1``, the value HDF5 stores after the chunk.
    """
    n_bytes = data.size
    words = data[: n_bytes - n_bytes % 2].view(np.uint16)
    n = words.size
    n_blocks = n // _BLOCK
    s1 = np.int64(0)
    s2 = np.int64(0)
    nonzero = False
    for block in range(n_blocks):
        b1 = np.int32(0)
        b2 = np.int32(0)
        base = block * _BLOCK
        for j in range(_BLOCK):
            x = np.int32(words[base + j])
            w = ((x >> 8) | (x << 8)) & 0xFFFF  # stored little-endian, summed big-endian
            b1 += w
            b2 += (_BLOCK - j) * w
        nonzero |= b1 != 0
        s2 += _BLOCK * s1 + np.int64(b2)
        s1 += np.int64(b1)
        if block % _REDUCE_EVERY == _REDUCE_EVERY - 1:
            s1 %= 65535
            s2 %= 65535
    for i in range(n_blocks * _BLOCK, n):
        x = np.int64(words[i])
        w = ((x >> 8) | (x << 8)) & 0xFFFF
        nonzero |= w != 0
        s1 += w
        s2 += s1
    if n_bytes % 2:
        w = np.int64(data[n_bytes - 1]) << 8
        nonzero |= w != 0
        s1 += w
        s2 += s1
    s1 %= 65535
    s2 %= 65535
    if nonzero:
        # HDF5's reduction never yields 0 for a positive sum
        s1 = 65535 if s1 == 0 else s1
        s2 = 65535 if s2 == 0 else s2
    return np.uint32((s2 << 16) | s1)


def checksum_only(table: tables.Table) -> bool:
    """Whether a table's chunks are stored raw but for the Fletcher-32 checksum."""
    filters = table.filters
    return (
        table.chunkshape is not None
        and len(table.chunkshape) == 1
        and filters.fletcher32
        and filters.complevel == 0
        and not filters.shuffle
        and not filters.bitshuffle
    )


class ChecksummedChunkAppender:
    """
    Rows appended to a `checksum_only` table, its full chunks written directly.

    Rows that do not fill a chunk are held until the next `append` completes it, or
    appended by HDF5 at `finish`: every row of the table must go through the appender
    (rows appended otherwise in between would come after the held ones).

    Parameters
    ----------
    table : tables.Table
        An enlargeable table for which `checksum_only` holds.
    """

    #: rows smaller than this are left to HDF5: the waveform tables hold the bytes
    #: that matter, and small tables keep HDF5's file layout
    MIN_ROW_BYTES = 1024

    def __init__(self, table: tables.Table):
        if not checksum_only(table):
            raise ValueError(f"{table._v_pathname}: not an uncompressed checksummed table")
        self.table = table
        self.rows_per_chunk = int(table.chunkshape[0])
        self._chunk_bytes = self.rows_per_chunk * table.dtype.itemsize
        self._held = np.empty(self.rows_per_chunk, dtype=table.dtype)
        self._n_held = 0
        # a chunk and its checksum, for chunks without 4 spare bytes after them
        self._scratch = np.empty(self._chunk_bytes + 4, dtype=np.uint8)

    @classmethod
    def suits(cls, table: tables.Table) -> bool:
        """Whether to append to ``table`` through an appender (large checksummed rows)."""
        return checksum_only(table) and table.dtype.itemsize >= cls.MIN_ROW_BYTES

    def append(self, rows: np.ndarray) -> None:
        """
        Append ``rows`` (records of the table's dtype, C-contiguous; their buffer is
        modified while written and restored).
        """
        if rows.dtype != self.table.dtype:
            raise ValueError(f"{self.table._v_pathname}: rows of dtype {rows.dtype}")
        rows = np.ascontiguousarray(rows)  # written from their buffer
        c = self.rows_per_chunk
        start = 0
        if self._n_held:  # complete the held chunk first
            start = min(c - self._n_held, len(rows))
            self._held[self._n_held : self._n_held + start] = rows[:start]
            self._n_held += start
            if self._n_held < c:
                return
            self._write_chunks(self._held)
            self._n_held = 0
        elif self.table.nrows % c:  # rows appended before: HDF5 completes their chunk
            start = min(c - self.table.nrows % c, len(rows))
            self.table.append(rows[:start])
        rest = rows[start:]
        n_full = len(rest) - len(rest) % c
        if n_full:
            self._write_chunks(rest[:n_full])
        self._n_held = len(rest) - n_full
        self._held[: self._n_held] = rest[n_full:]

    def finish(self) -> None:
        """Append the held rows (through HDF5: their chunk is not full)."""
        if self._n_held:
            self.table.append(self._held[: self._n_held])
            self._n_held = 0

    def _write_chunks(self, rows: np.ndarray) -> None:
        """Write whole chunks at the end of the table, each followed by its checksum:
        in place, in the first 4 bytes of the next chunk (saved and restored), the last
        one from the scratch buffer."""
        table = self.table
        first = table.nrows
        n_chunks = len(rows) // self.rows_per_chunk
        table.truncate(first + len(rows))  # grows the extent, writes nothing
        raw = rows.view(np.uint8).reshape(-1)
        size = self._chunk_bytes
        for k in range(n_chunks):
            chunk = raw[k * size : (k + 1) * size]
            checksum = np.array([fletcher32(chunk)], dtype="<u4").view(np.uint8)
            if k + 1 < n_chunks:
                after = raw[(k + 1) * size : (k + 1) * size + 4]
                saved = after.copy()
                after[:] = checksum
                table.write_chunk(
                    (first + k * self.rows_per_chunk,), raw[k * size : (k + 1) * size + 4]
                )
                after[:] = saved
            else:
                self._scratch[:size] = chunk
                self._scratch[size:] = checksum
                table.write_chunk((first + k * self.rows_per_chunk,), self._scratch)
