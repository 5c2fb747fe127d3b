"""``ChunkedDataWriter``: ctapipe's ``DataWriter`` writing its event tables in chunks.

ctapipe's ``HDF5TableWriter`` converts and appends every container row by row (column
transforms called per value, one PyTables row per event and table): about 1.2 ms CPU per
simulated event. `ChunkedDataWriter` is the same ``DataWriter`` (same traits, header,
node paths, table schemas, attributes and reference metadata: ctapipe creates every table
from the first row, as it always does) whose table writer converts fixed-point array
columns (the R1 waveforms) in one pass straight into a chunk buffer, keeps the other
values of the following rows, and appends `ChunkedDataWriter.chunk_rows` rows at a time,
applying the time transform to whole columns: about 0.65 ms per event. The file holds the
same values as the ``DataWriter`` one (tested table by table, which also guards the
ctapipe 0.32 internals it builds on: ``DataWriter._setup_writer`` and the transform and
exclusion tables of ``HDF5TableWriter``).

Values other than the converted waveforms are kept by reference until written: a source
must not change the arrays of an event after yielding it (the toy simulator allocates
new ones per event).

`ChunkedDataWriter.write_block` writes an `~iactpipe.io.event_block.MCEventBlock` (MC
array events in columns, no containers): the events that create tables (the first one,
the first of each telescope) go through the container path above, so ctapipe still
makes every table, its schema and its attributes; the others are appended as whole
columns, converted by the tables' own column transforms (units, time, fixed point; the
R1 waveforms ideally converted by `ChunkedDataWriter.r1_waveform_encoder` as the source
makes them; the block's event times converted once per time transform and indexed for
each table, `_EventTimes`). The same file (tested against ``DataWriter`` on the block's
events).

The waveform tables' full HDF5 chunks are written directly, with their Fletcher-32
checksum (`~iactpipe.io.checksummed_chunks.ChecksummedChunkAppender`): the same stored
bytes per chunk, without HDF5's copies, its scalar checksum and the fresh buffer it
allocates per chunk (whose page faults made HDF5's append cost 0.1-0.35 ms per event,
half of it system time). For 1830 gamma events (issue 19) ``write_block`` takes about
0.09 ms per event, of which 0.07 ms append the 133 kB (0.03 ms of it the kernel
copying them into the page cache), plus 0.03 ms of encoding in the source, instead of
0.3 ms in ``__call__`` and about 0.2 ms of containers in the source.
"""

from __future__ import annotations

from collections import defaultdict

import astropy.units as u
import numpy as np
from astropy.time import Time
from ctapipe.containers import EventType
from ctapipe.core.traits import Int
from ctapipe.io import DataWriter
from ctapipe.io.hdf5tableio import HDF5TableWriter
from ctapipe.io.tableio import (
    EnumColumnTransform,
    FixedPointColumnTransform,
    QuantityColumnTransform,
    TelListToMaskTransform,
    TimeColumnTransform,
)
from numba import njit

from .checksummed_chunks import ChecksummedChunkAppender
from .event_block import G_CM2, PIXEL_STORED, MCEventBlock

__all__ = ["ChunkedDataWriter", "ChunkedHDF5TableWriter", "WaveformEncoder", "fixed_point"]

#: marks a row value already converted into the chunk buffer
_IN_BUFFER = object()


