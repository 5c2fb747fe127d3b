"""
Monitor elements of one telescope in one run, computed from its DL1 file.

A `MonitorElements` holds everything the quality checks and reports need, as plain
numbers and lists (so it is stored as JSON): trigger and bright-image rates in time
bins, the interleaved-pedestal statistics per pixel (NSB level, dead and hot pixels),
distributions of the image parameters, timestamp sanity and, for stereo files, the
matched fraction. `MonitorElementsMaker` computes them, reading only the columns it
needs, table by table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.coordinates import SkyCoord
from astropy.time import Time
from ctapipe.core import Component
from ctapipe.core.traits import Dict, Float, Int
from tables import NoSuchNodeError

from ..calib.pedestal import ignore_all_nan
from ..dl3.livetime import PHYSICS_EVENT_TYPES, telescope_live_time
from ..instrument import ONDREJOV_LOCATION
from ..io.dataformat import (
    COINCIDENCE_SUMMARY_TABLE,
    DL0_TEL_POINTING_GROUP,
    DL1_SKY_PEDESTAL_IMAGE_GROUP,
    DL1_TEL_PARAMETERS_GROUP,
    DL1_TEL_TRIGGER_TABLE,
    OBSERVATION_BLOCK_TABLE,
)
from ..io.errors import InputFileError
from ..io.inputs import hdf5_error_summary
from ..stereo.files import times_to_ns

__all__ = [
    "MonitorElements",
    "MonitorElementsMaker",
    "evening_date",
    "telescopes_in_file",
]

TEL_TRIGGER = DL1_TEL_TRIGGER_TABLE
PARAMETERS = DL1_TEL_PARAMETERS_GROUP
OBSERVATION_BLOCK = OBSERVATION_BLOCK_TABLE
POINTING = DL0_TEL_POINTING_GROUP
PEDESTAL = DL1_SKY_PEDESTAL_IMAGE_GROUP
STEREO_SUMMARY = COINCIDENCE_SUMMARY_TABLE

#: Known sources for the night summary: name -> (RA, Dec) in deg.
DEFAULT_SOURCES = {
    "Crab Nebula": [83.63308, 22.0145],
    "Mrk 421": [166.1138, 38.2088],
    "Mrk 501": [253.4676, 39.7602],
    "1ES 1959+650": [299.9994, 65.1485],
}


@dataclass
class MonitorElements:
    """
    Monitor elements of one (run, telescope); times in s from the first event.

    Histograms are stored as bin edges and counts; per-pixel arrays as lists indexed
    by pixel id. NaN marks a quantity the file does not provide.
    """

    obs_id: int
    tel_id: int
    file: str
    source: str = ""
    night: str = ""
    start_time: str = ""
    duration_s: float = np.nan
    livetime_s: float = np.nan
    zenith_deg: float = np.nan
    azimuth_deg: float = np.nan
    n_events: int = 0
    # rates
    rate_bin_edges_s: list = field(default_factory=list)
    rate_bin_exposure_s: list = field(default_factory=list)
    trigger_counts: list = field(default_factory=list)
    bright_counts: list = field(default_factory=list)
    bright_intensity_pe: float = np.nan
    mean_rate_hz: float = np.nan
    bright_rate_hz: float = np.nan
    # interleaved pedestals (p.e.)
    n_pedestal_rows: int = 0
    pedestal_mean_pe: list = field(default_factory=list)
    pedestal_std_pe: list = field(default_factory=list)
    pedestal_flagged_fraction: list = field(default_factory=list)
    pedestal_time_s: list = field(default_factory=list)
    pedestal_median_std_pe: list = field(default_factory=list)
    nsb_level_pe: float = np.nan
    # image parameters
    histograms: dict = field(default_factory=dict)
    medians: dict = field(default_factory=dict)
    # timestamps
    n_time_reversals: int = 0
    n_duplicate_event_ids: int = 0
    max_gap_s: float = np.nan
    # stereo
    stereo_matched_fraction: float = np.nan

    @property
    def rates_hz(self) -> tuple[np.ndarray, np.ndarray]:
        """Trigger and bright-image rates per time bin (NaN for empty bins)."""
        exposure = np.asarray(self.rate_bin_exposure_s, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            trigger = np.asarray(self.trigger_counts, dtype=float) / exposure
            bright = np.asarray(self.bright_counts, dtype=float) / exposure
        return trigger, bright

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN written as null)."""
        return _nan_to_none(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> MonitorElements:
        """Inverse of `to_dict` (null read back as NaN)."""
        names = set(cls.__dataclass_fields__)
        values = {k: (np.nan if v is None else v) for k, v in data.items() if k in names}
        return cls(**values)

    def to_json(self) -> str:
        """The elements as a JSON document."""
        return json.dumps(self.to_dict(), indent=1)


def _nan_to_none(value):
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def evening_date(time: Time, longitude: u.Quantity = ONDREJOV_LOCATION.lon) -> str:
    """Date (YYYY-MM-DD) of the evening a night starts: local solar time minus 12 h."""
    local = time.utc + (longitude.to_value(u.deg) / 15.0 - 12.0) * u.hour
    return local.datetime.strftime("%Y-%m-%d")


def telescopes_in_file(path: Path | str) -> list[int]:
    """Telescope ids with a DL1 parameter table in ``path``."""
    try:
        with tables.open_file(path) as h5:
            group = h5.get_node(PARAMETERS)
            return sorted(int(name.split("_")[1]) for name in group._v_children)
    except (NoSuchNodeError, OSError, tables.HDF5ExtError) as err:
        cause = hdf5_error_summary(err)
        raise InputFileError(f"{path}: not a DL1 file with {PARAMETERS} ({cause})") from None


def _read(h5: tables.File, path: str, fields: list[str] | None = None) -> np.ndarray | None:
    """Columns of a table (a structured array) or None if the table is missing."""
    try:
        node = h5.get_node(path)
    except NoSuchNodeError:
        return None
    if fields is None:
        return node.read()
    return {name: node.col(name) for name in fields if name in node.colnames}


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` at ``wanted`` keys (NaN where a key is missing), vectorised."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order].astype(float)
    index = np.clip(np.searchsorted(keys, wanted), 0, max(len(keys) - 1, 0))
    found = (len(keys) > 0) & (keys[index] == wanted)
    return np.where(found, values[index], np.nan)


def _histogram(values: np.ndarray, edges: np.ndarray) -> dict:
    counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


class MonitorElementsMaker(Component):
    """Compute the `MonitorElements` of every telescope of a DL1 file."""

    rate_bin_s = Float(10.0, min=0.01, help="Width of the rate time bins (s)").tag(config=True)
    bright_intensity_pe = Float(
        200.0,
        min=0.0,
        help=(
            "Cosmic-ray images brighter than this (hillas_intensity, p.e.) make the "
            "transparency proxy: their rate hardly depends on NSB and cleaning, but drops "
            "with the atmospheric transmission"
        ),
    ).tag(config=True)
    sources = Dict(
        default_value=DEFAULT_SOURCES,
        help="Known sources: name -> [RA, Dec] (deg); a run is named after the nearest one",
    ).tag(config=True)
    source_match_radius_deg = Float(
        2.0,
        min=0.0,
        help="A run's pointing within this distance of a known source takes its name (deg)",
    ).tag(config=True)
    n_intensity_bins = Int(30, min=2, help="Bins of the log10(intensity) histogram").tag(
        config=True
    )

    def __call__(self, path: Path | str) -> list[MonitorElements]:
        """Monitor elements of every telescope in the DL1 file ``path``."""
        path = Path(path)
        tel_ids = telescopes_in_file(path)
        try:
            with tables.open_file(path) as h5:
                return [self._telescope(h5, path, tel_id) for tel_id in tel_ids]
        except (OSError, tables.HDF5ExtError) as err:
            raise InputFileError(f"{path}: unreadable DL1 file ({err})") from None

    def _telescope(self, h5: tables.File, path: Path, tel_id: int) -> MonitorElements:
        trigger = _read(h5, TEL_TRIGGER)
        if trigger is None or len(trigger) == 0 or "time" not in trigger.dtype.names:
            raise InputFileError(f"{path}: no trigger times in {TEL_TRIGGER}")
        trigger = trigger[trigger["tel_id"] == tel_id]
        physics = trigger[np.isin(trigger["event_type"], PHYSICS_EVENT_TYPES)]
        if len(physics) < 3:
            raise InputFileError(f"{path}: {len(physics)} physics triggers of tel {tel_id}")
        obs_id = int(physics["obs_id"][0])
        elements = MonitorElements(obs_id=obs_id, tel_id=tel_id, file=str(path))
        time_ns = times_to_ns(physics["time"])
        t0 = int(time_ns.min())
        self._fill_run(elements, h5, path, tel_id, t0, time_ns)
        self._fill_timestamps(elements, physics["event_id"], time_ns)
        params = _read(h5, f"{PARAMETERS}/tel_{tel_id:03d}")
        self._fill_rates(elements, physics["event_id"], time_ns - t0, params)
        self._fill_images(elements, params)
        self._fill_pedestals(elements, h5, tel_id, t0)
        self._fill_stereo(elements, h5)
        return elements

    def _fill_run(self, elements, h5, path, tel_id, t0, time_ns) -> None:
        start = Time(t0 // 10**9, (t0 % 10**9) / 1e9, format="unix_tai", scale="tai")
        elements.start_time = start.utc.isot
        elements.night = evening_date(start)
        elements.n_events = len(time_ns)
        elements.duration_s = float(time_ns.max() - t0) / 1e9
        try:
            elements.livetime_s = telescope_live_time(time_ns).live_time.to_value(u.s)
        except ValueError:  # too few triggers for the Δt fit
            elements.livetime_s = elements.duration_s
        pointing = _read(h5, f"{POINTING}/tel_{tel_id:03d}", ["altitude", "azimuth"])
        if pointing and len(pointing.get("altitude", [])):
            elements.zenith_deg = float(90 - np.rad2deg(np.mean(pointing["altitude"])))
            az = np.unwrap(pointing["azimuth"])
            elements.azimuth_deg = float(np.rad2deg(np.mean(az)) % 360)
        elements.source = self._source_name(_read(h5, OBSERVATION_BLOCK))

    def _source_name(self, block: np.ndarray | None) -> str:
        if block is None or len(block) != 1:
            return "unknown"
        lon, lat = block["subarray_pointing_lon"][0], block["subarray_pointing_lat"][0]
        if not (np.isfinite(lon) and np.isfinite(lat)):
            return "unknown"
        # iactpipe writes tracked runs in ICRS (see dl3.events.run_pointing)
        pointing = SkyCoord(ra=lon * u.deg, dec=lat * u.deg, frame="icrs")
        best, best_sep = None, self.source_match_radius_deg
        for name, (ra, dec) in self.sources.items():
            sep = pointing.separation(SkyCoord(ra=ra * u.deg, dec=dec * u.deg)).deg
            if sep < best_sep:
                best, best_sep = name, sep
        return best or f"RA {lon:.1f} Dec {lat:+.1f}"

    def _fill_rates(self, elements, event_ids, rel_ns, params) -> None:
        rel_s = rel_ns / 1e9
        duration = max(elements.duration_s, self.rate_bin_s * 1e-3)
        n_bins = max(1, int(np.ceil(duration / self.rate_bin_s)))
        edges = np.arange(n_bins + 1) * self.rate_bin_s
        exposure = np.minimum(edges[1:], duration) - edges[:-1]
        counts, _ = np.histogram(rel_s, bins=edges)
        counts[-1] += np.sum(rel_s >= edges[-1])  # last event exactly on the last edge
        bright = np.zeros_like(counts)
        if params is not None and len(params):
            is_bright = _lookup(params["event_id"], params["hillas_intensity"], event_ids)
            is_bright = is_bright > self.bright_intensity_pe  # NaN (no image) is not bright
            bright, _ = np.histogram(np.minimum(rel_s[is_bright], edges[-1] - 1e-9), bins=edges)
        elements.rate_bin_edges_s = edges.tolist()
        elements.rate_bin_exposure_s = exposure.tolist()
        elements.trigger_counts = counts.tolist()
        elements.bright_counts = bright.tolist()
        elements.bright_intensity_pe = self.bright_intensity_pe
        elements.mean_rate_hz = float(counts.sum() / duration)
        elements.bright_rate_hz = float(bright.sum() / duration)

    def _fill_images(self, elements, params) -> None:
        if params is None or len(params) == 0:
            return
        cols = params.dtype.names
        intensity = params["hillas_intensity"].astype(float)
        log_edges = np.linspace(1, 5, self.n_intensity_bins + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = {"log10_intensity": _histogram(np.log10(intensity), log_edges)}
        good = np.isfinite(intensity) & (intensity > 0)
        for name in ("width", "length"):
            values = params[f"hillas_{name}"].astype(float)
            hist[name] = _histogram(values, np.linspace(0, 0.6, 31))
            elements.medians[f"{name}_deg"] = float(np.nanmedian(values[good]))
        lon_name = "hillas_fov_lon" if "hillas_fov_lon" in cols else "hillas_x"
        lat_name = "hillas_fov_lat" if "hillas_fov_lat" in cols else "hillas_y"
        edges = np.linspace(-5, 5, 26)
        x, y = params[lon_name].astype(float), params[lat_name].astype(float)
        ok = np.isfinite(x) & np.isfinite(y)
        counts, _, _ = np.histogram2d(x[ok], y[ok], bins=[edges, edges])
        hist["cog"] = {"edges": edges.tolist(), "counts": counts.astype(int).tolist()}
        elements.medians["intensity_pe"] = float(np.nanmedian(intensity[good]))
        elements.histograms = hist

    def _fill_pedestals(self, elements, h5, tel_id, t0) -> None:
        rows = _read(h5, f"{PEDESTAL}/tel_{tel_id:03d}")
        if rows is None or len(rows) == 0:
            return
        valid = rows["is_valid"] if "is_valid" in rows.dtype.names else np.ones(len(rows), bool)
        rows = rows[valid]
        if len(rows) == 0:
            return
        std = rows["std"].reshape(len(rows), -1).astype(float)  # one gain channel
        mean = rows["mean"].reshape(len(rows), -1).astype(float)
        with np.errstate(invalid="ignore"), ignore_all_nan():
            elements.pedestal_std_pe = np.nanmean(std, axis=0).tolist()
            elements.pedestal_mean_pe = np.nanmean(mean, axis=0).tolist()
            elements.pedestal_median_std_pe = np.nanmedian(std, axis=1).tolist()
        outliers = rows["outlier_mask"].reshape(len(rows), -1)
        elements.pedestal_flagged_fraction = outliers.mean(axis=0).tolist()
        elements.n_pedestal_rows = len(rows)
        mid = 0.5 * (times_to_ns(rows["time_start"]) + times_to_ns(rows["time_end"]))
        elements.pedestal_time_s = ((mid - t0) / 1e9).tolist()
        elements.nsb_level_pe = float(np.nanmedian(elements.pedestal_std_pe))

    @staticmethod
    def _fill_timestamps(elements, event_ids, time_ns) -> None:
        order = np.argsort(event_ids, kind="stable")
        steps = np.diff(time_ns[order])
        elements.n_time_reversals = int(np.sum(steps < 0))
        # from the sorted ids: np.unique's hash path is ten times slower here
        elements.n_duplicate_event_ids = int(np.sum(np.diff(event_ids[order]) == 0))
        gaps = np.diff(np.sort(time_ns))
        elements.max_gap_s = float(gaps.max() / 1e9) if len(gaps) else np.nan

    @staticmethod
    def _fill_stereo(elements, h5) -> None:
        """Matched fraction of this telescope's events (``iactpipe-dl1-stereo`` files)."""
        summary = _read(h5, STEREO_SUMMARY)
        if summary is None or len(summary) != 1:
            return
        row = summary[0]
        for k in (1, 2):
            if int(row[f"tel_id_{k}"]) == elements.tel_id:
                elements.stereo_matched_fraction = float(row[f"matched_fraction_{k}"])
