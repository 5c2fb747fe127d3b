"""
Chunked R1 reading straight from the tables of a ctapipe / iactpipe HDF5 file.

ctapipe's ``HDF5EventSource`` builds containers for every event (about 2.5 ms per
telescope event for DigiCam, more than all the physics); here the waveforms of a
chunk of array events are read as one slice per telescope table and decoded with
the column's fixed-point transform. Rows come out in the order the per-event path
processes them: array event, then telescope id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tables

from ..io.dataformat import DL1_SUBARRAY_TRIGGER_TABLE, R1_TEL_GROUP
from .checksum import ChunkedRowReader, checksum_only

__all__ = ["R1Chunk", "HDF5R1ChunkReader", "event_keys"]

TRIGGER_TABLE = DL1_SUBARRAY_TRIGGER_TABLE
R1_GROUP = R1_TEL_GROUP
#: epoch of ctao_high_res times as MJD in the TAI scale (what ctapipe's
#: ``ctao_high_res_to_time(...).tai.mjd`` gives for 0 s)
_UNIX_TAI_EPOCH_MJD = 40587.0


def event_keys(obs_id: np.ndarray, event_id: np.ndarray) -> np.ndarray:
    """One int64 key per event; obs ids below 2**23 and event ids below 2**40."""
    return (np.asarray(obs_id, dtype=np.int64) << 40) + np.asarray(event_id, dtype=np.int64)


@dataclass
class R1Chunk:
    """
    R1 data of the telescope events of a run of array events.

    Rows are grouped by telescope (``parts``, as read); ``order`` gives them in the
    per-event path's order (array event, then telescope id).
    """

    #: positions of the chunk's array events in the trigger table
    event_positions: np.ndarray
    obs_id: np.ndarray
    event_id: np.ndarray
    tel_id: np.ndarray
    #: array-event position of each row
    position: np.ndarray
    #: per telescope, ``(rows, start)``: the rows read as a C-contiguous 2D array
    #: whose columns ``start:`` hold the (n_pixels, n_samples) samples of the single
    #: gain channel (see `~iactpipe.batch.extraction.extract_local_peak`);
    #: value = float32((stored - offset) / scale)
    samples: list
    n_samples: int
    offset: float
    scale: float
    #: bool (n_rows, n_pixels): pixels without a stored gain channel
    unusable: np.ndarray
    #: telescope trigger time as MJD (TAI)
    time_mjd: np.ndarray
    #: per row: peak-time shift (ns) and charge factor per pixel, or None (the
    #: monitoring coefficients of event sources that have them)
    time_shift: list | None = None
    factor: list | None = None
    #: stored values that code NaN / +inf / -inf (the fixed-point coding's), checked
    #: by the engine with the extremes the extraction finds
    codes: tuple = ()

    @property
    def order(self) -> np.ndarray:
        """Row indices sorted by (array event, telescope id)."""
        return np.lexsort((self.tel_id, self.position))


def _as_samples(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """The rows as a 2D array of the waveform dtype, and the waveform's first column."""
    dtype, offset = rows.dtype.fields["waveform"][:2]
    base = dtype.base
    if rows.flags.c_contiguous and rows.dtype.itemsize % base.itemsize == 0:
        if offset % base.itemsize == 0:
            flat = rows.view(base).reshape(len(rows), rows.dtype.itemsize // base.itemsize)
            return flat, offset // base.itemsize
    # not aligned: copy the first gain channel
    waveforms = np.ascontiguousarray(rows["waveform"][:, 0])
    return waveforms.reshape(len(rows), -1), 0


def fixed_point_coding(table: tables.Table, column: str) -> tuple[float, float, tuple]:
    """
    ``(offset, scale, special codes)`` of a ctapipe FixedPointColumnTransform column
    (value = (stored - offset) / scale); ``(0, 1, ())`` for a plain column.
    """
    attrs = table.attrs
    names = attrs._f_list()
    fields = {attrs[k]: k[: -len("_NAME")] for k in names if k.endswith("_NAME")}
    prefix = fields.get(column)
    key = f"{prefix}_TRANSFORM"
    if prefix is None or key not in names or attrs[key] != "fixed_point":
        return 0.0, 1.0, ()
    codes = tuple(int(attrs[f"{prefix}_{k}_VALUE"]) for k in ("NAN", "POSINF", "NEGINF"))
    offset = float(attrs[f"{prefix}_TRANSFORM_OFFSET"])
    return offset, float(attrs[f"{prefix}_TRANSFORM_SCALE"]), codes


class HDF5R1ChunkReader:
    """
    Iterate over an HDF5 R1 file in chunks of array events.

    Parameters
    ----------
    h5file : tables.File
        The open input file.
    tel_ids : sequence of int
        Telescopes to read (those with an R1 table are used).
    max_events : int or None
        Read only the first array events (with a triggered telescope) of the trigger
        table.
    chunk_size : int
        Array events per chunk.
    """

    def __init__(self, h5file: tables.File, tel_ids, max_events: int | None, chunk_size: int):
        self.h5file = h5file
        trigger = h5file.get_node(TRIGGER_TABLE)
        # the whole trigger table: rows beyond max_events must still be recognised
        self.trigger = trigger.read()
        # as HDF5EventSource: events without a triggered telescope are skipped, and
        # max_events counts the events yielded
        triggered = self.trigger["tels_with_trigger"].any(axis=1)
        self.event_positions = np.nonzero(triggered)[0][:max_events]
        self.n_events = len(self.event_positions)
        self.keys = event_keys(self.trigger["obs_id"], self.trigger["event_id"])
        self._order = np.argsort(self.keys, kind="stable")
        self.chunk_size = chunk_size
        self.tables = {}
        for tel_id in sorted(tel_ids):
            path = f"{R1_GROUP}/tel_{tel_id:03d}"
            if path in h5file:
                self.tables[tel_id] = h5file.get_node(path)
        self._cursor = dict.fromkeys(self.tables, 0)
        self._pending = {tel_id: None for tel_id in self.tables}
        # rows are read into reused buffers: a fresh array of a chunk of waveforms
        # (26 MB for 200 DigiCam events) costs the kernel's page faults and zeroing,
        # about 40 us per telescope event, as much as the HDF5 read itself
        self._buffers = {tel_id: [] for tel_id in self.tables}
        # ctapipe writes R1 uncompressed but checksummed: read the chunks raw and
        # verify them here, three times faster than HDF5's own check
        self._raw = {
            tel_id: ChunkedRowReader(table)
            for tel_id, table in self.tables.items()
            if checksum_only(table)
        }
        self._in_use = set()  # ids of the buffers the current chunk's rows are in
        self._codings = {}

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Trigger-table position of each event key; -1 where absent."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1)
        sorted_keys = self.keys[self._order]
        index = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
        return np.where(sorted_keys[index] == keys, self._order[index], -1)

    def __iter__(self) -> Iterator[R1Chunk]:
        for start in range(0, self.n_events, self.chunk_size):
            events = self.event_positions[start : start + self.chunk_size]
            yield self._read_chunk(events)

    def _rows_before(self, tel_id: int, stop: int):
        """Rows of telescope ``tel_id`` up to array event ``stop`` (exclusive), in order."""
        table = self.tables[tel_id]
        parts = []
        while True:
            pending = self._pending[tel_id]
            if pending is None:
                first = self._cursor[tel_id]
                if first >= table.nrows:
                    break
                last = min(first + self.chunk_size, table.nrows)
                data = self._read_rows(tel_id, first, last)
                self._cursor[tel_id] = last
                positions = self.positions(event_keys(data["obs_id"], data["event_id"]))
                if np.any(positions < 0):
                    raise ValueError(f"{table._v_pathname}: events missing from {TRIGGER_TABLE}")
                if np.any(np.diff(positions) < 0):
                    raise ValueError(f"{table._v_pathname}: rows not in trigger-table order")
                pending = (data, positions)
            data, positions = pending
            n = int(np.searchsorted(positions, stop))
            parts.append((data[:n], positions[:n]))
            self._pending[tel_id] = None if n == len(data) else (data[n:], positions[n:])
            if n < len(data):
                break
        return parts

    def _coding(self, table: tables.Table) -> tuple:
        # read once per table: attribute access costs about 0.4 ms per table per chunk
        if table not in self._codings:
            self._codings[table] = fixed_point_coding(table, "waveform")
        return self._codings[table]

    def _read_rows(self, tel_id: int, first: int, last: int) -> np.ndarray:
        """Rows ``first:last`` of a telescope table, in a buffer no live row uses."""
        table = self.tables[tel_id]
        buffer = None
        for candidate in self._buffers[tel_id]:
            if id(candidate) not in self._in_use:
                buffer = candidate
                break
        raw = self._raw.get(tel_id)
        if buffer is None:
            if raw is None:
                buffer = np.empty(self.chunk_size, dtype=table.dtype)
            else:
                buffer = raw.buffer(self.chunk_size)
            self._buffers[tel_id].append(buffer)
        self._in_use.add(id(buffer))
        if raw is not None:
            return raw.read(first, last, buffer)
        return table.read(first, last, out=buffer[: last - first])

    def _read_chunk(self, events: np.ndarray) -> R1Chunk:
        # the previous chunk is processed: only the pending rows' buffers stay in use
        self._in_use = {
            id(pending[0].base) for pending in self._pending.values() if pending is not None
        }
        parts = []
        stop = events[-1] + 1
        for tel_id, table in self.tables.items():
            for data, positions in self._rows_before(tel_id, stop):
                if len(data):
                    parts.append((tel_id, positions, data, table))
        return self._assemble(events, parts)

    def _assemble(self, event_positions: np.ndarray, parts) -> R1Chunk:
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return R1Chunk(
                event_positions,
                empty,
                empty,
                empty,
                empty,
                [],
                0,
                0.0,
                1.0,
                np.zeros((0, 0), bool),
                np.zeros(0),
            )
        codings = {self._coding(p[3]) for p in parts}
        if len(codings) > 1:
            raise ValueError("telescope tables with different waveform codings")
        offset, scale, codes = codings.pop()
        _, n_pixels, n_samples = parts[0][2].dtype["waveform"].shape
        samples = [_as_samples(p[2]) for p in parts]
        status = np.concatenate([p[2]["pixel_status"] for p in parts])
        # as ctapipe's HDF5EventSource: one channel, no gain stored -> outlier
        unusable = (status & 0b1100) == 0
        times = np.concatenate([p[2]["event_time"] for p in parts]).astype(np.float64)
        return R1Chunk(
            event_positions=event_positions,
            obs_id=np.concatenate([p[2]["obs_id"] for p in parts]),
            event_id=np.concatenate([p[2]["event_id"] for p in parts]),
            tel_id=np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in parts]),
            position=np.concatenate([p[1] for p in parts]),
            samples=samples,
            n_samples=n_samples,
            offset=offset,
            scale=scale,
            unusable=unusable,
            time_mjd=_UNIX_TAI_EPOCH_MJD + (times[:, 0] + times[:, 1] * 0.25e-9) / 86400.0,
            codes=codes,
        )
