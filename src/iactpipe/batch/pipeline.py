"""
The batch R1 -> DL1 run over an HDF5 R1 file: chunks in, DL1 tables out.

Event bookkeeping tables (subarray and telescope triggers, simulated showers,
impacts and image sums) are copied from the input for the events the per-event
path would write; parameter tables are written with ctapipe's layout.
"""

from __future__ import annotations

from collections import defaultdict

import astropy.units as u
import numpy as np
import tables
from astropy.table import QTable
from ctapipe.containers import EventType
from tqdm.auto import tqdm

from ..io import dataformat
from .engine import BatchDL1Processor
from .reader import TRIGGER_TABLE, HDF5R1ChunkReader, event_keys
from .writer import ParameterTableWriter, TableCopier

__all__ = ["BatchRun", "ParameterSink", "copied_tables", "file_tel_ids", "has_true_images"]

LAYOUT_TABLE = dataformat.LAYOUT_TABLE

TEL_TRIGGER_TABLE = dataformat.DL1_TEL_TRIGGER_TABLE
SHOWER_TABLE = dataformat.SIMULATION_SHOWER_TABLE
IMPACT_GROUP = dataformat.SIMULATION_IMPACT_GROUP
TEL_SIMULATION_GROUPS = (IMPACT_GROUP, dataformat.SIMULATION_IMAGES_GROUP)
POINTING_CONFIG_GROUP = dataformat.FIXED_POINTING_GROUP
#: ctapipe's HDF5EventSource does not read the impact parameters, so the per-event
#: path writes only the index columns of the impact tables: so does the batch path
IMPACT_COLUMNS = 3
#: ctapipe's HDF5EventSource does not read true_image_sum either: the per-event path
#: writes the container default, -1
FILLED = {dataformat.SIMULATION_IMAGES_GROUP: {"true_image_sum": -1}}
#: parameter rows (all telescopes) gathered before their selection flags are evaluated
FLAG_BATCH_ROWS = 20000
#: where the input's dtype is not the one ctapipe's DataWriter writes from the
#: containers the per-event path fills
DTYPES = {
    dataformat.SIMULATION_IMAGES_GROUP: {"true_image_sum": np.int32},
    POINTING_CONFIG_GROUP: {"tel_id": np.uint16},
}


def file_tel_ids(h5file: tables.File) -> set[int]:
    """Telescope ids of the subarray stored in a ctapipe HDF5 file."""
    return {int(t) for t in h5file.get_node(LAYOUT_TABLE).col("tel_id")}


def has_true_images(h5file: tables.File) -> bool:
    """Whether the simulated images are stored (the per-event path then parametrises them)."""
    group = dataformat.SIMULATION_IMAGES_GROUP
    if group not in h5file:
        return False
    return any("true_image" in t.colnames for t in h5file.get_node(group)._f_iter_nodes("Table"))


def copied_tables(h5file: tables.File, tel_ids) -> list[str]:
    """Input tables with one row per (telescope) event that the output repeats."""
    paths = [p for p in (TRIGGER_TABLE, TEL_TRIGGER_TABLE, SHOWER_TABLE) if p in h5file]
    for group in TEL_SIMULATION_GROUPS:
        paths += [
            f"{group}/tel_{t:03d}" for t in sorted(tel_ids) if f"{group}/tel_{t:03d}" in h5file
        ]
    return paths


