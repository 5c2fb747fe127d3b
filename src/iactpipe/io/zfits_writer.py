"""
Write DigiCam raw data (R0) as zfits files in the cameras' own layout.

The files are what an SST-1M camera server writes and what
`~iactpipe.io.digicam.SST1MEventSource` (and any protozfits reader) reads unchanged:

- a FITS file ``<stem>.NNN.fits.fz`` (``.000``, ``.001``, ... chunks of at most
  ``events_per_file`` events; a run is the sequence of chunks);
- an empty primary HDU and one compressed binary table ``Events`` (``ZTABLE = T``,
  tiles of ``rows_per_tile`` rows, protozfits' ``CTA`` compression of each column),
  header ``PBFHEAD = 'DataModel.CameraEvent'`` (the DigiCam protobuf message), one
  protobuf ``CameraEvent`` per row with these columns (``TPBID``: protobuf field path):

  ==================================  =====  =====================================================
  column                              TPBID  content
  ==================================  =====  =====================================================
  ``telescopeID``                     1      telescope id (21, 22), int32
  ``eventNumber``                     4      camera event counter, uint32
  ``arrayEvtNum``                     5      array event number, uint32
  ``hiGain_waveforms_samples``        6.1.1  int16 ADC samples, 1296 x n_samples, readout order
  ``hiGain_waveforms_pixelsIndices``  6.1.2  software pixel id of each readout position
  ``hiGain_waveforms_baselines``      6.1.5  baseline in 1/16 ADC (firmware 2019+), int16
  ``trig_timeSec``                    8.2    White Rabbit trigger time (TAI), seconds, int64
  ``trig_timeNanoSec``                8.3    ... and nanoseconds, int64
  ``local_time_nanosec``              30     camera clock (TAI), ns part, uint64
  ``local_time_sec``                  31     camera clock (TAI), s part, uint64
  ``pixels_flags``                    32     DigiCam pixel flags, uint16
  ``event_type``                      34     trigger bits: 0x1 7-patch, 0x8 internal (pedestal)
  ==================================  =====  =====================================================

- header keywords of the ``Events`` table given by the caller (the Tool writes
  ``TARGET = '<source>_<ra>_<dec>'`` as SST-1M files since 2023 carry the pointing,
  ``TELID``, ``OBS_ID``, ``ORIGIN``).

How: protozfits' writer (``FlatProtobufZOFits``) only accepts a fixed list of message
classes (CTAO ``R1v1``/``DL0v1`` and ``ProtoR1.CameraEvent``) and refuses
``DataModel.CameraEvent`` ("Unknown protobuf class name"). A flat zfits table stores
each protobuf field as an independent column whose bytes depend only on the field's
scalar type (``AnyArray`` fields: the array's dtype). The writer therefore fills a
``ProtoR1.CameraEvent`` whose fields have the same wire types as the DigiCam fields
(``COLUMNS``), lets protozfits compress and write it, then renames the columns, their
protobuf ids and the message name in the table header (``retarget_header``; data and
tiles untouched, header checksum recomputed). protozfits then decodes the rows as
``DataModel.CameraEvent``, checking each column's type against the DigiCam message.
Every chunk is written to a temporary name and renamed when complete
(`~iactpipe.io.AtomicOutputFile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from ctapipe.containers import EventType

from .atomic import AtomicOutputFile
from .digicam.integrity import fits_checksum
from .digicam.pixel_mapping import readout_pixel_ids

__all__ = [
    "COLUMNS",
    "DIGICAM_MESSAGE",
    "DigiCamZFitsWriter",
    "RawEvent",
    "chunk_path",
    "fits_checksum",
    "raw_event",
    "retarget_header",
    "time_to_tai_ns",
]

#: the message name of DigiCam zfits files (``PBFHEAD``)
DIGICAM_MESSAGE = "DataModel.CameraEvent"
#: ``FlatProtobufZOFits`` column name -> (DigiCam column, protobuf id, signed field);
#: the ``ProtoR1.CameraEvent`` field has the byte layout of the DigiCam field
COLUMNS = {
    "nectarcam_extdevices_presence": ("telescopeID", "1", True),
    "trigger_time_s": ("eventNumber", "4", False),
    "trigger_time_qns": ("arrayEvtNum", "5", False),
    "waveform": ("hiGain_waveforms_samples", "6.1.1", True),
    "pixel_status": ("hiGain_waveforms_pixelsIndices", "6.1.2", False),
    "nectarcam_module_status": ("hiGain_waveforms_baselines", "6.1.5", True),
    "tel_event_id": ("trig_timeSec", "8.2", True),
    "ped_id": ("trig_timeNanoSec", "8.3", True),
    "event_id": ("local_time_nanosec", "30", False),
    "configuration_id": ("local_time_sec", "31", False),
    "lstcam_module_status": ("pixels_flags", "32", False),
    "trigger_type": ("event_type", "34", False),
}
#: DigiCam trigger bits written for ctapipe event types (`CameraEventType`): shower
#: triggers as the 7-patch algorithm, interleaved pedestals as the internal trigger
CAMERA_EVENT_TYPES = {EventType.SKY_PEDESTAL: 0x8, EventType.SUBARRAY: 0x1}
#: the stored baselines are fixed point: 1/16 ADC (DigiCam firmware since 2019)
BASELINE_SCALE = 16
_COLUMN_KEYS = ("TFORM", "TTYPE", "TZERO", "ZFORM", "ZCTYP", "TPBID")
_BLOCK = 2880


def chunk_path(stem: Path | str, index: int) -> Path:
    """Path of chunk ``index`` of a run: ``<stem>.NNN.fits.fz``."""
    stem = Path(stem)
    return stem.with_name(f"{stem.name}.{index:03d}.fits.fz")


@dataclass
class RawEvent:
    """
    One DigiCam event to write, in software pixel order.

    ``samples`` are ADC counts (n_pixels, n_samples); ``baseline_adc`` the baseline
    DigiCam computed per pixel (ADC, stored in 1/16 ADC); times in ns since 1970, TAI.
    """

    samples: np.ndarray
    baseline_adc: np.ndarray
    event_number: int
    array_event_number: int
    camera_event_type: int
    local_time_ns: int
    white_rabbit_time_ns: int
    pixel_flags: np.ndarray | None = None


def time_to_tai_ns(time: Time) -> int:
    """Nanoseconds since 1970-01-01 TAI (the DigiCam and White Rabbit clocks), exactly."""
    return int(np.round(time.tai.to_value("unix_tai", "long") * np.longdouble(1e9)))


def raw_event(event, tel_id: int, baseline_adc: np.ndarray) -> RawEvent:
    """
    The DigiCam event of telescope ``tel_id`` of a ctapipe event with R0.

    The camera counter is the event id (``arrayEvtNum`` 0: none, as SST-1M cameras
    write); both clocks are the telescope trigger time.
    """
    time_ns = time_to_tai_ns(event.trigger.tel[tel_id].time)
    event_type = event.trigger.tel[tel_id].event_type
    return RawEvent(
        samples=event.r0.tel[tel_id].waveform[0],
        baseline_adc=baseline_adc,
        event_number=int(event.index.event_id),
        array_event_number=0,
        camera_event_type=CAMERA_EVENT_TYPES.get(event_type, 0x1),
        local_time_ns=time_ns,
        white_rabbit_time_ns=time_ns,
    )


class DigiCamZFitsWriter:
    """
    Write the events of one telescope as DigiCam zfits chunks ``<stem>.NNN.fits.fz``.

    Use as a context manager or call `close`; nothing appears under the final names
    unless every chunk was written and re-read completely (a failure leaves no file).

    Parameters
    ----------
    stem : Path
        Path of the run without the chunk suffix (``SST1M1_20240110_0001``).
    tel_id : int
        Telescope id written in every event (21, 22).
    events_per_file : int
        Events per chunk (real runs: about 40 s of data per file).
    header : dict
        Extra keywords of the ``Events`` header: ``{key: value}`` or
        ``{key: (value, comment)}``; str, int, float or bool values.
    compression : str
        protozfits compression of every column (``raw``, ``zstd1`` ... ``zstd9``,
        ``lzo``, ``zrice``).
    rows_per_tile : int
        Events per compressed tile (real files: 100).
    overwrite : bool
        Replace existing chunks.
    """

    def __init__(
        self,
        stem: Path | str,
        tel_id: int,
        events_per_file: int = 10_000,
        header: dict | None = None,
        compression: str = "zstd1",
        rows_per_tile: int = 100,
        overwrite: bool = False,
    ):
        if events_per_file < 1 or rows_per_tile < 1:
            raise ValueError("events_per_file and rows_per_tile must be positive")
        self.stem = Path(stem)
        self.tel_id = int(tel_id)
        self.events_per_file = int(events_per_file)
        self.header = dict(header or {})
        self.compression = compression
        self.rows_per_tile = int(rows_per_tile)
        self.overwrite = overwrite
        self.n_written = 0
        self._outputs: list[AtomicOutputFile] = []
        self._counts: list[int] = []
        self._zofits = None
        self._readout_ids = readout_pixel_ids()
        self._hardware_ids = self._readout_ids.astype(np.uint16)

    def __enter__(self) -> DigiCamZFitsWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    @property
    def paths(self) -> list[Path]:
        """Final paths of the chunks written so far."""
        return [output.path for output in self._outputs]

    def write(self, event: RawEvent) -> None:
        """Append one event (a new chunk starts every ``events_per_file`` events)."""
        from protozfits import ProtoR1_pb2, numpy_to_any_array

        if self._zofits is None or self._counts[-1] >= self.events_per_file:
            self._next_chunk(event.samples.nbytes)
        order = self._readout_ids
        message = ProtoR1_pb2.CameraEvent()
        message.nectarcam.extdevices_presence = self.tel_id
        message.trigger_time_s = int(event.event_number)
        message.trigger_time_qns = int(event.array_event_number)
        samples = np.asarray(event.samples)[order].astype(np.int16).ravel()
        message.waveform.CopyFrom(numpy_to_any_array(samples))
        message.pixel_status.CopyFrom(numpy_to_any_array(self._hardware_ids))
        baseline = np.round(np.asarray(event.baseline_adc)[order] * BASELINE_SCALE)
        message.nectarcam.module_status.CopyFrom(numpy_to_any_array(baseline.astype(np.int16)))
        wr_ns, local_ns = int(event.white_rabbit_time_ns), int(event.local_time_ns)
        message.tel_event_id, message.ped_id = divmod(wr_ns, 1_000_000_000)
        message.configuration_id, message.event_id = divmod(local_ns, 1_000_000_000)
        flags = event.pixel_flags
        if flags is None:
            flags = np.zeros(len(order), dtype=np.uint16)
        flags = np.asarray(flags)[order].astype(np.uint16)
        message.lstcam.module_status.CopyFrom(numpy_to_any_array(flags))
        message.trigger_type = int(event.camera_event_type)
        self._zofits.write_message(message)
        self._counts[-1] += 1
        self.n_written += 1

    def _next_chunk(self, event_bytes: int) -> None:
        from protozfits import rawzfits

        self._close_chunk()
        output = AtomicOutputFile(
            chunk_path(self.stem, len(self._outputs)), overwrite=self.overwrite
        )
        self._outputs.append(output)
        self._counts.append(0)
        # a compression block holds one tile of every column, with margin
        block_kb = (self.rows_per_tile * (event_bytes + 16_384) * 3 // 2) // 1024 + 1024
        zofits = rawzfits.FlatProtobufZOFits(
            n_tiles=max(1, self.events_per_file // self.rows_per_tile + 1),
            rows_per_tile=self.rows_per_tile,
            default_compression=self.compression,
            compression_block_size_kb=block_kb,
            max_compression_memory=4 * block_kb,
        )
        zofits.open(str(output.temporary_path))
        zofits.move_to_new_table("Events")
        for key, value in self.header.items():
            value, comment = value if isinstance(value, tuple) else (value, "")
            _set_key(zofits, key, value, comment)
        self._zofits = zofits

    def _close_chunk(self) -> None:
        if self._zofits is None:
            return
        self._zofits.close()
        self._zofits = None
        retarget_header(self._outputs[-1].temporary_path)

    def close(self) -> list[Path]:
        """Finish the last chunk, check every chunk and move them to their final names."""
        self._close_chunk()
        for output, count in zip(self._outputs, self._counts, strict=True):
            output.verify = _event_count_check(count)
            output.commit()
        return self.paths

    def discard(self) -> None:
        """Remove every chunk written so far (nothing is committed)."""
        if self._zofits is not None:
            try:
                self._zofits.close()
            finally:
                self._zofits = None
        for output in self._outputs:
            output.discard()


def _set_key(zofits, key: str, value, comment: str) -> None:
    if isinstance(value, bool):
        zofits.set_bool(key, value, comment)
    elif isinstance(value, int | np.integer):
        zofits.set_int(key, int(value), comment)
    elif isinstance(value, float | np.floating):
        zofits.set_float(key, float(value), comment)
    else:
        zofits.set_string(key, str(value), comment)


def _event_count_check(expected: int):
    def check(path: Path) -> None:
        from protozfits import File

        with File(str(path)) as zfile:
            found = sum(1 for _ in zfile.Events)
        if found != expected:
            raise ValueError(f"{found} events readable instead of {expected}")

    return check


def _header_span(raw: bytes, start: int) -> int:
    """Length (bytes, whole 2880-byte blocks) of the FITS header starting at ``start``."""
    position = start
    while position < len(raw):
        if raw[position : position + 8] == b"END     ":
            return (position + 80 - start + _BLOCK - 1) // _BLOCK * _BLOCK
        position += 80
    raise ValueError("no END card")


def retarget_header(path: Path | str) -> None:
    """
    Rename the columns and message of a ``ProtoR1.CameraEvent`` zfits file written by
    `DigiCamZFitsWriter` to the DigiCam ``DataModel.CameraEvent`` layout, in place.

    The data are untouched; the header keeps its size (empty ``COMMENT`` cards fill
    what the dropped ``TZERO`` cards of signed fields leave) and gets a new ``CHECKSUM``.
    """
    path = Path(path)
    raw = bytearray(path.read_bytes())
    start = _header_span(raw, 0)
    length = _header_span(raw, start)
    header = fits.Header.fromstring(bytes(raw[start : start + length]).decode("ascii"))
    new = fits.Header()
    for card in header.cards:
        keyword = card.keyword
        if keyword[:5] in _COLUMN_KEYS and keyword[5:].isdigit():
            continue
        if keyword == "PBFHEAD":
            new.append(("PBFHEAD", DIGICAM_MESSAGE, card.comment))
            continue
        new.append(fits.Card.fromstring(card.image))
    for n in range(1, header["TFIELDS"] + 1):
        name, protobuf_id, signed = COLUMNS[header[f"TTYPE{n}"]]
        fits_comment = f"format of {name} [var. Length]" if len(name) <= 20 else ""
        new.append((f"TFORM{n}", "1QB", fits_comment))
        new.append((f"TTYPE{n}", name))
        if not signed and f"TZERO{n}" in header:  # kept verbatim (the exact uint offset)
            new.append(fits.Card.fromstring(header.cards[f"TZERO{n}"].image))
        zform = header.cards[f"ZFORM{n}"]
        zfits_type = zform.comment.rpartition("[")[2]  # "[8-byte INT]" of the old comment
        zform_comment = f"format of {name} [{zfits_type}" if len(name) <= 20 else ""
        new.append((f"ZFORM{n}", zform.value, zform_comment))
        new.append((f"ZCTYP{n}", "CTA", "Custom CTA compression"))
        new.append((f"TPBID{n}", protobuf_id, "Protobuf ID"))
    new["CHECKSUM"] = "0" * 16
    cards = new.tostring(padding=False, endcard=False).encode("ascii")
    if len(cards) + 80 > length:
        raise ValueError(f"{path}: the DigiCam header does not fit in the written one")
    # filler COMMENT cards before END keep the END card in the header's last block
    # (protozfits stops at a blank card)
    n_fill = (length - 80 - len(cards)) // 80
    text = cards + b"COMMENT".ljust(80) * n_fill + b"END".ljust(80)
    data_end = start + length + _padded(header["NAXIS1"] * header["NAXIS2"] + header["PCOUNT"])
    datasum = fits_checksum(bytes(raw[start + length : data_end]))
    checksum = _encode_checksum(fits_checksum(text, datasum))
    text = text.replace(b"CHECKSUM= '0000000000000000'", f"CHECKSUM= '{checksum}'".encode())
    raw[start : start + length] = text
    path.write_bytes(bytes(raw))


def _padded(n_bytes: int) -> int:
    return (n_bytes + _BLOCK - 1) // _BLOCK * _BLOCK


def _encode_checksum(value: int) -> str:
    """The 16-character ASCII encoding of the complement of ``value`` (FITS standard)."""
    value = ~value & 0xFFFFFFFF
    excluded = set(range(0x3A, 0x41)) | set(range(0x5B, 0x61))
    chars = [0] * 16
    for i in range(4):
        byte = (value >> ((3 - i) * 8)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        group = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for j in (0, 2):
                if group[j] in excluded or group[j + 1] in excluded:
                    group[j] += 1
                    group[j + 1] -= 1
                    changed = True
        for j in range(4):
            chars[4 * j + i] = group[j]
    return "".join(chr(chars[(i + 15) % 16]) for i in range(16))
