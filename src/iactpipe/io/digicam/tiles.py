"""
Columnar decoding of zfits binary tables: whole tiles of one column into numpy arrays.

A zfits table (``ZTABLE = T``) is a FITS binary table whose rows are a catalog: row
``t`` gives, per column, the size and heap offset (big-endian int64 pairs) of the
compressed block of tile ``t`` (``ZTILELEN`` rows of the uncompressed table). The heap
starts ``ZHEAPPTR`` bytes after the table data; each tile starts with a 16-byte header
(``TILE``, number of rows, size), each block with its own header::

    uint64 size | char ordering | uint8 n | uint16 processing[n] | data

The processings were applied in order when writing; reading undoes them in reverse.
Decoded here: ``0`` none, ``7`` zlib, ``23`` zstd, and the CTA/FACT processings of
`~iactpipe.io.digicam.zfits_codecs` (Huffman, smoothing, differences, byte split, as
the 2017 DigiCam files use them). Others are left to protozfits:
`ZFitsTable.unsupported` names them.

In a protobuf table (``PBFHEAD``) each column is one field (``TPBID``: the field path);
a decoded block holds the field of every row of the tile: scalars back to back,
arrays (protobuf ``AnyArray``) each preceded by its length in bytes (uint32). All
little-endian. Unsigned fields are marked by a ``TZEROn`` keyword.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zstandard

from ..errors import InputFileError
from .zfits_codecs import CTA_PROCESSINGS, undo_processing

__all__ = ["PROCESSINGS", "ZFitsColumn", "ZFitsTable", "find_header", "parse_cards"]

#: processing code -> name, of those decoded here
PROCESSINGS = {0: "raw", 7: "zlib", 23: "zstd", **CTA_PROCESSINGS}
_BLOCK = 2880
_TILE_HEADER = 16
#: ZFORM type code -> (signed, unsigned) numpy dtype, little-endian
_TYPES = {
    "B": ("i1", "u1"),
    "L": ("u1", "u1"),
    "I": ("<i2", "<u2"),
    "J": ("<i4", "<u4"),
    "K": ("<i8", "<u8"),
    "E": ("<f4", "<f4"),
    "D": ("<f8", "<f8"),
}


def _load_libzstd():
    """
    The system's zstd library (``libzstd.so.1``) for decoding whole frames into a
    buffer (``ZSTD_decompressDCtx``), None when there is none: python-zstandard
    (the fallback) decodes into a buffer only as a stream, and its bundled zstd took
    7 % more CPU on the samples of simulated DigiCam tiles (8-9 us per event: 115-120
    against 124-130, interleaved tile by tile; the decoded bytes are the same).
    """
    name = ctypes.util.find_library("zstd") or "libzstd.so.1"
    try:
        lib = ctypes.CDLL(name)
        lib.ZSTD_createDCtx.restype = ctypes.c_void_p
        lib.ZSTD_createDCtx.argtypes = []
        lib.ZSTD_freeDCtx.restype = ctypes.c_size_t
        lib.ZSTD_freeDCtx.argtypes = [ctypes.c_void_p]
        lib.ZSTD_decompressDCtx.restype = ctypes.c_size_t
        args = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.ZSTD_decompressDCtx.argtypes = [*args, ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        lib.ZSTD_getErrorName.restype = ctypes.c_char_p
        lib.ZSTD_getErrorName.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return lib


_LIBZSTD = _load_libzstd()


class _FrameDecoder:
    """A decompression context of the system's zstd library (`_load_libzstd`)."""

    def __init__(self, lib):
        self._lib = lib
        self._context = lib.ZSTD_createDCtx()
        if not self._context:
            raise MemoryError("ZSTD_createDCtx")

    def into(self, data, out: np.ndarray, size: int) -> None:
        """Decode the zstd frame ``data`` (its content: ``size`` bytes) into ``out``."""
        source = np.frombuffer(data, dtype=np.uint8)
        n = self._lib.ZSTD_decompressDCtx(
            self._context, out.ctypes.data, size, source.ctypes.data, len(source)
        )
        if self._lib.ZSTD_isError(n):
            raise ValueError(self._lib.ZSTD_getErrorName(n).decode("ascii", "replace"))
        if n != size:
            raise ValueError(f"a zstd frame of {n} bytes, declared {size}")

    def close(self) -> None:
        if self._context:
            self._lib.ZSTD_freeDCtx(self._context)
            self._context = None


@dataclass(frozen=True)
class ZFitsColumn:
    """A column of a zfits table: name, position, numpy dtype of its values."""

    name: str
    index: int
    dtype: np.dtype
    #: repeat count of ``ZFORM`` (1: a scalar field)
    count: int


def _card_value(text: str):
    """The value of a header card's value field: str, int, float or bool."""
    text = text.strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        while end + 1 < len(text) and text[end + 1] == "'":  # '' is a quote
            end = text.find("'", end + 2)
        return text[1:end].replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text in ("T", "F"):
        return text == "T"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _read_header(fd: int, start: int) -> tuple[dict, int]:
    """
    The keywords of the header starting at byte ``start`` of the open file ``fd`` (a
    plain dict: astropy's parser costs milliseconds per header) and its data start.
    """
    header, position = {}, start
    while True:
        block = os.pread(fd, _BLOCK, position)
        if len(block) < _BLOCK:
            raise ValueError(f"no END card in the header at byte {start}")
        position += _BLOCK
        if parse_cards(block, header):
            return header, position