class ParameterSink:
    """
    Parameter rows of chunk results appended to the DL1 parameter tables; their
    selection flags evaluated for many chunks at once (an astropy table per chunk
    costs about 3 ms).

    Parameters
    ----------
    parameters : ParameterTableWriter
    flags : SelectionFlags
        Evaluates and keeps the flags (``add_table``).
    """

    def __init__(self, parameters: ParameterTableWriter, flags):
        self.parameters = parameters
        self.flags = flags
        self.tel_ids = set()
        self._units = None
        self._unflagged = defaultdict(list)
        self._n_unflagged = 0

    def write(self, result) -> None:
        """Append the rows of a `ChunkResult`, per telescope."""
        for tel_id in np.unique(result.tel_id):
            rows = result.tel_id == tel_id
            table = self.parameters.rows(
                result.obs_id[rows],
                result.event_id[rows],
                result.tel_id[rows],
                result.values[rows],
                result.valid[rows],
            )
            self.parameters.append(int(tel_id), table)
            self.tel_ids.add(int(tel_id))
            self._unflagged[int(tel_id)].append(table)
            self._n_unflagged += len(table)
        if self._n_unflagged >= FLAG_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Evaluate the flags of the rows written since the last call."""
        for tel_id, parts in self._unflagged.items():
            if parts:
                self.flags.add_table(tel_id, self._qtable(np.concatenate(parts)))
        self._unflagged.clear()
        self._n_unflagged = 0

    def _qtable(self, rows: np.ndarray) -> QTable:
        if self._units is None:
            # parsed once: parsing a unit string costs about 50 us, per column per chunk
            self._units = {
                name: u.Unit(unit) for name, unit in self.parameters.units.items() if unit
            }
        columns = {}
        for name in rows.dtype.names:
            unit = self._units.get(name)
            column = rows[name]
            columns[name] = column if unit is None else u.Quantity(column, unit, copy=False)
        return QTable(columns, copy=False)


class BatchRun:
    """
    One batch pass over an open HDF5 R1 file into an open output file.

    Parameters
    ----------
    processor : BatchDL1Processor
    source, target : tables.File
        Input (read) and output (append) files.
    tel_ids : sequence of int
        Telescopes to process.
    max_events : int or None
        Array events to read.
    allowed_types : set of EventType or None
        The event-type filter (None: all types).
    chunk_size : int
        Array events per chunk.
    """

    def __init__(
        self,
        processor: BatchDL1Processor,
        source: tables.File,
        target: tables.File,
        tel_ids,
        max_events,
        allowed_types,
        chunk_size: int,
        default_parameters,
    ):
        self.processor = processor
        self.reader = HDF5R1ChunkReader(source, tel_ids, max_events, chunk_size)
        self.tel_ids = set(int(t) for t in tel_ids)
        filters = target.get_node(LAYOUT_TABLE).filters
        self.parameters = ParameterTableWriter(target, default_parameters, filters)
        self.copier = TableCopier(source, target, filters)
        self.copied = {}
        for path in copied_tables(source, self.tel_ids):
            table = source.get_node(path)
            positions = self.reader.positions(
                event_keys(table.col("obs_id"), table.col("event_id"))
            )
            self.copied[path] = (table, positions)
        event_type = self.reader.trigger["event_type"]
        self.is_pedestal = event_type == EventType.SKY_PEDESTAL.value
        if allowed_types is None:
            self.is_selected = np.ones(len(event_type), dtype=bool)
        else:
            self.is_selected = np.isin(event_type, [t.value for t in allowed_types])
        self.n_events = 0
        self.n_telescope_events = 0

    def run(self, flags, progress: bool = False, desc: str = "") -> None:
        """Process every chunk; ``flags`` (`SelectionFlags`) evaluates and keeps the flags."""
        sink = ParameterSink(self.parameters, flags)
        for chunk in tqdm(self.reader, desc=desc, unit=" chunks", disable=not progress):
            selected = self.is_selected[chunk.position]
            pedestal = self.is_pedestal[chunk.position]
            result = self.processor.process(chunk, selected, pedestal)
            sink.write(result)
            events = chunk.event_positions[self.is_selected[chunk.event_positions]]
            self._copy_rows(events)
            self.n_events += len(events)
            self.n_telescope_events += len(result.tel_id)
        sink.flush()
        self.copy_pointing_configuration(sink.tel_ids)

    def _copy_rows(self, events: np.ndarray) -> None:
        if len(events) == 0:
            return
        first, last = events[0], events[-1]
        wanted = np.zeros(last - first + 1, dtype=bool)
        wanted[events - first] = True
        for path, (table, positions) in self.copied.items():
            inside = np.nonzero((positions >= first) & (positions <= last))[0]
            if len(inside) == 0:
                self.copier.append(path, table.read(0, 0))
                continue
            data = table.read(inside[0], inside[-1] + 1)
            pos = positions[inside[0] : inside[-1] + 1]
            keep = (pos >= first) & (pos <= last)
            keep[keep] = wanted[pos[keep] - first]
            if path == TEL_TRIGGER_TABLE:
                keep &= np.isin(data["tel_id"], list(self.tel_ids))
            group = path.rsplit("/", 1)[0]
            rows = data[keep]
            for name, value in FILLED.get(group, {}).items():
                rows[name] = value
            self.copier.append(path, rows, _columns(path), DTYPES.get(group))

    def copy_pointing_configuration(self, tel_ids) -> None:
        """Constant pointing of the telescopes that had events (as the DataWriter)."""
        for tel_id in sorted(tel_ids):
            path = f"{POINTING_CONFIG_GROUP}/tel_{tel_id:03d}"
            if path in self.copier.source:
                rows = self.copier.source.get_node(path).read()
                self.copier.append(path, rows, dtypes=DTYPES[POINTING_CONFIG_GROUP])


def _columns(path: str) -> int | None:
    return IMPACT_COLUMNS if path.startswith(IMPACT_GROUP) else None
