"""
Chunked reading of DigiCam raw data (zfits ``.fits.fz``) for the batch engine.

`protozfits` has no columnar access to protobuf tables: each row is one serialized
``DataModel.CameraEvent`` that its C++ reader reassembles from the compressed tile.
What costs in `~iactpipe.io.digicam.SST1MEventSource` is what follows: the conversion
of every message into named tuples (about 46 µs per event), the containers, astropy
times and the per-event calibration. Here each message is parsed as the bare protobuf
object, its samples, baselines and pixel indices are copied as numpy views of the
message's bytes into the arrays of a chunk, and the metadata the DL1 file needs
(event id, type, time) is read from the message fields, following the event source's
rules (`SST1MEventSource` documents them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tables
from astropy.time import Time
from ctapipe.time import time_to_ctao_high_res
from protozfits import ProtoDataModel_pb2, any_array_to_numpy
from protozfits.rawzfits import ProtobufIFits

from ..io.dataformat import DL1_SUBARRAY_TRIGGER_TABLE, DL1_TEL_TRIGGER_TABLE
from ..io.digicam.pixel_mapping import software_order
from ..io.errors import InputFileError
from .reader import R1Chunk

__all__ = ["TriggerRows", "ZFitsChunk", "ZFitsChunkReader", "chunk_times", "r1_chunk"]

_CAMERA_EVENT = ProtoDataModel_pb2.CameraEvent


@dataclass
class ZFitsChunk:
    """The raw data of a chunk of consecutive DigiCam events of one telescope."""

    #: event id: the array event number, the camera event number when it is 0
    event_id: np.ndarray
    #: DigiCam trigger bits (``event_type`` of the message)
    camera_event_type: np.ndarray
    #: trigger time, ns since 1970 (TAI): White Rabbit when present, else camera clock
    time_ns: np.ndarray
    #: int16 (n_events, n_pixels * n_samples): ADC samples in readout order
    samples: np.ndarray
    #: int64 (n_events, n_pixels): readout position of each software pixel
    order: np.ndarray
    #: (n_events, n_pixels): stored baselines, readout order, not divided by the scale
    baselines: np.ndarray
    #: ``telescopeID`` of the first event (0 when absent)
    telescope_id: int = 0


def _event_time_ns(message) -> int:
    trig = message.trig
    if trig.timeSec:
        return int(trig.timeSec) * 1_000_000_000 + int(trig.timeNanoSec)
    return int(message.local_time_sec) * 1_000_000_000 + int(message.local_time_nanosec)


class ZFitsChunkReader:
    """
    Iterate over the events of the files of a DigiCam run in chunks.

    Parameters
    ----------
    paths : sequence of path-like
        The files of the run, in order (``SST1MEventSource.input_files``).
    chunk_size : int
        Events per chunk.
    max_events : int or None
        Read only the first events of the run.
    """

    def __init__(self, paths, chunk_size: int, max_events: int | None = None):
        self.paths = [str(p) for p in paths]
        self.chunk_size = chunk_size
        self.max_events = max_events
        self._orders = {}

    def _order(self, indices: np.ndarray) -> np.ndarray:
        # the pixel indices are the same in every event of a run: one argsort
        key = indices.tobytes()
        if key not in self._orders:
            self._orders[key] = software_order(indices)
        return self._orders[key]

    def _messages(self) -> Iterator:
        count = 0
        for path in self.paths:
            try:
                reader = ProtobufIFits(path, "Events")
            except Exception as err:  # a corrupt file fails in many ways in the C++ reader
                raise InputFileError(f"{path}: cannot be read ({err})") from None
            try:
                n_rows = int(reader.header["ZNAXIS2"].value)
                for row in range(n_rows):
                    if self.max_events is not None and count >= self.max_events:
                        return
                    try:
                        message = _CAMERA_EVENT.FromString(reader.read_serialized_message(row + 1))
                    except Exception as err:
                        raise InputFileError(
                            f"{path}: event {row} (row {row + 1}) cannot be read ({err})"
                        ) from None
                    count += 1
                    yield message
            finally:
                reader.close()

    def __iter__(self) -> Iterator[ZFitsChunk]:
        messages = []
        for message in self._messages():
            messages.append(message)
            if len(messages) == self.chunk_size:
                yield self._assemble(messages)
                messages = []
        if messages:
            yield self._assemble(messages)

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
            samples,
            order,
            baselines,
            int(messages[0].telescopeID),
        )


def chunk_times(time_ns: np.ndarray) -> Time:
    """The trigger times of a chunk as the event source makes them (unix_tai)."""
    seconds, nanoseconds = np.divmod(time_ns, 1_000_000_000)
    return Time(seconds, nanoseconds * 1e-9, format="unix_tai")


def r1_chunk(
    chunk: ZFitsChunk, waveforms: np.ndarray, obs_id: int, tel_id: int, bad: np.ndarray
) -> R1Chunk:
    """
    The `R1Chunk` the batch kernels take, from calibrated R1 ``waveforms`` (float32,
    software order) of a zfits chunk; ``bad``: the calibration's bad pixels (outliers
    interpolated by the invalid-pixel handler, as in the per-event path).
    """
    n = len(chunk.event_id)
    n_pixels = len(bad)
    return R1Chunk(
        event_positions=np.arange(n),
        obs_id=np.full(n, obs_id, dtype=np.int64),
        event_id=chunk.event_id,
        tel_id=np.full(n, tel_id, dtype=np.int64),
        position=np.arange(n),
        samples=[(waveforms, 0)],
        n_samples=waveforms.shape[1] // n_pixels,
        offset=0.0,
        scale=1.0,
        unusable=np.broadcast_to(bad, (n, n_pixels)),
        time_mjd=chunk_times(chunk.time_ns).tai.mjd,
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

    def append(self, obs_id: int, event_id: np.ndarray, time: Time, event_type) -> None:
        """Rows of one telescope's events: ids, ctao_high_res times, array event types."""
        stamps = time_to_ctao_high_res(time)
        for k, (table, template) in enumerate(zip(self.tables, self.templates, strict=True)):
            rows = np.repeat(template, len(event_id))
            rows["obs_id"] = obs_id
            rows["event_id"] = event_id
            rows["time"] = stamps
            if k == 0:  # the telescope table keeps the telescope trigger's type
                rows["event_type"] = [t.value for t in event_type]
            table.append(rows)
