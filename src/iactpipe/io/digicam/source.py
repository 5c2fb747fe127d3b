"""
SST1MEventSource: DigiCam raw data (zfits, ``.fits.fz``) as a ctapipe `EventSource`.

A DigiCam zfits file is a FITS file whose ``Events`` binary table (compressed, header
``PBFHEAD = 'DataModel.CameraEvent'``) holds one protobuf ``CameraEvent`` per triggered
event; `protozfits` decodes them. About 40 s of data per file and telescope: a run is
several files ``<run>.000.fits.fz``, ``<run>.001.fits.fz``, ... which this source reads
as one stream.

The source fills, per event: the telescope id (data ids 21, 22), the event id (the
array event number ``arrayEvtNum`` when the file has one, else the camera event
number), the trigger time (White Rabbit timestamp ``trig.timeSec/timeNanoSec`` when
present, else the camera clock ``local_time_sec/nanosec``; both TAI), the event type,
and the R0 data in software pixel order: high-gain waveforms ``(1, 1296, 50)``, the
baseline DigiCam computed for each pixel and the pixel flags (see
`DigiCamR0CameraContainer`). With ``calibrate_r1`` (default) the source also fills R1
with `iactpipe.calib.R0R1Calibrator` (configured by its own ``R0R1Calibrator`` section),
so that ctapipe's tools, which start at R1, can process the files.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.io import fits
from astropy.time import Time
from ctapipe.containers import (
    ArrayEventContainer,
    CoordinateFrameType,
    EventType,
    ObservationBlockContainer,
    PointingMode,
    SchedulingBlockContainer,
)
from ctapipe.core import Provenance
from ctapipe.core.traits import Bool, Float, Int
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import DataLevel, EventSource

from ...calib import R0R1Calibrator
from ...instrument import DATA_TEL_IDS, sst1m_subarray, to_data_tel_id
from .containers import DigiCamR0CameraContainer, camera_to_ctapipe_event_type
from .integrity import check_zfits_integrity
from .pixel_mapping import software_order
from .tiles import ZFitsTable, find_header

__all__ = [
    "SST1MEventSource",
    "detect_baseline_scale",
    "is_digicam_zfits",
    "parse_target_field",
    "run_files",
]

#: header of the ``Events`` table of a DigiCam zfits file
EVENTS_EXTNAME = "Events"
DIGICAM_MESSAGE = "DataModel.CameraEvent"
#: DigiCam firmware since about 2019 stores the baseline in units of 1/16 ADC
BASELINE_SCALE_FIXED_POINT = 16
#: seconds of pointing intervals computed ahead by `SST1MEventSource.pointing_altaz`
POINTING_LOOKAHEAD_S = 60.0
_RUN_FILE = re.compile(r"^(?P<stem>.+)\.(?P<index>\d{3})\.fits\.fz$")
_SST1M_FILE_NAME = re.compile(r"SST1M_?(?P<tel>\d)_(?P<date>\d{8})_(?P<run>\d{4})")


def is_digicam_zfits(path: str | Path) -> bool:
    """True if ``path`` is a FITS file with a DigiCam ``Events`` table; never raises."""
    try:
        with open(path, "rb") as stream:
            if not stream.read(6) == b"SIMPLE":
                return False
            # the headers only (astropy's parser took 3 ms per file); a truncated
            # file whose headers are complete is reported by the integrity check
            header, _ = find_header(stream.fileno(), EVENTS_EXTNAME)
        return header.get("PBFHEAD") == DIGICAM_MESSAGE
    except Exception:  # any unreadable or foreign file is simply not ours
        return False


def run_files(path: str | Path) -> list[Path]:
    """
    The files of the run of ``path``: ``<stem>.NNN.fits.fz`` from ``path``'s index on.

    Files of one run are numbered consecutively; the list stops at the first missing
    index. A name without the ``.NNN.fits.fz`` pattern is a run of one file.
    """
    path = Path(path)
    match = _RUN_FILE.match(path.name)
    if match is None:
        return [path]
    files = []
    index = int(match["index"])
    while True:
        candidate = path.with_name(f"{match['stem']}.{index:03d}.fits.fz")
        if not candidate.exists():
            return files
        files.append(candidate)
        index += 1


def parse_target_field(field: str | None) -> tuple[str | None, float | None, float | None]:
    """
    Target name and pointing (RA, Dec in deg) from the ``TARGET`` header field.

    SST-1M files write ``<target>[_W<n>]_<ra>_<dec>`` (``_`` or ``,`` separated);
    calibration runs only the target. Missing parts are None.
    """
    if not field:
        return None, None, None
    for delimiter in ("_", ","):
        entries = field.split(delimiter)
        if len(entries) >= 3:
            try:
                return entries[0], float(entries[-2]), float(entries[-1])
            except ValueError:
                continue
    return field, None, None


def detect_baseline_scale(baselines: np.ndarray, samples: np.ndarray) -> int:
    """
    Scale of the stored DigiCam baselines: 1 (ADC) or 16 (1/16 ADC, fixed point).

    The baseline is the mean of the samples before the event, so it is close to the
    median sample of the event in ADC: a median ratio above 4 means fixed point.
    """
    ratio = np.median(baselines) / max(float(np.median(samples)), 1.0)
    return BASELINE_SCALE_FIXED_POINT if ratio > 4 else 1


class SST1MEventSource(EventSource):
    """
    Read SST-1M DigiCam raw data (zfits ``.fits.fz``, R0) with `protozfits`.

    Registered for ctapipe under the ``ctapipe_io`` entry point, so that ctapipe's own
    tools (``ctapipe-process``, ``ctapipe-fileinfo``) and `~ctapipe.io.EventSource`
    recognise DigiCam files. The events carry R0 (waveforms in ADC) and, with
    ``calibrate_r1``, R1 from `iactpipe.calib.R0R1Calibrator`.
    """

    read_whole_run = Bool(
        True,
        help=(
            "Read the following files of the run too (<run>.001.fits.fz, ...), as one"
            " stream, when the input is named <run>.NNN.fits.fz"
        ),
    ).tag(config=True)
    tel_id = Int(
        default_value=None,
        allow_none=True,
        help=(
            "Telescope id of the data (21 or 22). None: from the file (telescopeID,"
            " simulation ids 1, 2 become 21, 22)"
        ),
    ).tag(config=True)
    obs_id = Int(
        default_value=None,
        allow_none=True,
        help=(
            "Observation id. None: the OBS_ID keyword of the Events header (files of"
            " iactpipe-simulate), else <date><run> from an SST1M<tel>_<date>_<run> file"
            " name, else the camera clock second of the first event"
        ),
    ).tag(config=True)
    baseline_scale = Int(
        default_value=None,
        allow_none=True,
        help=(
            "Divisor of the stored DigiCam baselines (1: ADC, 16: 1/16 ADC as written by"
            " the firmware since about 2019). None: detected from the first event"
        ),
    ).tag(config=True)
    pointing_ra_deg = Float(
        default_value=None,
        allow_none=True,
        help="Pointing right ascension (deg, ICRS); overrides the file header",
    ).tag(config=True)
    pointing_dec_deg = Float(
        default_value=None,
        allow_none=True,
        help="Pointing declination (deg, ICRS); overrides the file header",
    ).tag(config=True)
    calibrate_r1 = Bool(
        True,
        help=(
            "Fill R1 with iactpipe's R0R1Calibrator (needed by ctapipe-process, which"
            " starts at R1); False gives R0 only"
        ),
    ).tag(config=True)
    verify_checksum = Bool(
        True,
        help=(
            "Before reading, compare each file's Events data with its DATASUM checksum"
            " (finds flipped bytes; truncation is always checked)"
        ),
    ).tag(config=True)
    pointing_update_interval_s = Float(
        1.0,
        help=(
            "Alt/az of the pointing computed once per interval of this length (s), at its"
            " start (since 1970 TAI)"
        ),
    ).tag(config=True)

    def __init__(self, input_url=None, config=None, parent=None, **kwargs):
        super().__init__(input_url=input_url, config=config, parent=parent, **kwargs)
        from protozfits import File

        self._zfits_file = File
        first = Path(self.input_url)
        self.input_files = run_files(first) if self.read_whole_run else [first]
        for path in self.input_files:
            # protozfits crashes on a truncated file and decodes flipped bytes silently
            check_zfits_integrity(path, checksum=self.verify_checksum)
            Provenance().add_input_file(str(path), role="R0/Event", add_meta=False)

        header = self._events_header(first)
        first_event = self._first_event(first)
        file_tel_id = to_data_tel_id(int(first_event.telescopeID or DATA_TEL_IDS[0]))
        self._tel_id = int(self.tel_id) if self.tel_id is not None else file_tel_id
        self._baseline_scale = self.baseline_scale or detect_baseline_scale(
            np.asarray(first_event.hiGain.waveforms.baselines),
            np.asarray(first_event.hiGain.waveforms.samples),
        )
        self._obs_id = self._make_obs_id(first, first_event, header)
        self._pointing = self._make_pointing(header, first)
        self._target = parse_target_field(header.get("TARGET"))[0]

        tel_ids = tuple(self.allowed_tels) if self.allowed_tels else DATA_TEL_IDS
        self._subarray = sst1m_subarray(tel_ids=tel_ids)
        self._blocks = self._make_blocks()
        #: R0 -> R1 of the run (configured as ``SST1MEventSource.R0R1Calibrator``);
        #: applied to every event with ``calibrate_r1``, by chunk readers otherwise
        self.r0_r1_calibrator = R0R1Calibrator(subarray=self._subarray, parent=self)
        #: alt/az (rad) of the pointing per pointing_update_interval_s interval
        self._altaz_cache: dict[int, tuple[float, float]] = {}
        self.log.info(
            "%s: %d file(s), telescope %d, obs_id %d, stored baseline scale %d",
            first,
            len(self.input_files),
            self._tel_id,
            self._obs_id,
            self._baseline_scale,
        )

    @staticmethod
    def is_compatible(file_path) -> bool:
        """A FITS file with a DigiCam ``Events`` table (``PBFHEAD = DataModel.CameraEvent``)."""
        return is_digicam_zfits(file_path)

    @staticmethod
    def _events_header(path: Path) -> fits.Header:
        with fits.open(path, memmap=False) as hdul:
            return hdul[EVENTS_EXTNAME].header.copy()

    def _first_event(self, path: Path):
        """
        The fields of the first event the source's set-up needs (telescope id,
        baselines, samples, camera clock): from the first tile (`ZFitsTable`) when it
        decodes them, else the protobuf message through protozfits (whose reader takes
        about 0.3 s to open and close a file of 1000 events).
        """
        first = _first_event_from_tiles(path)
        if first is not None:
            return first
        with self._zfits_file(str(path)) as zfile:
            for event in zfile.Events:
                return event
        raise ValueError("the Events table is empty")

    def _make_obs_id(self, path: Path, first_event, header: fits.Header) -> int:
        if self.obs_id is not None:
            return int(self.obs_id)
        if "OBS_ID" in header:
            return int(header["OBS_ID"])
        match = _SST1M_FILE_NAME.search(path.name)
        if match:
            return int(match["date"] + match["run"])
        return int(first_event.local_time_sec or 0)

    def _make_pointing(self, header: fits.Header, path: Path) -> SkyCoord | None:
        if self.pointing_ra_deg is not None and self.pointing_dec_deg is not None:
            return SkyCoord(self.pointing_ra_deg * u.deg, self.pointing_dec_deg * u.deg)
        for ra_key, dec_key in (("RA", "DEC"), ("RA_PNT", "DEC_PNT"), ("TELRA", "TELDEC")):
            if ra_key in header and dec_key in header:
                return SkyCoord(float(header[ra_key]) * u.deg, float(header[dec_key]) * u.deg)
        _, ra, dec = parse_target_field(header.get("TARGET"))
        if ra is not None and dec is not None:
            return SkyCoord(ra * u.deg, dec * u.deg)
        self.log.warning(
            "%s: no pointing in the file header; set SST1MEventSource.pointing_ra_deg"
            " and pointing_dec_deg to reconstruct sky directions",
            path,
        )
        return None

    def _make_blocks(self):
        pointing = {}
        mode = PointingMode.UNKNOWN
        if self._pointing is not None:
            mode = PointingMode.TRACK
            pointing = dict(
                subarray_pointing_lon=self._pointing.ra.to(u.deg),
                subarray_pointing_lat=self._pointing.dec.to(u.deg),
                subarray_pointing_frame=CoordinateFrameType.ICRS,
            )
        producer = f"SST1M-{self._tel_id}"
        sb = SchedulingBlockContainer(
            sb_id=np.uint64(self._obs_id), producer_id=producer, pointing_mode=mode
        )
        ob = ObservationBlockContainer(
            obs_id=np.uint64(self._obs_id),
            sb_id=np.uint64(self._obs_id),
            producer_id=producer,
            **pointing,
        )
        return {self._obs_id: sb}, {self._obs_id: ob}

    @property
    def subarray(self) -> SubarrayDescription:
        return self._subarray

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def datalevels(self) -> tuple[DataLevel, ...]:
        if self.calibrate_r1:
            return (DataLevel.R0, DataLevel.R1)
        return (DataLevel.R0,)

    @property
    def scheduling_blocks(self):
        return self._blocks[0]

    @property
    def observation_blocks(self):
        return self._blocks[1]

    @property
    def pointing(self) -> SkyCoord | None:
        """Pointing (ICRS) of the run, None when unknown."""
        return self._pointing

    @property
    def telescope_id(self) -> int:
        """The run's telescope id: ``tel_id`` if set, else the file's (1, 2 -> 21, 22)."""
        return self._tel_id

    @property
    def stored_baseline_scale(self) -> int:
        """Divisor of the stored baselines: ``baseline_scale`` or detected (1 or 16)."""
        return int(self._baseline_scale)

    def _generator(self):
        count = 0
        tel_id = self._tel_id
        if self.allowed_tels and tel_id not in self.allowed_tels:
            self.log.warning("telescope %d of %s is not in allowed_tels", tel_id, self.input_url)
            return
        for path in self.input_files:
            self.log.debug("reading %s", path)
            with self._zfits_file(str(path)) as zfile:
                for zevent in zfile.Events:
                    event = self._make_event(zevent, tel_id)
                    event.count = count
                    count += 1
                    if self.calibrate_r1:
                        self.r0_r1_calibrator(event)
                    yield event

    def _make_event(self, zevent, tel_id: int) -> ArrayEventContainer:
        event = ArrayEventContainer()
        array_number = zevent.arrayEvtNum
        event_id = array_number if array_number else zevent.eventNumber
        event.index.obs_id = self._obs_id
        event.index.event_id = int(event_id)

        waveforms = zevent.hiGain.waveforms
        n_pixels = len(waveforms.baselines)
        order = software_order(waveforms.pixelsIndices)
        samples = np.asarray(waveforms.samples).reshape(n_pixels, -1)[order]
        local_ns = int(zevent.local_time_sec) * 1_000_000_000 + int(zevent.local_time_nanosec)
        wr_ns = -1
        trig = zevent.trig
        if trig is not None and trig.timeSec:
            wr_ns = int(trig.timeSec) * 1_000_000_000 + int(trig.timeNanoSec)
        time_ns = wr_ns if wr_ns >= 0 else local_ns
        time = Time(time_ns // 1_000_000_000, (time_ns % 1_000_000_000) * 1e-9, format="unix_tai")

        camera_event_type = int(zevent.event_type or 0)
        flags = zevent.pixels_flags
        event.r0.tel[tel_id] = DigiCamR0CameraContainer(
            waveform=samples.astype(np.uint16)[np.newaxis],
            baseline=np.asarray(waveforms.baselines)[order] / self._baseline_scale,
            pixel_flags=None if flags is None or len(flags) == 0 else np.asarray(flags)[order],
            camera_event_type=camera_event_type,
            camera_event_number=int(zevent.eventNumber),
            local_time_ns=local_ns,
            white_rabbit_time_ns=wr_ns,
        )
        event.trigger.time = time
        event.trigger.tels_with_trigger = np.array([tel_id])
        event.trigger.tel[tel_id].time = time
        event.trigger.event_type = camera_to_ctapipe_event_type(camera_event_type)
        if event.trigger.event_type is EventType.UNKNOWN:
            self.log.debug("event %d: unknown camera event type %d", event_id, camera_event_type)
        self.fill_pointing(event, tel_id, time_ns)
        return event

    def pointing_altaz(self, time_ns) -> tuple[np.ndarray, np.ndarray] | None:
        """
        Altitude and azimuth (rad) of the run's ICRS pointing at trigger times (ns since
        1970, TAI), each computed at the start of its ``pointing_update_interval_s``
        interval (one transformation for all the intervals of a call and those of the
        following `POINTING_LOOKAHEAD_S`, cached); None when the pointing is unknown.
        """
        if self._pointing is None:
            return None
        interval_ns = max(1, round(self.pointing_update_interval_s * 1e9))
        cells = np.asarray(time_ns, dtype=np.int64) // interval_ns
        unique, inverse = np.unique(cells, return_inverse=True)
        missing = [cell for cell in unique.tolist() if cell not in self._altaz_cache]
        if missing:
            if len(self._altaz_cache) > 10_000:  # bounded: about 3 h of 1 s intervals
                self._altaz_cache.clear()
            # the intervals of the next minute too: one astropy transformation (about
            # 20 ms whatever its length) per minute of data instead of one per chunk
            ahead = max(1, round(POINTING_LOOKAHEAD_S * 1e9 / interval_ns))
            missing = [
                cell
                for cell in range(missing[0], missing[-1] + ahead + 1)
                if cell not in self._altaz_cache
            ]
            seconds, nanoseconds = np.divmod(np.array(missing, dtype=np.int64) * interval_ns, 10**9)
            time = Time(seconds, nanoseconds * 1e-9, format="unix_tai")
            index = self.subarray.tel_index_array[self._tel_id]
            location = self.subarray.tel_coords[index].to_earth_location()
            altaz = self._pointing.transform_to(AltAz(obstime=time, location=location))
            alt, az = altaz.alt.to_value(u.rad).tolist(), altaz.az.to_value(u.rad).tolist()
            self._altaz_cache.update(zip(missing, zip(alt, az, strict=True), strict=True))
        values = np.array([self._altaz_cache[cell] for cell in unique.tolist()]).reshape(-1, 2)
        return values[inverse, 0], values[inverse, 1]

    def fill_pointing(self, event: ArrayEventContainer, tel_id: int, time_ns: int) -> None:
        """
        The telescope and array pointing of ``event`` triggered at ``time_ns`` (ns since
        1970, TAI; `pointing_altaz`); nothing when the pointing is unknown.
        """
        altaz = self.pointing_altaz([time_ns])
        if altaz is None:
            return
        altitude, azimuth = altaz[0][0] * u.rad, altaz[1][0] * u.rad
        pointing = event.monitoring.tel[tel_id].pointing
        pointing.azimuth = azimuth
        pointing.altitude = altitude
        event.monitoring.pointing.array_azimuth = azimuth
        event.monitoring.pointing.array_altitude = altitude
        event.monitoring.pointing.array_ra = self._pointing.ra.to(u.rad)
        event.monitoring.pointing.array_dec = self._pointing.dec.to(u.rad)


#: the fields of the first event `SST1MEventSource` reads, as zfits columns
_FIRST_EVENT_COLUMNS = (
    "telescopeID",
    "local_time_sec",
    "hiGain_waveforms_baselines",
    "hiGain_waveforms_samples",
)


def _first_event_from_tiles(path: Path) -> SimpleNamespace | None:
    """
    The first event's ``telescopeID``, ``local_time_sec`` and high-gain baselines and
    samples, laid out as the protobuf message (absent scalars 0), decoded from the
    first tile; None when the tile decoder cannot read them (protozfits then does).
    """
    try:
        with ZFitsTable(path) as table:
            if table.n_rows == 0 or table.unsupported(_FIRST_EVENT_COLUMNS) is not None:
                return None
            # the first row only: the samples of one event, not of the whole tile
            values = {name: table.read_first(name, 0) for name in _FIRST_EVENT_COLUMNS}
    except Exception:  # anything unusual: protozfits decides (and reports)
        return None
    if values["hiGain_waveforms_baselines"] is None or values["hiGain_waveforms_samples"] is None:
        return None
    scalars = {
        name: 0 if values[name] is None else int(values[name][0])
        for name in ("telescopeID", "local_time_sec")
    }
    waveforms = SimpleNamespace(
        baselines=values["hiGain_waveforms_baselines"],
        samples=values["hiGain_waveforms_samples"],
    )
    return SimpleNamespace(**scalars, hiGain=SimpleNamespace(waveforms=waveforms))
