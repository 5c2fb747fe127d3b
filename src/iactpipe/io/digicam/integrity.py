"""
Integrity of DigiCam zfits files, checked before protozfits decodes them.

protozfits trusts the file: a truncated file (a copy or a camera server stopped
mid-file) crashes the process (segmentation fault) and flipped bytes inside a compressed
tile decode silently into wrong samples. Both are found cheaply from the FITS structure:

- truncation: the ``Events`` table declares its size (``NAXIS1 x NAXIS2 + PCOUNT``);
  the tile catalog (first rows of the table: per tile and column the size and heap
  offset of the compressed block) says which tiles, hence which events, are complete;
- corruption: the FITS ``DATASUM`` keyword is the 32-bit ones' complement checksum of
  the table's data written with the file (real DigiCam files carry it too); any changed
  byte changes it.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
from numba import njit

from ..errors import InputFileError
from .tiles import parse_cards

__all__ = ["check_zfits_integrity", "fits_checksum"]

_BLOCK = 2880


def fits_checksum(data: bytes, sum32: int = 0) -> int:
    """The FITS 32-bit ones' complement checksum of ``data`` (a multiple of 4 bytes)."""
    total = int(_big_endian_sum(np.frombuffer(data, dtype="<u4"))) + sum32
    while total >> 32:  # end-around carry
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


@njit(cache=True, nogil=True)
def _big_endian_sum(words):
    """
    The sum (uint64) of big-endian 32-bit words read as native ones: byte-swapped in
    the loop (numpy's sum of a ``>u4`` array swaps through a buffer: 4x the time,
    about 10 ms per 55 MB file).
    """
    total = np.uint64(0)
    low, high = np.uint32(0xFF), np.uint32(0xFF00)
    for i in range(words.shape[0]):
        w = words[i]
        swapped = ((w & low) << np.uint32(24)) | ((w & high) << np.uint32(8))
        swapped |= ((w >> np.uint32(8)) & high) | (w >> np.uint32(24))
        total += np.uint64(swapped)
    return total


def _headers(raw: bytes) -> list[tuple[int, int, dict]]:
    """
    (header start, data start, keywords) of every HDU whose header is complete; the
    keywords parsed as a plain dict (astropy's parser took 3 ms per header, 6 ms per
    file of a run).
    """
    out, position = [], 0
    while position + _BLOCK <= len(raw):
        end = position
        while end + 80 <= len(raw) and raw[end : end + 8] != b"END     ":
            end += 80
        if end + 80 > len(raw):
            break
        data_start = (end + 80 + _BLOCK - 1) // _BLOCK * _BLOCK
        header = {}
        parse_cards(raw[position : end + 80], header)
        out.append((position, data_start, header))
        size = header.get("NAXIS1", 0) * header.get("NAXIS2", 0) + header.get("PCOUNT", 0)
        if header.get("NAXIS", 0) == 0:
            size = 0
        position = data_start + (size + _BLOCK - 1) // _BLOCK * _BLOCK
    return out


def _first_incomplete_row(raw: bytes, data_start: int, header: dict) -> int:
    """Index of the first event whose compressed tile is not fully in ``raw``."""
    n_fields, n_tiles = header["TFIELDS"], header["NAXIS2"]
    catalog_end = data_start + header["NAXIS1"] * n_tiles
    if catalog_end > len(raw):
        return 0
    catalog = np.frombuffer(raw[data_start:catalog_end], dtype=">i8").reshape(n_tiles, n_fields, 2)
    heap = data_start + header.get("THEAP", header["NAXIS1"] * n_tiles)
    tile_end = heap + (catalog[:, :, 0] + catalog[:, :, 1]).max(axis=1)
    complete = tile_end <= len(raw)
    n_complete = int(np.argmin(complete)) if not complete.all() else n_tiles
    return n_complete * int(header.get("ZTILELEN", 1))


def _map(path: Path):
    """
    The file's bytes, memory-mapped (read only; unmapped when the last reference
    goes): the page cache read in place, not copied (a run's files are hundreds of MB).
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        # the page table filled in one call (Linux): a fault per 4 kB page costs
        # about 1 ms per file of 1000 DigiCam events
        populate = getattr(mmap, "MAP_POPULATE", 0)
        return mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | populate, prot=mmap.PROT_READ)


def check_zfits_integrity(path: Path | str, checksum: bool = True) -> None:
    """
    Raise `InputFileError` (``<file>: <problem>``) if ``path`` is truncated or corrupted.

    Parameters
    ----------
    path : Path or str
        A zfits file with an ``Events`` table.
    checksum : bool
        Also compare the ``DATASUM`` of the ``Events`` table with its data.
    """
    path = Path(path)
    raw = _map(path)
    events = [(h0, d0, h) for h0, d0, h in _headers(raw) if h.get("EXTNAME") == "Events"]
    if not events:
        raise InputFileError(f"{path}: no complete Events table header (truncated file?)")
    _, data_start, header = events[0]
    n_events = int(header.get("ZNAXIS2", header["NAXIS2"]))
    size = header["NAXIS1"] * header["NAXIS2"] + header["PCOUNT"]
    if data_start + size > len(raw):
        first_missing = _first_incomplete_row(raw, data_start, header)
        raise InputFileError(
            f"{path}: truncated: {len(raw)} of {data_start + size} bytes; events"
            f" {first_missing + 1} to {n_events} (of {n_events}) are missing or incomplete"
        )
    datasum = str(header.get("DATASUM", "")).strip()
    if checksum and datasum not in ("", "0"):
        data = memoryview(raw)[data_start : data_start + (size + _BLOCK - 1) // _BLOCK * _BLOCK]
        if len(data) % 4:  # the last block not padded: zeros do not change the sum
            data = bytes(data) + b"\0" * (-len(data) % 4)
        if fits_checksum(data) != int(datasum):
            raise InputFileError(
                f"{path}: corrupted: the Events data do not match their DATASUM checksum"
                f" (bytes changed after writing; the checksum covers all {n_events} events)"
            )
