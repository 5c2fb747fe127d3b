"""
Chunked reading of DigiCam raw data (zfits ``.fits.fz``) for the batch engine.

The columns of each file are decoded a whole tile of events at a time, straight into
numpy arrays (`~iactpipe.io.digicam.tiles.ZFitsTable`: zstd, zlib and the CTA/FACT
processings of the 2017 camera software): no protobuf message per event. A file with
a processing the tile decoder does not know is read through `protozfits`, which has
no columnar access to protobuf tables (each row is one serialized
``DataModel.CameraEvent`` that its C++ reader reassembles from the tile): each message
is parsed as the bare protobuf object and its arrays copied into the chunk. Either way
the metadata the DL1 file needs (event id, type, time) follow the event source's rules
(`SST1MEventSource` documents them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tables
from astropy.time import Time
from ctapipe.containers import ArrayEventContainer, EventType
from ctapipe.core.traits import Int
from ctapipe.io import EventSource
from ctapipe.time import time_to_ctao_high_res
from protozfits import ProtoDataModel_pb2, any_array_to_numpy
from protozfits.rawzfits import ProtobufIFits
from tqdm.auto import tqdm

from ..io.dataformat import DL1_SUBARRAY_TRIGGER_TABLE, DL1_TEL_TRIGGER_TABLE
from ..io.digicam import SST1MEventSource
from ..io.digicam.containers import camera_to_ctapipe_event_type
from ..io.digicam.pixel_mapping import software_order
from ..io.digicam.tiles import ZFitsTable
from ..io.errors import InputFileError
from .engines import BatchDL1Engine
from .pipeline import ParameterSink
from .r0_extraction import extract_r0_chunk
from .reader import R1Chunk
from .writer import ParameterTableWriter

__all__ = [
    "READ_COLUMNS",
    "BatchZFitsDL1Engine",
    "TriggerRows",
    "ZFitsChunk",
    "ZFitsChunkReader",
    "chunk_times",
    "r1_chunk",
]

_CAMERA_EVENT = ProtoDataModel_pb2.CameraEvent
#: the columns of a DigiCam file the batch engine reads
READ_COLUMNS = (
    "telescopeID",
    "eventNumber",
    "arrayEvtNum",
    "event_type",
    "hiGain_waveforms_samples",
    "hiGain_waveforms_pixelsIndices",
    "hiGain_waveforms_baselines",
    "trig_timeSec",
    "trig_timeNanoSec",
    "local_time_sec",
    "local_time_nanosec",
)
log = logging.getLogger(__name__)


@dataclass
class ZFitsChunk:
    """The raw data of a chunk of consecutive DigiCam events of one telescope."""

    #: event id: the array event number, the camera event number when it is 0
    event_id: np.ndarray
    #: DigiCam trigger bits (``event_type`` of the message)
    camera_event_type: np.ndarray
    #: trigger time, ns since 1970 (TAI): White Rabbit when present, else camera clock
    time_ns: np.ndarray
    #: int16 (n_k, n_pixels * n_samples) blocks of consecutive events (decoded tiles:
    #: read-only views whose rows are apart), together (n_events, ...): ADC samples in
    #: readout order
    blocks: list
    #: int64 (n_events, n_pixels): readout position of each software pixel
    order: np.ndarray
    #: (n_events, n_pixels): stored baselines, readout order, not divided by the scale
    baselines: np.ndarray
    #: ``telescopeID`` of the first event (0 when absent)
    telescope_id: int = 0

    @property
    def samples(self) -> np.ndarray:
        """The blocks as one writable int16 (n_events, n_pixels * n_samples) array (a copy)."""
        if len(self.blocks) == 1:
            return np.array(self.blocks[0])
        return np.concatenate(self.blocks)


def _event_time_ns(message) -> int:
    trig = message.trig
    if trig.timeSec:
        return int(trig.timeSec) * 1_000_000_000 + int(trig.timeNanoSec)
    return int(message.local_time_sec) * 1_000_000_000 + int(message.local_time_nanosec)


class ZFitsChunkReader:
    """
    Iterate over the events of the files of a DigiCam run in chunks.

    Each file is decoded column by column, a tile (``ZTILELEN`` events) at a time
    (`~iactpipe.io.digicam.tiles.ZFitsTable`), when its columns use the processings
    decoded there (zstd, zlib: the files ``iactpipe-simulate`` writes; the CTA/FACT
    coding of the 2017 camera files); otherwise message by message through
    protozfits, with an INFO line saying why.

    Parameters
    ----------
    paths : sequence of path-like
        The files of the run, in order (``SST1MEventSource.input_files``).
    chunk_size : int
        Events per chunk.
    max_events : int or None
        Read only the first events of the run.
    reuse_buffers : bool
        Decode the samples of later tiles into the buffers of earlier ones that no
        pending event uses (a fresh 13 MB array per tile of 100 DigiCam events costs
        about 15 us per event to touch first): a chunk's sample blocks are then valid
        only until the next chunk is requested.
    """

    def __init__(
        self,
        paths,
        chunk_size: int,
        max_events: int | None = None,
        reuse_buffers: bool = False,
    ):
        self.paths = [str(p) for p in paths]
        self.chunk_size = chunk_size
        self.max_events = max_events
        self.reuse_buffers = reuse_buffers
        self._orders = {}
        self._buffers = []  # sample buffers (uint8) for reuse
        self._busy = set()  # ids of the buffers the pending events' samples are in
        #: per file, why it was read through protozfits (None: decoded by tiles)
        self.fallback_reasons: dict[str, str | None] = {}

    def _order(self, indices: np.ndarray) -> np.ndarray:
        # the pixel indices are the same in every event of a run: one argsort
        key = indices.tobytes()
        if key not in self._orders:
            self._orders[key] = software_order(indices)
        return self._orders[key]

    def __iter__(self) -> Iterator[ZFitsChunk]:
        pending, n_pending = [], 0
        for piece in self._pieces():
            pending.append(piece)
            n_pending += len(piece.event_id)
            while n_pending >= self.chunk_size:
                merged = _concatenate(pending)
                yield _owned(_slice(merged, 0, self.chunk_size))
                n_pending -= self.chunk_size
                pending = [_slice(merged, self.chunk_size, self.chunk_size + n_pending)]
            # the chunks yielded so far are done with: their buffers are free
            self._busy = {id(block.base) for piece in pending for block in piece.blocks}
        if n_pending:
            yield _owned(_concatenate(pending))

    def _pieces(self) -> Iterator[ZFitsChunk]:
        """Tiles (or groups of messages) of the run, up to ``max_events`` events."""
        count = 0
        for path in self.paths:
            for piece in self._file_pieces(path):
                if self.max_events is not None:
                    piece = _slice(piece, 0, self.max_events - count)
                count += len(piece.event_id)
                if len(piece.event_id):
                    yield piece
                if self.max_events is not None and count >= self.max_events:
                    return

    def _file_pieces(self, path: str) -> Iterator[ZFitsChunk]:
        try:
            table = ZFitsTable(path)
        except Exception as err:  # any structure error: the file is unreadable
            raise InputFileError(f"{path}: cannot be read ({err})") from None
        with table:
            reason = table.unsupported(READ_COLUMNS)
            if reason is None and "hiGain_waveforms_samples" not in table.columns:
                reason = "no hiGain_waveforms_samples column"
            self.fallback_reasons[path] = reason
            if reason is not None:
                log.info("%s: read through protozfits: %s", path, reason)
                yield from self._protozfits_pieces(path)
                return
            for tile in range(table.n_tiles):
                yield self._tile(table, tile)

    def _tile(self, table: ZFitsTable, tile: int) -> ZFitsChunk:
        first, end = table.tile_rows(tile)
        n = end - first
        zeros = np.zeros(n, dtype=np.int64)

        def scalar(name):
            values = table.read(name, tile)
            return zeros if values is None else values.astype(np.int64)

        array_number, wr_seconds = scalar("arrayEvtNum"), scalar("trig_timeSec")
        wr_ns = wr_seconds * 1_000_000_000 + scalar("trig_timeNanoSec")
        local_ns = scalar("local_time_sec") * 1_000_000_000 + scalar("local_time_nanosec")
        indices = table.read("hiGain_waveforms_pixelsIndices", tile)
        if (indices == indices[0]).all():
            order = np.broadcast_to(self._order(indices[0]), indices.shape)
        else:
            order = np.array([self._order(row) for row in indices])
        return ZFitsChunk(
            event_id=np.where(array_number != 0, array_number, scalar("eventNumber")),
            camera_event_type=scalar("event_type"),
            time_ns=np.where(wr_seconds != 0, wr_ns, local_ns),
            blocks=[self._samples(table, tile)],
            order=order,
            baselines=table.read("hiGain_waveforms_baselines", tile),
            telescope_id=int(scalar("telescopeID")[0]),
        )

    def _samples(self, table: ZFitsTable, tile: int) -> np.ndarray:
        """The samples of a tile; into a free buffer when buffers are reused."""
        if not self.reuse_buffers:
            return table.read("hiGain_waveforms_samples", tile)
        free = [b for b in self._buffers if id(b) not in self._busy]
        samples = table.read("hiGain_waveforms_samples", tile, out=free[0] if free else None)
        if samples.base is None or id(samples.base) not in {id(b) for b in self._buffers}:
            # decoded into a new array (no free buffer, or too small): a buffer of the
            # size a tile needs for the next ones
            size = samples.shape[0] * samples.strides[0]
            self._buffers = [b for b in self._buffers if len(b) >= size]
            self._buffers.append(np.empty(size, dtype=np.uint8))
        return samples

    def _protozfits_pieces(self, path: str) -> Iterator[ZFitsChunk]:
        try:
            reader = ProtobufIFits(path, "Events")
        except Exception as err:  # a corrupt file fails in many ways in the C++ reader
            raise InputFileError(f"{path}: cannot be read ({err})") from None
        try:
            n_rows = int(reader.header["ZNAXIS2"].value)
            messages = []
            for row in range(n_rows):
                try:
                    message = _CAMERA_EVENT.FromString(reader.read_serialized_message(row + 1))
                except Exception as err:
                    raise InputFileError(
                        f"{path}: event {row} (row {row + 1}) cannot be read ({err})"
                    ) from None
                messages.append(message)
                if len(messages) == self.chunk_size:
                    yield self._assemble(messages)
                    messages = []
            if messages:
                yield self._assemble(messages)
        finally:
            reader.close()

    def _assemble(self, messages: list) -> ZFitsChunk:
        first = messages[0].hiGain.waveforms
        n_pixels = len(any_array_to_numpy(first.baselines))
        width = len(any_array_to_numpy(first.samples))
        n = len(messages)
        samples = np.empty((n, width), dtype=np.int16)
        baselines = np.empty((n, n_pixels), dtype=any_array_to_numpy(first.baselines).dtype)
        order = np.empty((n, n_pixels), dtype=np.int64)
        event_id = np.empty(n, dtype=np.int64)
        event_type = np.empty(n, dtype=np.int64)
        time_ns = np.empty(n, dtype=np.int64)
        for i, message in enumerate(messages):
            waveforms = message.hiGain.waveforms
            samples[i] = any_array_to_numpy(waveforms.samples)
            baselines[i] = any_array_to_numpy(waveforms.baselines)
            order[i] = self._order(any_array_to_numpy(waveforms.pixelsIndices))
            event_id[i] = message.arrayEvtNum or message.eventNumber
            event_type[i] = message.event_type
            time_ns[i] = _event_time_ns(message)
        return ZFitsChunk(
            event_id,
            event_type,
            time_ns,
            [samples],
            order,
            baselines,
            int(messages[0].telescopeID),
        )


_ARRAYS = ("event_id", "camera_event_type", "time_ns", "order", "baselines")


def _slice_blocks(blocks: list, start: int, stop: int) -> list:
    """Rows ``start:stop`` of consecutive blocks of rows (views)."""
    out, first = [], 0
    for block in blocks:
        last = first + len(block)
        lo, hi = max(start, first), min(stop, last)
        if lo < hi:
            out.append(block[lo - first : hi - first])
        first = last
    return out


def _slice(chunk: ZFitsChunk, start: int, stop: int) -> ZFitsChunk:
    """Events ``start:stop`` of a chunk (views)."""
    arrays = {name: getattr(chunk, name)[start:stop] for name in _ARRAYS}
    blocks = _slice_blocks(chunk.blocks, start, stop)
    return ZFitsChunk(**arrays, blocks=blocks, telescope_id=chunk.telescope_id)


def _concatenate(chunks: list[ZFitsChunk]) -> ZFitsChunk:
    """
    One chunk of consecutive chunks (the only one itself); the samples' blocks are
    listed, not copied (26 MB for 200 events).
    """
    if len(chunks) == 1:
        return chunks[0]
    orders = [c.order for c in chunks if len(c.order)]
    names = _ARRAYS
    if orders and all(o.strides[0] == 0 and np.array_equal(o[0], orders[0][0]) for o in orders):
        # one software order for every event (the run's pixel indices stay the same):
        # one row that every event reads, not 2 MB per chunk written and read back
        names = tuple(name for name in _ARRAYS if name != "order")
    arrays = {name: np.concatenate([getattr(c, name) for c in chunks]) for name in names}
    if "order" not in arrays:
        shape = (len(arrays["event_id"]), orders[0].shape[1])
        arrays["order"] = np.broadcast_to(orders[0][0], shape)
    blocks = [block for c in chunks for block in c.blocks]
    return ZFitsChunk(**arrays, blocks=blocks, telescope_id=chunks[0].telescope_id)


def _owned(chunk: ZFitsChunk) -> ZFitsChunk:
    """
    The chunk with contiguous, writable baselines. The sample blocks stay as decoded
    (the rows of a tile each follow their 4-byte length): the fused kernel reads them
    in place (`~iactpipe.batch.r0_extraction.flat_rows`; their copy cost 12 to 20 us
    per event).
    """
    if not (chunk.baselines.flags.c_contiguous and chunk.baselines.flags.writeable):
        chunk.baselines = np.array(chunk.baselines)
    return chunk


def chunk_times(time_ns: np.ndarray) -> Time:
    """The trigger times of a chunk as the event source makes them (unix_tai)."""
    seconds, nanoseconds = np.divmod(time_ns, 1_000_000_000)
    return Time(seconds, nanoseconds * 1e-9, format="unix_tai")


def r1_chunk(
    chunk: ZFitsChunk,
    waveforms: np.ndarray | None,
    obs_id: int,
    tel_id: int,
    bad: np.ndarray,
    n_samples: int | None = None,
    time: Time | None = None,
) -> R1Chunk:
    """
    The `R1Chunk` the batch kernels take, from calibrated R1 ``waveforms`` (float32,
    software order) of a zfits chunk; ``bad``: the calibration's bad pixels (outliers
    interpolated by the invalid-pixel handler, as in the per-event path). Without
    ``waveforms`` (None: the charges extracted from R0), a chunk without samples of
    ``n_samples`` per pixel. ``time``: the chunk's `chunk_times` when already made.
    """
    if time is None:
        time = chunk_times(chunk.time_ns)
    n = len(chunk.event_id)
    n_pixels = len(bad)
    if waveforms is not None:
        n_samples = waveforms.shape[1] // n_pixels
    return R1Chunk(
        event_positions=np.arange(n),
        obs_id=np.full(n, obs_id, dtype=np.int64),
        event_id=chunk.event_id,
        tel_id=np.full(n, tel_id, dtype=np.int64),
        position=np.arange(n),
        samples=[] if waveforms is None else [(waveforms, 0)],
        n_samples=n_samples,
        offset=0.0,
        scale=1.0,
        unusable=np.broadcast_to(bad, (n, n_pixels)),
        time_mjd=time.tai.mjd,
    )


class TriggerRows:
    """
    Append rows to the trigger tables of a DL1 file (array and telescope) modelled on
    their first row, which ctapipe's DataWriter wrote from the first event: the same
    layout, and the columns the zfits events leave at their defaults as written.

    Parameters
    ----------
    h5file : tables.File
        The DL1 file, open for appending.
    """

    def __init__(self, h5file: tables.File):
        self.tables = [h5file.get_node(DL1_SUBARRAY_TRIGGER_TABLE)]
        self.tables.append(h5file.get_node(DL1_TEL_TRIGGER_TABLE))
        self.templates = [table.read(0, 1) for table in self.tables]

    def append(self, obs_id: int, event_id: np.ndarray, time: Time, event_type: np.ndarray) -> None:
        """
        Rows of one telescope's events: ids, ctao_high_res times, array event types
        (the `~ctapipe.containers.EventType` values).
        """
        stamps = time_to_ctao_high_res(time)
        for k, (table, template) in enumerate(zip(self.tables, self.templates, strict=True)):
            rows = np.repeat(template, len(event_id))
            rows["obs_id"] = obs_id
            rows["event_id"] = event_id
            rows["time"] = stamps
            if k == 0:  # the telescope table keeps the telescope trigger's type
                rows["event_type"] = event_type
            table.append(rows)


class BatchZFitsDL1Engine(BatchDL1Engine):
    """
    DigiCam raw data (zfits, `SST1MEventSource`) read in chunks: the messages parsed
    without the source's containers (`ZFitsChunkReader`), R0 -> R1 by
    `R0R1Calibrator.calibrate_chunk` (numba, the per-event values), then the batch
    kernels. ctapipe's DataWriter writes the first event (index, trigger: it creates
    the trigger tables with its layout); the trigger rows of the others are appended
    modelled on it (`TriggerRows`), the parameter rows and their selection flags per
    chunk (`ParameterSink`), as for HDF5 input.
    """

    parameter_compression_level = Int(
        2,
        min=0,
        max=9,
        allow_none=True,
        help=(
            "Compression level of the DL1 parameter rows (the DataWriter's compressor);"
            " None: DataWriter.compression_level. The default 2 instead of the"
            " DataWriter's 5: 3 instead of 10 us of CPU per telescope event for a file"
            " 1.4 % larger"
        ),
    ).tag(config=True)

    @classmethod
    def unreadable(cls, source: EventSource) -> str | None:
        if not isinstance(source, SST1MEventSource):
            return "it reads DigiCam zfits files (SST1MEventSource)"
        return None

    def unsupported(self) -> list[str]:
        problems = super().unsupported()
        if self.calibrate_r0.baseline_source != "stored":
            problems.append("R0R1Calibrator.baseline_source='pedestal_events'")
        return problems

    def run(self) -> None:
        source = self.event_source
        tel_id, scale = source.telescope_id, source.stored_baseline_scale
        self._h5 = self._sink = self._triggers = None
        if source.allowed_tels and tel_id not in source.allowed_tels:
            return
        # each chunk is processed before the next is read: its tiles' buffers are reused
        reader = ZFitsChunkReader(
            source.input_files, self.chunk_size, source.max_events, reuse_buffers=True
        )
        progress = tqdm(
            total=source.max_events,
            desc=self.progress,
            unit=" events",
            disable=self.progress is None,
        )
        try:
            for chunk in reader:
                self._process(chunk, tel_id, scale)
                progress.update(len(chunk.event_id))
        finally:
            progress.close()
            if self._sink is not None:
                self._sink.flush()
            if self._h5 is not None:
                self._h5.close()

    def _process(self, chunk, tel_id: int, scale: float) -> None:
        (obs_id,) = self.event_source.observation_blocks
        allowed = self.event_type_filter.allowed_types
        # once per distinct camera trigger type of the chunk (an enum flag test costs
        # tens of microseconds per event)
        codes, inverse = np.unique(chunk.camera_event_type, return_inverse=True)
        kinds = [camera_to_ctapipe_event_type(code) for code in codes.tolist()]
        type_values = np.array([kind.value for kind in kinds], dtype=np.int64)[inverse]
        selected = np.array([allowed is None or k in allowed for k in kinds], dtype=bool)[inverse]
        pedestal = np.array([k == EventType.SKY_PEDESTAL for k in kinds], dtype=bool)[inverse]
        # one astropy Time per chunk (0.3 ms each), sliced for the selected events
        chunk_time = chunk_times(chunk.time_ns)
        r1, extracted = self._r1(chunk, obs_id, tel_id, scale, chunk_time)
        result = self.processor.process(r1, selected, pedestal, extracted)
        rows = np.nonzero(selected)[0]
        if len(rows) == 0:
            return
        times = chunk_time if len(rows) == len(chunk_time) else chunk_time[rows]
        event_id, types = chunk.event_id[rows], type_values[rows]
        first = 0
        if self._h5 is None:
            # the first event through ctapipe's DataWriter, which creates the trigger
            # tables with its layout; the others' rows are appended modelled on it
            kind = EventType(int(types[0]))
            self.write(self._event(obs_id, tel_id, event_id[0], kind, chunk.time_ns[rows[0]]))
            self.close()
            self._open_tables()
            first = 1
        self._triggers.append(obs_id, event_id[first:], times[first:], types[first:])
        self._sink.write(result)
        if self.record_pointing is not None and self.event_source.pointing is not None:
            # the source's pointing (one alt/az per interval), recorded as event by event
            altaz = self.event_source.pointing_altaz(chunk.time_ns[rows])
            self.record_pointing.add_rows(tel_id, times.unix_tai, *altaz)
        self.n_events += len(rows)
        self.n_telescope_events += len(rows)

    def _r1(self, chunk, obs_id: int, tel_id: int, scale: float, time: Time) -> tuple:
        """
        ``(R1Chunk, extracted)`` for `BatchDL1Processor.process`: the charges and peak
        times straight from R0 (`extract_r0_chunk`, no R1 waveforms), or, when the
        waveform modifier of tuned simulations needs them, the R1 waveforms.
        """
        calibrate = self.calibrate_r0
        bad = ~calibrate.pixel_calibration(tel_id).good
        if self.modify_waveforms.active:
            waveforms, _ = calibrate.calibrate_chunk(
                tel_id, chunk.samples, chunk.order, chunk.baselines, scale
            )
            return r1_chunk(chunk, waveforms, obs_id, tel_id, bad, time=time), None
        n_samples = chunk.blocks[0].shape[1] // len(bad)
        r1 = r1_chunk(chunk, None, obs_id, tel_id, bad, n_samples, time)
        extraction = self.processor.extraction_settings(r1.tel_id)
        parts, first = [], 0
        for block in chunk.blocks:  # each decoded tile in place
            rows = slice(first, first + len(block))
            parts.append(
                extract_r0_chunk(
                    calibrate,
                    tel_id,
                    block,
                    chunk.order[rows],
                    chunk.baselines[rows],
                    scale,
                    tuple(values[rows] for values in extraction),
                )
            )
            first = rows.stop
        if len(parts) == 1:
            return r1, parts[0]
        return r1, tuple(np.concatenate(values) for values in zip(*parts, strict=True))

    def _open_tables(self) -> None:
        self._h5 = tables.open_file(self.output_path, mode="a")
        self._triggers = TriggerRows(self._h5)
        filters = self._h5.get_node(DL1_SUBARRAY_TRIGGER_TABLE).filters
        if self.parameter_compression_level is not None and filters.complevel > 0:
            filters = filters.copy(complevel=self.parameter_compression_level)
        default = self.process_images.default_image_container
        self._sink = ParameterSink(ParameterTableWriter(self._h5, default, filters), self.flags)

    def _event(self, obs_id: int, tel_id: int, event_id, event_type, time_ns: int):
        """An event as the source gives it, without data: index, trigger, pointing."""
        time = chunk_times(np.array([time_ns]))[0]
        event = ArrayEventContainer()
        event.index.obs_id = obs_id
        event.index.event_id = int(event_id)
        event.trigger.time = time
        event.trigger.tels_with_trigger = np.array([tel_id])
        event.trigger.tel[tel_id].time = time
        event.trigger.event_type = event_type
        # the pointing as the source fills it (ICRS target -> alt/az, cached)
        self.event_source.fill_pointing(event, tel_id, int(time_ns))
        return event