def parse_cards(cards: bytes, header: dict) -> bool:
    """
    Add the keywords of the 80-byte header ``cards`` to ``header`` (a plain dict; the
    first of repeated keywords kept) up to an ``END`` card; True if there was one.
    """
    for i in range(0, len(cards) - 79, 80):
        card = cards[i : i + 80].decode("ascii", "replace")
        keyword = card[:8].rstrip()
        if keyword == "END":
            return True
        if card[8:10] == "= " and keyword not in header:
            header[keyword] = _card_value(card[10:])
    return False


def find_header(fd: int, extname: str) -> tuple[dict, int]:
    """
    The keywords and data start of the first HDU named ``extname`` of the open file
    ``fd`` (`ZFitsTable`'s header parser); ValueError if there is none.
    """
    position = 0
    while True:
        header, data_start = _read_header(fd, position)
        if header.get("EXTNAME") == extname:
            return header, data_start
        size = header.get("NAXIS1", 0) * header.get("NAXIS2", 0) + header.get("PCOUNT", 0)
        position = data_start + (size + _BLOCK - 1) // _BLOCK * _BLOCK


def _column_dtype(header: dict, n: int) -> tuple[np.dtype, int]:
    zform = str(header[f"ZFORM{n}"]).strip()
    count = int(zform[:-1] or 1)
    signed, unsigned = _TYPES[zform[-1]]
    return np.dtype(unsigned if f"TZERO{n}" in header else signed), count