class ChunkedHDF5TableWriter(HDF5TableWriter):
    """``HDF5TableWriter`` appending rows in chunks (see the module docstring).

    Parameters
    ----------
    filename : str
        HDF5 file, opened as ``HDF5TableWriter`` does.
    chunk_rows : int
        Rows of one table kept before they are appended to it.
    **kwargs
        Passed to ``HDF5TableWriter``.
    """

    def __init__(self, filename, chunk_rows: int = 256, **kwargs):
        super().__init__(filename, **kwargs)
        self.chunk_rows = chunk_rows
        self._pending = defaultdict(list)
        self._buffers = {}
        self._block_buffers = {}  # `append_columns`
        self._appenders = {}  # per table: its ChecksummedChunkAppender, or None

    def adopt_setup(self, other: HDF5TableWriter):
        """Take over the column transforms and exclusions configured on ``other``
        (a writer that has not written any table yet)."""
        self._transform_regexps.update(other._transform_regexps)
        self._transforms.update(other._transforms)
        self._exclusions.update(other._exclusions)

    def column_transform(self, table_name: str, column: str):
        """The transform of ``column`` of a created table (None: stored as given)."""
        return self._transforms[table_name].get(column)

    def configured_transform(self, table_regexp: str, column: str):
        """The transform configured for ``column`` of the tables matching
        ``table_regexp`` (as given to ``add_column_transform_regexp``), or None."""
        return self._transform_regexps.get(table_regexp, {}).get(column)

    def append_columns(self, table_name: str, columns: dict):
        """Append whole columns (``{name: values}``, every column of the table) to a table
        already created from a first row, through its column transforms (enumerations and
        telescope masks given as stored; waveforms as lists of per-row arrays; event times
        as `_EventTimes`)."""
        table = self._tables[table_name]
        if set(columns) != set(table.colnames):
            raise ValueError(
                f"{table_name}: block columns {sorted(columns)} are not the table's"
                f" {sorted(table.colnames)}"
            )
        transforms = self._transforms[table_name]
        n_rows = len(next(iter(columns.values())))
        data = self._block_buffer(table_name, table.dtype, n_rows)
        for name, values in columns.items():
            transform = transforms.get(name)
            if isinstance(values, list):  # one array per row (waveforms)
                _fill_rows(data[name], values, transform)
                continue
            if isinstance(values, _EventTimes):
                data[name] = values.stored(transform)
                continue
            if isinstance(transform, FixedPointColumnTransform):
                values = fixed_point(transform, values)
            elif isinstance(transform, TimeColumnTransform | QuantityColumnTransform):
                values = transform(values)
            elif transform is not None and not isinstance(
                transform, EnumColumnTransform | TelListToMaskTransform
            ):
                raise TypeError(f"{table_name}.{name}: no block conversion for {transform}")
            data[name] = values
        self._append_rows(table_name, data)

    def _block_buffer(self, table_name: str, dtype: np.dtype, n_rows: int) -> np.ndarray:
        """``n_rows`` rows of a buffer kept per table: a new 8 MB array per block costs
        more in page faults than converting the waveforms into it."""
        buffers = self._block_buffers
        if table_name not in buffers or len(buffers[table_name]) < n_rows:
            buffers[table_name] = np.empty(n_rows, dtype=dtype)
        return buffers[table_name][:n_rows]

    def _append_row(self, table_name, containers):
        """Keep the row for `flush`: fixed-point array columns (waveforms) converted at
        once into the chunk's buffer, the other values as they are."""
        if table_name not in self._buffers:
            table = self._tables[table_name]
            fixed = {
                name: transform
                for name, transform in self._transforms[table_name].items()
                if isinstance(transform, FixedPointColumnTransform)
            }
            buffer = np.empty(self.chunk_rows, dtype=table.dtype)
            self._buffers[table_name] = (buffer, set(table.colnames), fixed)
        buffer, colnames, fixed = self._buffers[table_name]
        pending = self._pending[table_name]
        row = {}
        for container in containers:
            for name, value in container.items(add_prefix=self.add_prefix):
                if name not in colnames:
                    continue
                if name in fixed and np.ndim(value) > 0:
                    buffer[name][len(pending)] = fixed_point(fixed[name], value)
                    value = _IN_BUFFER
                row[name] = value
        pending.append(row)
        if len(pending) >= self.chunk_rows:
            self._flush_table(table_name)

    def flush(self):
        """Append every kept row to its table (the last rows of a waveform table that do
        not fill an HDF5 chunk stay with its `ChecksummedChunkAppender` until `close`)."""
        for table_name in list(self._pending):
            self._flush_table(table_name)

    def _flush_table(self, table_name: str):
        rows = self._pending.pop(table_name, [])
        if not rows:
            return
        table = self._tables[table_name]
        data = self._buffers[table_name][0][: len(rows)]
        for name in table.colnames:
            for k, row in enumerate(rows):
                if name not in row:
                    data[name][k] = table.coldflts[name]
            present = [
                k for k, row in enumerate(rows) if row.get(name, _IN_BUFFER) is not _IN_BUFFER
            ]
            if not present:
                continue
            values = self._column(table_name, name, [rows[k][name] for k in present])
            if len(present) == len(rows):
                data[name] = values
            else:
                for k, value in zip(present, values, strict=True):
                    data[name][k] = value
        self._append_rows(table_name, data)

    def _append_rows(self, table_name: str, data: np.ndarray):
        """Append converted rows (a buffer of this writer) to a table: the waveform
        tables' full chunks written directly (`ChecksummedChunkAppender`), the others
        by HDF5."""
        if table_name not in self._appenders:
            table = self._tables[table_name]
            suits = ChecksummedChunkAppender.suits(table)
            self._appenders[table_name] = ChecksummedChunkAppender(table) if suits else None
        appender = self._appenders[table_name]
        if appender is None:
            self._tables[table_name].append(data)
        else:
            appender.append(data)

    def _column(self, table_name: str, name: str, values: list):
        """The transformed values of one column (whole-column where exact)."""
        transform = self._transforms[table_name].get(name)
        if transform is None:
            return values
        if isinstance(transform, TimeColumnTransform) and _same_scale(values):
            return transform(Time(values))
        return [transform(v) for v in values]

    def close(self):
        """Append the kept rows, then close the file."""
        self.flush()
        for appender in self._appenders.values():
            if appender is not None:
                appender.finish()
        super().close()


