"""
The zfits tile processings of the CTA/FACT camera software that are not general-purpose
compressors, undone on 16-bit words with numpy and numba.

Established on the real 2017 DigiCam file against protozfits' decoding of the same rows
(``tests/io/test_digicam_tiles.py``); each undoes, on the whole decompressed block of
a tile (all its rows, with their length prefixes, as little-endian 16-bit words):

- ``1`` smoothing (FACT): ``w[i] -= (w[i - 1] + w[i - 2]) / 2`` in int16, C division;
- ``2`` Huffman (FACT ``huffman16``): a uint32 byte count, then the Huffman stream;
- ``3`` differences: the first word, then each word minus the previous one (mod 2^16);
- ``5`` byte split: the even bytes, then the odd bytes;
- ``12`` Huffman of two halves: two uint32 byte counts, then the two streams;
- ``16`` an offset of 128 added to every word (mod 2^16).

A Huffman stream (FACT): uint64 number of words, uint64 number of symbols, per symbol
its uint16 value, uint8 code length and the code (least significant bit first, in
whole bytes), then the codes of the words, packed from the least significant bit.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["CTA_PROCESSINGS", "huffman_decode", "undo_processing"]

#: processing code -> name, of those undone here
CTA_PROCESSINGS = {
    1: "FACT smoothing",
    2: "Huffman",
    3: "differences",
    5: "byte split",
    12: "Huffman of two halves",
    16: "offset 128",
}
#: width (bits) of the Huffman decoder's first lookup table (the frequent, short codes)
_FAST_BITS = 11
#: widest second lookup table (bits); longer codes are searched
_MAX_TABLE_BITS = 20


@numba.njit(cache=True, nogil=True)
def _code_table(data, start, n_symbols):
    """Symbols, code lengths and codes of a Huffman stream's table; end of the table."""
    symbols = np.empty(n_symbols, dtype=np.uint16)
    lengths = np.zeros(n_symbols, dtype=np.int64)
    codes = np.zeros(n_symbols, dtype=np.uint64)
    position = start
    for i in range(n_symbols):
        symbols[i] = np.uint16(data[position]) | (np.uint16(data[position + 1]) << np.uint16(8))
        position += 2
        if n_symbols == 1:
            break
        lengths[i] = data[position]
        position += 1
        for k in range((lengths[i] + 7) // 8):
            codes[i] |= np.uint64(data[position + k]) << np.uint64(8 * k)
        position += (lengths[i] + 7) // 8
    return symbols, lengths, codes, position


@numba.njit(cache=True, nogil=True)
def _lookup(symbols, lengths, codes, bits, min_length):
    """A table of ``2**bits`` entries: symbol and length of the codes of ``min_length``..bits."""
    size = 1 << bits
    table_symbol = np.zeros(size, dtype=np.uint16)
    table_length = np.zeros(size, dtype=np.uint8)
    for i in range(len(symbols)):
        if min_length <= lengths[i] <= bits:
            for key in range(codes[i], size, 1 << lengths[i]):
                table_symbol[key] = symbols[i]
                table_length[key] = lengths[i]
    return table_symbol, table_length


@numba.njit(cache=True, nogil=True)
def _huffman_kernel(stream, symbols, lengths, codes, out):
    """Decode ``len(out)`` words of ``stream`` into ``out``; False on a bad code."""
    fast_bits = _FAST_BITS
    wide_bits = min(max(lengths.max(), fast_bits + 1), _MAX_TABLE_BITS)
    fast_symbol, fast_length = _lookup(symbols, lengths, codes, fast_bits, 1)
    wide_symbol, wide_length = _lookup(symbols, lengths, codes, wide_bits, fast_bits + 1)
    buffer = np.uint64(0)
    n_bits = 0
    position = 0
    for j in range(len(out)):
        while n_bits <= 56 and position < len(stream):
            buffer |= np.uint64(stream[position]) << np.uint64(n_bits)
            position += 1
            n_bits += 8
        key = buffer & np.uint64((1 << fast_bits) - 1)
        length = np.int64(fast_length[key])
        symbol = fast_symbol[key]
        if length == 0:
            key = buffer & np.uint64((1 << wide_bits) - 1)
            length = np.int64(wide_length[key])
            symbol = wide_symbol[key]
        if length == 0:  # longer than the wide table
            for i in range(len(symbols)):
                mask = (np.uint64(1) << np.uint64(lengths[i])) - np.uint64(1)
                if lengths[i] > wide_bits and (buffer & mask) == codes[i]:
                    length, symbol = np.int64(lengths[i]), symbols[i]
                    break
        if length == 0 or length > n_bits:
            return False
        out[j] = symbol
        buffer >>= np.uint64(length)
        n_bits -= length
    return True


def huffman_decode(data: bytes, start: int, end: int) -> np.ndarray:
    """The uint16 words of the Huffman stream ``data[start:end]``."""
    n_words, n_symbols = np.frombuffer(data[start : start + 16], dtype="<u8").tolist()
    array = np.frombuffer(data, dtype=np.uint8)
    symbols, lengths, codes, position = _code_table(array, start + 16, n_symbols)
    if n_symbols == 1:
        return np.full(n_words, symbols[0], dtype=np.uint16)
    if lengths.max(initial=0) > 56:
        raise ValueError("Huffman code longer than 56 bits")
    out = np.empty(n_words, dtype=np.uint16)
    if not _huffman_kernel(array[position:end], symbols, lengths, codes, out):
        raise ValueError("unknown Huffman code in the stream")
    return out


def _huffman_blocks(data: bytes, n_streams: int) -> bytes:
    sizes = np.frombuffer(data[: 4 * n_streams], dtype="<u4").tolist()
    position, words = 4 * n_streams, []
    for size in sizes:
        words.append(huffman_decode(data, position, position + size))
        position += size
    if position != len(data):
        raise ValueError(f"Huffman streams of {position} bytes in a block of {len(data)}")
    return np.concatenate(words).tobytes()


@numba.njit(cache=True, nogil=True)
def _cumulative_sum(words):
    for i in range(1, len(words)):
        words[i] = words[i] + words[i - 1]  # uint16: modulo 2**16


@numba.njit(cache=True, nogil=True)
def _unsmooth(words):
    for i in range(2, len(words)):
        # C: int16 operands promoted to int, division truncated toward zero
        total = np.int64(words[i - 1]) + np.int64(words[i - 2])
        half = abs(total) // 2 * (1 if total >= 0 else -1)
        words[i] = np.int16(np.int64(words[i]) + half)


def undo_processing(processing: int, data: bytes) -> bytes:
    """``data`` with processing ``processing`` (one of `CTA_PROCESSINGS`) undone."""
    if processing == 2:
        return _huffman_blocks(data, 1)
    if processing == 12:
        return _huffman_blocks(data, 2)
    if len(data) % 2:
        raise ValueError(f"processing {processing} of an odd number of bytes")
    if processing == 5:
        halves = np.frombuffer(data, dtype=np.uint8).reshape(2, -1)
        return np.ascontiguousarray(halves.T).tobytes()
    if processing == 3:
        words = np.frombuffer(data, dtype="<u2").copy()
        _cumulative_sum(words)
        return words.tobytes()
    if processing == 16:
        return (np.frombuffer(data, dtype="<u2") - np.uint16(128)).tobytes()
    if processing == 1:
        words = np.frombuffer(data, dtype="<i2").copy()
        _unsmooth(words)
        return words.tobytes()
    raise ValueError(f"processing {processing} is not supported")