class ZFitsTable:
    """
    A zfits table of a file, decoded column by column and tile by tile.

    Parameters
    ----------
    path : Path or str
        The FITS file.
    extname : str
        ``EXTNAME`` of the table.
    """

    def __init__(self, path: Path | str, extname: str = "Events"):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            self._open(extname)
        except Exception:
            self.close()
            raise

    def _open(self, extname: str) -> None:
        header, data_start = find_header(self._fd, extname)
        self.header = header
        self.n_rows = int(header["ZNAXIS2"])
        self.rows_per_tile = int(header["ZTILELEN"])
        self.n_tiles = int(header["NAXIS2"])
        n_fields = int(header["TFIELDS"])
        catalog = os.pread(self._fd, header["NAXIS1"] * self.n_tiles, data_start)
        #: (n_tiles, n_columns, 2): size and heap offset of each compressed block
        self.catalog = np.frombuffer(catalog, dtype=">i8").reshape(self.n_tiles, n_fields, 2)
        self.heap = data_start + int(header["ZHEAPPTR"])
        self.columns = {}
        for n in range(1, n_fields + 1):
            dtype, count = _column_dtype(header, n)
            name = header[f"TTYPE{n}"]
            self.columns[name] = ZFitsColumn(name, n - 1, dtype, count)
        self._zstd = zstandard.ZstdDecompressor()
        self._frames = None if _LIBZSTD is None else _FrameDecoder(_LIBZSTD)

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if getattr(self, "_frames", None) is not None:
            self._frames.close()
            self._frames = None

    def __enter__(self) -> ZFitsTable:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tile_rows(self, tile: int) -> tuple[int, int]:
        """First row and end (exclusive) of ``tile``."""
        start = tile * self.rows_per_tile
        return start, min(start + self.rows_per_tile, self.n_rows)

    def _block(self, name: str, tile: int, header_only: bool = False):
        """Ordering, processings and data of a column's block (header only: no data)."""
        size, offset = self.catalog[tile, self.columns[name].index]
        start = self.heap + int(offset)
        head = os.pread(self._fd, 10, start)
        n_processings = head[9] if len(head) == 10 else 0
        end = 10 + 2 * n_processings
        block = os.pread(self._fd, end if header_only else int(size), start)
        if len(block) < end or (not header_only and len(block) != int(size)):
            raise ValueError(f"a block of {len(block)} of {int(size)} bytes")
        processings = np.frombuffer(block[10:end], dtype="<u2").tolist()
        return block[8:9], processings, memoryview(block)[end:]

    def unsupported(self, names) -> str | None:
        """Why the columns ``names`` (those present) cannot be decoded here, or None."""
        if self.header.get("ZSHRINK", 1) != 1:
            return f"catalog shrink factor ZSHRINK={self.header['ZSHRINK']}"
        for name in names:
            if name not in self.columns:
                continue
            for tile in range(self.n_tiles):
                ordering, processings, _ = self._block(name, tile, header_only=True)
                unknown = [p for p in processings if p not in PROCESSINGS]
                if unknown:
                    return f"column {name}: processing {unknown[0]} (not decoded here)"
                if ordering != b"C":
                    return f"column {name}: block ordering {ordering!r}"
        return None

    def _decompress(self, name: str, tile: int, out: np.ndarray | None = None):
        """The decoded bytes of a block; into ``out`` (see `read`) when it can be."""
        _, processings, data = self._block(name, tile)
        if out is not None and processings == [23]:
            decoded = self._zstd_into(data, out)
            if decoded is not None:
                return decoded
        for processing in reversed(processings):
            if processing == 7:
                data = zlib.decompress(data)
            elif processing == 23:
                data = self._zstd.decompress(data)
            elif processing != 0:
                data = undo_processing(processing, bytes(data))
        return data

    def _zstd_into(self, data, out: np.ndarray) -> np.ndarray | None:
        """
        A zstd frame decoded into the start of ``out`` (a view of it), or None when
        its size is not in the frame header or exceeds ``out``: no fresh 13 MB
        output per tile, whose first touch cost about 15 us per DigiCam event.
        """
        size = zstandard.get_frame_parameters(data).content_size
        if size == zstandard.CONTENTSIZE_UNKNOWN or size > len(out):
            return None
        plain = out.dtype == np.uint8 and out.flags.c_contiguous and out.flags.writeable
        if self._frames is not None and plain:
            self._frames.into(data, out, size)
            return out[:size]
        target = memoryview(out)[:size]
        reader = self._zstd.stream_reader(data, read_size=len(data))
        n = 0
        while n < size and (got := reader.readinto(target[n:])):
            n += got
        if n != size or reader.read(1):
            raise ValueError(f"a zstd frame of {n} bytes, declared {size}")
        return out[:size]

    def read(self, name: str, tile: int, out: np.ndarray | None = None) -> np.ndarray | None:
        """
        The values of column ``name`` in the rows of ``tile``: (n_rows,) for a scalar
        field, (n_rows, n_values) for an array field; None if the table has no such
        column (a protobuf field never filled).

        ``out``: a uint8 buffer the values of a zstd block are decoded into (views of
        it are returned; other codings, or a buffer too small, give new arrays).

        Raises
        ------
        InputFileError
            ``<file>: events <a> to <b> (tile, column) cannot be decoded``: a damaged
            block, or arrays of different lengths in one tile.
        """
        column = self.columns.get(name)
        if column is None:
            return None
        first, end = self.tile_rows(tile)
        try:
            return self._values(column, self._decompress(name, tile, out), end - first)
        except (ValueError, zlib.error, zstandard.ZstdError) as err:
            problem = str(err)
        raise InputFileError(
            f"{self.path}: events {first} to {end - 1} (tile {tile}, column {name})"
            f" cannot be decoded ({problem})"
        )

    def read_first(self, name: str, tile: int = 0) -> np.ndarray | None:
        """
        The values of column ``name`` in the first row of ``tile`` (an array field's
        array, a scalar as one value); None without the column. A zstd block is
        decoded only as far as that row (the first event's samples: 130 kB of a 13 MB
        tile, 0.2 against 12 ms); other codings are decoded whole (`read`).
        """
        column = self.columns.get(name)
        if column is None:
            return None
        _, processings, data = self._block(name, tile)
        if processings != [23]:
            return self.read(name, tile)[0:1].reshape(-1)
        first, end = self.tile_rows(tile)
        try:
            reader = self._zstd.stream_reader(data, read_size=len(data))
            if column.count == 1:
                values = _read_exactly(reader, column.dtype.itemsize)
            else:
                length = int(np.frombuffer(_read_exactly(reader, 4), dtype="<u4")[0])
                values = _read_exactly(reader, length)
            return np.frombuffer(values, dtype=column.dtype)
        except (ValueError, zstandard.ZstdError) as err:
            problem = str(err)
        raise InputFileError(
            f"{self.path}: event {first} (tile {tile}, column {name}) cannot be decoded ({problem})"
        )

    @staticmethod
    def _values(column: ZFitsColumn, data, n_rows: int) -> np.ndarray:
        itemsize = column.dtype.itemsize
        # a buffer's view stays its view (its base: the buffer, whose reuse the caller
        # manages); bytes become a read-only array
        data = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
        if column.count == 1 and len(data) == n_rows * itemsize:
            return data.view(column.dtype)
        if len(data) < 4 or n_rows == 0:
            raise ValueError(f"{len(data)} bytes for {n_rows} rows")
        length = int(data[:4].view("<u4")[0])
        if length % itemsize or len(data) != n_rows * (4 + length):
            raise ValueError(f"{len(data)} bytes: not {n_rows} arrays of {length} bytes")
        rows = data.reshape(n_rows, 4 + length)
        lengths = np.ascontiguousarray(rows[:, :4]).view("<u4")[:, 0]
        if (lengths != length).any():
            raise ValueError("arrays of different lengths in one tile")
        return rows[:, 4:].view(column.dtype)


def _read_exactly(reader, size: int) -> bytes:
    """``size`` decoded bytes from a zstd stream reader (ValueError if it ends first)."""
    chunks, n = [], 0
    while n < size:
        chunk = reader.read(size - n)
        if not chunk:
            raise ValueError(f"the block ends after {n} of {size} bytes")
        chunks.append(chunk)
        n += len(chunk)
    return b"".join(chunks)
