"""
Checksummed raw-chunk reading of uncompressed HDF5 tables.

ctapipe's DataWriter stores every table with HDF5's Fletcher-32 checksum filter. HDF5
verifies it with a scalar loop (about 40 us per DigiCam waveform of 130 kB, more than
reading the bytes), so a ``Table.read`` of R1 rows costs about 70 us per telescope
event. For tables with no filter but the checksum, the batch reader reads the stored
chunks directly (PyTables' direct chunking API) and verifies each with the vectorised
kernel `fletcher32` (about 6 us per event; in `iactpipe.io.checksummed_chunks`, which the
simulator writes its waveform chunks with): the same integrity guarantee, at a third of the
cost. A chunk whose checksum does not match is re-read by HDF5, which accepts the
checksums of old library versions and otherwise reports the corruption.
"""

from __future__ import annotations

import numpy as np
import tables
from numba import njit

from ..io.checksummed_chunks import checksum_only, fletcher32
from ..io.errors import InputFileError

__all__ = ["ChunkedRowReader"]


@njit(cache=True, nogil=True)
def _stored_checksum(data: np.ndarray) -> np.uint32:
    """The little-endian uint32 HDF5 appends to a checksummed chunk."""
    n = data.size
    value = np.uint32(0)
    for k in range(4):
        value |= np.uint32(data[n - 4 + k]) << np.uint32(8 * k)
    return value


@njit(cache=True, nogil=True)
def _checksum_matches(data: np.ndarray) -> bool:
    return fletcher32(data[: data.size - 4]) == _stored_checksum(data)


class ChunkedRowReader:
    """
    Rows of an uncompressed, checksummed table read as raw chunks and verified.

    Parameters
    ----------
    table : tables.Table
        A table for which `checksum_only` holds.
    """

    def __init__(self, table: tables.Table):
        if not checksum_only(table):
            raise ValueError(f"{table._v_pathname}: not an uncompressed checksummed table")
        self.table = table
        self.rows_per_chunk = int(table.chunkshape[0])
        self.chunk_bytes = self.rows_per_chunk * table.dtype.itemsize

    def buffer(self, n_rows: int) -> np.ndarray:
        """A buffer `read` can fill with up to ``n_rows`` rows."""
        # room for the chunks around the rows and the last chunk's checksum
        return np.empty(n_rows + 2 * self.rows_per_chunk + 1, dtype=self.table.dtype)

    def read(self, first: int, last: int, buffer: np.ndarray) -> np.ndarray:
        """
        Rows ``first:last``, verified, as a view into ``buffer`` (from `buffer`).

        Each chunk is read into place after the previous one, its 4 checksum bytes
        landing where the next chunk starts, once they have been checked.
        """
        c = self.rows_per_chunk
        start = first - first % c
        needed = last - start + c
        if len(buffer) * buffer.itemsize < needed * self.table.dtype.itemsize + 4:
            raise ValueError("buffer too small for the rows")
        raw = buffer.view(np.uint8)
        size = self.chunk_bytes + 4
        for chunk_start in range(start, last, c):
            pos = (chunk_start - start) * self.table.dtype.itemsize
            part = raw[pos : pos + size]
            # a chunk of another size (or with a filter skipped) fails the check too;
            # chunk_info would tell beforehand but costs as much as the read
            try:
                verified = len(self.table.read_chunk((chunk_start,), out=part)) == size
            except ValueError:  # larger than the buffer
                verified = False
            if not (verified and _checksum_matches(part)):
                self._read_by_hdf5(chunk_start, buffer, chunk_start - start)
        offset = first - start
        return buffer[offset : offset + last - first]

    def _read_by_hdf5(self, chunk_start: int, buffer: np.ndarray, at: int) -> None:
        """Let HDF5 read (and judge) a chunk whose raw form we cannot verify."""
        stop = min(chunk_start + self.rows_per_chunk, self.table.nrows)
        try:
            self.table.read(chunk_start, stop, out=buffer[at : at + stop - chunk_start])
        except tables.HDF5ExtError as err:
            # a Tool reports it as one line and exits with 2
            raise InputFileError(
                f"{self.table._v_file.filename}: {self.table._v_pathname}: rows"
                f" {chunk_start}-{stop - 1} are corrupted (Fletcher-32 checksum mismatch)"
            ) from err