def fixed_point(
    transform: FixedPointColumnTransform, values: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """``transform(values)`` for an array (not a scalar), in one pass for the float32 to
    8/16-bit integer case of the R1 waveforms (same values: tested against ctapipe's).
    ``out``: where to write them (e.g. a table row of the values' size), returned."""
    small = transform.target_dtype.kind in "iu" and transform.target_dtype.itemsize <= 2
    if not (small and transform.source_dtype == np.float32 and np.ndim(values) > 0):
        if out is None:
            return transform(values)
        out[...] = np.reshape(transform(values), out.shape)
        return out
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    direct = (
        out is not None
        and out.flags.c_contiguous
        and out.dtype == transform.target_dtype
        and out.size == flat.size
    )
    result = out.reshape(-1) if direct else np.empty(flat.shape, dtype=transform.target_dtype)
    _fixed_point_kernel(
        flat,
        np.float32(transform.scale),
        float(transform.offset),
        float(transform.minval),
        float(transform.maxval),
        (transform.nan, transform.neginf, transform.posinf),
        result,
    )
    if direct:
        return out
    if out is None:
        return result.reshape(np.shape(values))
    out[...] = result.reshape(out.shape)
    return out


@njit(cache=True)
def _fixed_point_kernel(values, scale, offset, minval, maxval, markers, out):
    """``FixedPointColumnTransform.__call__``: ``round(value * scale) + offset`` (the
    product in float32, rounding half to even: ``np.rint``), beyond the valid range
    -inf/inf, then the nan/-inf/inf markers. The markers are applied in a second loop
    over the few values out of range, so the main loop has no branch and vectorises."""
    nan_value, neginf_value, posinf_value = markers
    n_special = 0
    for k in range(values.size):
        scaled = np.rint(float(values[k] * scale)) + offset
        special = not (minval <= scaled <= maxval)  # out of range or nan
        n_special += special
        out[k] = scaled if not special else 0.0
    if n_special == 0:
        return
    for k in range(values.size):
        scaled = np.rint(float(values[k] * scale)) + offset
        if np.isnan(scaled):
            out[k] = nan_value
        elif scaled > maxval:
            out[k] = posinf_value
        elif scaled < minval:
            out[k] = neginf_value


def _same_scale(values: list) -> bool:
    """True for a list of scalar ``Time`` objects of one scale and format."""
    first = values[0]
    return all(
        isinstance(v, Time) and v.isscalar and v.scale == first.scale and v.format == first.format
        for v in values
    )


class ChunkedDataWriter(DataWriter):
    """ctapipe's ``DataWriter`` appending its event tables in chunks: the same file,
    faster (see `iactpipe.io.r1_writer`). Configured as ``DataWriter`` (its section
    applies) plus `chunk_rows`."""

    chunk_rows = Int(
        256,
        min=1,
        help="Rows of one table (e.g. R1 waveforms of one telescope) kept before writing",
    ).tag(config=True)

    def _setup_writer(self):
        super()._setup_writer()
        plain = self._writer
        plain.close()  # nothing written yet: reopen the file with the chunked writer
        writer = ChunkedHDF5TableWriter(
            str(self.output_path),
            chunk_rows=self.chunk_rows,
            parent=self,
            mode="a",
            add_prefix=True,
            filters=self._hdf5_filters,
        )
        writer.adopt_setup(plain)
        self._writer = writer
        self._block_tels_seen = set()  # telescopes whose tables exist (`write_block`)

    @property
    def r1_waveform_encoder(self) -> WaveformEncoder | None:
        """The conversion of R1 waveforms to their stored form (None: stored as they
        are), for `MCEventBlock.r1_stored`."""
        transform = self._writer.configured_transform("r1/event/telescope/.*", "waveform")
        return None if transform is None else WaveformEncoder(transform)

    def write_block(self, block: MCEventBlock):
        """Write the events of ``block`` (the file `__call__` writes from
        ``block.events()``). With DL1 or DL2 output asked for, event by event."""
        if (
            self.write_dl1_images
            or self.write_dl1_parameters
            or self.write_dl2
            or self.write_muon_parameters
        ):
            # tables the block does not hold (or with values it does not have)
            for event in block.events():
                self(event)
            return
        seen = self._block_tels_seen
        # the events that create tables (the first, a telescope's first) go through the
        # containers: ctapipe makes each table from its first row
        tel_ids, first = np.unique(block.tel_id, return_index=True)
        creating = {
            int(block.tel_event[k]) for t, k in zip(tel_ids, first, strict=True) if t not in seen
        }
        if not seen:
            creating.add(0)
        seen.update(tel_ids.tolist())
        start = 0
        for stop in [*sorted(creating), len(block)]:
            if stop > start:
                self._writer.flush()  # rows kept by the container path go first
                events = np.arange(start, stop)
                rows = np.flatnonzero((block.tel_event >= start) & (block.tel_event < stop))
                for table_name, columns in self._block_columns(block, events, rows).items():
                    self._writer.append_columns(table_name, columns)
            if stop < len(block):
                self(block.event(stop))
            start = stop + 1

    def _block_columns(self, block: MCEventBlock, events, rows) -> dict[str, dict]:
        """The columns of each table, before the tables' transforms, for ``events`` and
        their telescope ``rows`` of ``block``: what `DataWriter.__call__` writes."""
        event_ids = block.event_id[events]
        index = {"obs_id": np.full(len(events), block.obs_id), "event_id": event_ids}
        converted = {}  # the block's times, converted once per time transform
        time = _EventTimes(block.time, events, converted)
        mask = np.zeros((len(events), self._subarray.n_tels), dtype=bool)
        tel_index = self._subarray.tel_ids_to_indices(block.tel_id[rows])
        mask[np.searchsorted(events, block.tel_event[rows]), tel_index] = True
        subarray_type = np.full(len(events), EventType.SUBARRAY.value)
        tables = {
            "dl1/event/subarray/trigger": {
                **index,
                "time": time,
                "tels_with_trigger": mask,
                "event_type": subarray_type,
            },
            "simulation/event/subarray/shower": {**index, **_shower_columns(block, events)},
        }
        tel_index = {
            "obs_id": np.full(len(rows), block.obs_id),
            "event_id": block.event_id[block.tel_event[rows]],
            "tel_id": block.tel_id[rows].astype(np.int16),
        }
        tables["dl1/event/telescope/trigger"] = {
            **tel_index,
            "time": _EventTimes(block.time, block.tel_event[rows], converted),
            "event_type": np.full(len(rows), EventType.SUBARRAY.value),
            "n_trigger_pixels": block.n_trigger_pixels[rows],
        }
        for tel_id in np.unique(block.tel_id[rows]):
            tel_rows = rows[block.tel_id[rows] == tel_id]
            tables.update(self._telescope_columns(block, tel_rows, converted))
        return tables

    def _telescope_columns(
        self, block: MCEventBlock, rows: np.ndarray, converted: dict
    ) -> dict[str, dict]:
        """The columns of one telescope's tables for its ``rows`` of ``block``; waveforms
        as lists of per-event arrays (converted straight into the table rows);
        ``converted``: the `_EventTimes` cache of the block."""
        name = self.table_name(int(block.tel_id[rows[0]]))
        index = {
            "obs_id": np.full(len(rows), block.obs_id),
            "event_id": block.event_id[block.tel_event[rows]],
            "tel_id": block.tel_id[rows].astype(np.int16),
        }
        tables = {
            f"simulation/event/telescope/impact/{name}": {
                **index,
                "impact_distance": u.Quantity(block.impact_m[rows], u.m),
                "impact_distance_uncert": u.Quantity(np.zeros(len(rows)), u.m),
            },
            f"simulation/event/telescope/images/{name}": {
                **index,
                "true_image_sum": block.true_image_sum[rows],
            },
        }
        if self.write_r1_waveforms:
            n_pixels = len(block.r1[rows[0]])
            tables[f"r1/event/telescope/{name}"] = {
                **index,
                "event_type": np.full(len(rows), EventType.SUBARRAY.value),
                "event_time": _EventTimes(block.time, block.tel_event[rows], converted),
                "waveform": self._r1_waveforms(block, rows, f"r1/event/telescope/{name}"),
                "pixel_status": np.full((len(rows), n_pixels), PIXEL_STORED),
                "selected_gain_channel": np.zeros((len(rows), n_pixels), dtype=np.int8),
            }
        if self.write_r0_waveforms:
            tables[f"r0/event/telescope/{name}"] = {
                **index,
                "waveform": [block.r0[k] for k in rows],
            }
        return tables

    def _r1_waveforms(self, block: MCEventBlock, rows, table_name: str) -> list:
        """The R1 waveforms of ``rows``: as stored when the block has them converted by
        this table's own transform, else as they are (converted when appended)."""
        transform = self._writer.column_transform(table_name, "waveform")
        encoder = block.r1_encoder
        if block.r1_stored is not None and encoder is not None and encoder.transform is transform:
            return [_Stored(block.r1_stored[k]) for k in rows]
        return [block.r1[k] for k in rows]


class WaveformEncoder:
    """``fixed_point(transform, waveform)``: a writer's waveform conversion, called by a
    source on each waveform as it is made (`MCEventBlock.r1_stored`)."""

    def __init__(self, transform: FixedPointColumnTransform):
        self.transform = transform

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        return fixed_point(self.transform, waveform)


class _EventTimes:
    """Times of some events of a block for `ChunkedHDF5TableWriter.append_columns`: the
    stored values indexed from the block's times converted once per time transform
    (``scale``, ``format``) and block, instead of once per table (a conversion of
    astropy ``Time`` costs about 0.3 ms). The conversions are element-wise (TAI scale,
    then seconds and quarter nanoseconds of each time), so the values are the same.

    Parameters
    ----------
    times : astropy.time.Time
        The times of all events of the block.
    index : np.ndarray
        The events (indices into ``times``) of these rows.
    cache : dict
        Converted ``times`` per (scale, format), shared by the `_EventTimes` of a block.
    """

    __slots__ = ("cache", "index", "times")

    def __init__(self, times: Time, index: np.ndarray, cache: dict):
        self.times = times
        self.index = index
        self.cache = cache

    def __len__(self) -> int:
        return len(self.index)

    def stored(self, transform) -> np.ndarray:
        """The values as ``transform`` (a ``TimeColumnTransform``) stores them."""
        if not isinstance(transform, TimeColumnTransform):
            raise TypeError(f"event times with the column transform {transform}")
        key = (transform.scale, transform.format)
        if key not in self.cache:
            self.cache[key] = transform(self.times)
        return self.cache[key][self.index]


class _Stored:
    """A row value already in its stored form (no transform to apply)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray):
        self.values = values


def _fill_rows(column: np.ndarray, values: list, transform):
    """``column[k] = transform(values[k])`` for each row, the fixed-point conversion
    written straight into the row (one pass over the waveforms, no temporary)."""
    for k, value in enumerate(values):
        row = column[k]
        if isinstance(value, _Stored):
            row[...] = np.reshape(value.values, row.shape)
        elif isinstance(transform, FixedPointColumnTransform):
            fixed_point(transform, value, out=row)
        elif transform is None:
            row[...] = np.reshape(value, row.shape)
        else:
            raise TypeError(f"no per-row block conversion for {transform}")


def _shower_columns(block: MCEventBlock, events: np.ndarray) -> dict:
    """The shower table's columns (``SimulatedShowerContainer`` with the ``true_`` prefix)."""
    return {
        "true_energy": u.Quantity(block.energy_tev[events], u.TeV),
        "true_alt": u.Quantity(block.alt_rad[events], u.rad),
        "true_az": u.Quantity(block.az_rad[events], u.rad),
        "true_core_x": u.Quantity(block.core_x_m[events], u.m),
        "true_core_y": u.Quantity(block.core_y_m[events], u.m),
        "true_h_first_int": u.Quantity(block.h_first_int_m[events], u.m),
        "true_x_max": u.Quantity(block.x_max_g_cm2[events], G_CM2),
        "true_starting_grammage": u.Quantity(np.zeros(len(events)), G_CM2),
        "true_shower_primary_id": np.full(len(events), block.shower_primary_id),
    }
