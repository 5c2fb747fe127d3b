"""
Observed DL2 -> DL3 event list: selection (`iactpipe.irf.DL2EventSelection`), the
gammaness cut of the IRF, sky coordinates, and the physics-trigger times per telescope
for the live time.

The run's pointing is the observation block's ``subarray_pointing`` (ICRS for tracked
observed runs, or alt/az); alt/az of pointing and events are converted with astropy for
the site and each event's time (no refraction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.table import QTable, vstack
from astropy.time import Time
from ctapipe.containers import CoordinateFrameType
from ctapipe.io import read_table
from tables import NoSuchNodeError

from ..io import InputFileError
from ..io.dataformat import DL1_TEL_TRIGGER_TABLE, OBSERVATION_BLOCK_TABLE, SIMULATION_SHOWER_TABLE
from ..io.dl2 import DL2EventReader
from ..irf.cuts import GammaCuts
from ..irf.events import DL2EventSelection
from ..stereo.files import times_to_ns
from .irf_track import PointingTrack
from .livetime import PHYSICS_EVENT_TYPES

__all__ = [
    "RunEvents",
    "load_observed_events",
    "mean_pointing_altaz",
    "physics_trigger_times",
    "pointing_track",
    "run_pointing",
]

TEL_TRIGGER = DL1_TEL_TRIGGER_TABLE
#: a gammaness cut of a chunk of events: (events, obs_id, event_id) -> mask
GammanessCut = Callable[[QTable, np.ndarray, np.ndarray], np.ndarray]
OBSERVATION_BLOCK = OBSERVATION_BLOCK_TABLE


@dataclass
class RunEvents:
    """
    The selected events of one observed run and what the DL3 headers need.

    Attributes
    ----------
    events : QTable
        ``EVENT_ID``, ``TIME`` (Time), ``RA``, ``DEC``, ``ENERGY``, ``GAMMANESS``,
        ``MULTIP``, ``ALT``, ``AZ`` of the events that pass selection and gammaness cut.
    obs_id : int
    pointing : SkyCoord
        ICRS pointing of the run.
    start, stop : Time
        First and last physics trigger of the run (any telescope).
    n_raw, n_selected : int
        Subarray events before the selection, and after it (before the gammaness cut).
    path : Path
    """

    events: QTable
    obs_id: int
    pointing: SkyCoord
    start: Time
    stop: Time
    n_raw: int
    n_selected: int
    path: Path

    def pointing_altaz(self, time: Time, location: EarthLocation) -> SkyCoord:
        """Alt/az of the pointing at ``time``."""
        return self.pointing.transform_to(AltAz(obstime=time, location=location))


def physics_trigger_times(path: Path | str) -> dict[int, np.ndarray]:
    """
    Per telescope, the int64 ns (TAI) times of its physics triggers (telescope trigger
    table; stereo files must keep the mono events, ``iactpipe-dl1-stereo --keep-mono``).

    Raises
    ------
    InputFileError
        Without telescope trigger table or times.
    """
    try:
        with tables.open_file(path) as h5:
            trigger = h5.get_node(TEL_TRIGGER).read()
    except (NoSuchNodeError, OSError) as err:
        raise InputFileError(f"{path}: no {TEL_TRIGGER} table (no timing)") from err
    if "time" not in trigger.dtype.names or len(trigger) == 0:
        raise InputFileError(f"{path}: no trigger times in {TEL_TRIGGER}")
    physics = np.isin(trigger["event_type"], PHYSICS_EVENT_TYPES)
    times = times_to_ns(trigger["time"])
    return {
        int(t): np.sort(times[physics & (trigger["tel_id"] == t)])
        for t in np.unique(trigger["tel_id"])
    }


def _ns_to_time(time_ns: int) -> Time:
    return Time(int(time_ns) // 10**9, (int(time_ns) % 10**9) / 1e9, format="unix_tai", scale="tai")


def mean_pointing_altaz(
    path: Path | str, times_ns: dict[int, np.ndarray], location: EarthLocation
) -> tuple[u.Quantity, u.Quantity]:
    """(zenith, azimuth) of the run's pointing in the middle of its triggers."""
    all_ns = np.concatenate(list(times_ns.values()))
    if len(all_ns) == 0:
        raise InputFileError(f"{path}: no physics trigger")
    middle = _ns_to_time((int(all_ns.min()) + int(all_ns.max())) // 2)
    _, pointing = run_pointing(path, location, middle)
    altaz = pointing.transform_to(AltAz(obstime=middle, location=location))
    return (90 * u.deg - altaz.alt).to(u.deg), altaz.az.to(u.deg)


def pointing_track(
    path: Path | str,
    times_ns: dict[int, np.ndarray],
    location: EarthLocation,
    sample_step: u.Quantity = 10 * u.s,
) -> PointingTrack:
    """
    The run's pointing every ``sample_step`` between its first and last physics trigger
    (the run's GTI, as in the DL3 file), times from the first trigger.
    """
    all_ns = np.concatenate(list(times_ns.values()))
    if len(all_ns) == 0:
        raise InputFileError(f"{path}: no physics trigger")
    start, stop = _ns_to_time(all_ns.min()), _ns_to_time(all_ns.max())
    duration = (stop - start).to(u.s)
    n_samples = max(2, int(np.ceil((duration / sample_step).to_value(u.one))) + 1)
    offsets = np.linspace(0, 1, n_samples) * duration
    times = start + offsets
    _, pointing = run_pointing(path, location, start + duration / 2)
    altaz = pointing.transform_to(AltAz(obstime=times, location=location))
    return PointingTrack(
        offsets,
        (90 * u.deg - altaz.alt).to(u.deg),
        altaz.az.to(u.deg),
        u.Quantity([0.0], u.s),
        u.Quantity([duration.to_value(u.s)], u.s),
    )


def run_pointing(path: Path | str, location: EarthLocation, time: Time) -> tuple[int, SkyCoord]:
    """(obs_id, ICRS pointing) from the observation block."""
    try:
        block = read_table(path, OBSERVATION_BLOCK)
    except (NoSuchNodeError, OSError) as err:
        raise InputFileError(f"{path}: no observation block (no pointing)") from err
    if len(block) != 1:
        raise InputFileError(f"{path}: {len(block)} observation blocks, one run per file needed")
    row = block[0]
    lon, lat = (
        u.Quantity(row["subarray_pointing_lon"], u.deg),
        u.Quantity(row["subarray_pointing_lat"], u.deg),
    )
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InputFileError(f"{path}: the observation block has no pointing")
    frame = CoordinateFrameType(int(row["subarray_pointing_frame"]))
    if frame == CoordinateFrameType.ICRS:
        pointing = SkyCoord(ra=lon, dec=lat, frame="icrs")
    elif frame == CoordinateFrameType.ALTAZ:
        altaz = AltAz(obstime=time, location=location)
        pointing = SkyCoord(alt=lat, az=lon, frame=altaz).icrs
    else:
        raise InputFileError(f"{path}: pointing frame {frame.name} not supported")
    return int(row["obs_id"]), pointing


def load_observed_events(
    path: Path | str,
    selection: DL2EventSelection,
    cuts: GammaCuts,
    location: EarthLocation,
    chunk_size: int = 100_000,
    gh_cut: GammanessCut | None = None,
) -> RunEvents:
    """
    Read an observed DL2 file in chunks; keep events passing ``selection`` and the
    gammaness cut of ``cuts`` (the theta cut is the analysis' job, with RAD_MAX), or
    ``gh_cut(events, obs_id, event_id)`` when given (``events``: ``gh_score``,
    ``reco_energy``; e.g. the cut between model nodes of `iactpipe.dl3.node_cuts`).

    Raises
    ------
    InputFileError
        Missing file, DL2 columns, timing or pointing; simulated input.
    """
    reader = DL2EventReader(path, selection, chunk_size, observation_info=False)
    path = reader.path
    with tables.open_file(path) as h5:
        if SIMULATION_SHOWER_TABLE in h5:
            raise InputFileError(f"{path}: simulated file; DL3 is made from observed runs")
    times = physics_trigger_times(path)
    all_ns = np.concatenate(list(times.values()))
    if len(all_ns) == 0:
        raise InputFileError(f"{path}: no physics trigger")
    start, stop = _ns_to_time(all_ns.min()), _ns_to_time(all_ns.max())
    obs_id, pointing = run_pointing(path, location, start + (stop - start) / 2)
    e, c, g = selection.prefixes
    chunks, n_selected = [], 0
    with reader:
        for selected in reader:
            physics = np.isin(selected.events["event_type"], PHYSICS_EVENT_TYPES)
            n_selected += int(physics.sum())
            chunk, multiplicity = selected.events[physics], selected.multiplicity[physics]
            energy = u.Quantity(chunk[f"{e}_energy"], u.TeV)
            score = np.asarray(chunk[f"{c}_prediction"], dtype=np.float64)
            scored = QTable({"gh_score": score, "reco_energy": energy})
            if gh_cut is None:
                passed = cuts.gh_mask(scored)
            else:
                passed = gh_cut(scored, np.asarray(chunk["obs_id"]), np.asarray(chunk["event_id"]))
            chunk, multiplicity = chunk[passed], multiplicity[passed]
            chunks.append(_event_columns(chunk, multiplicity, selection, location))
    events = vstack(chunks, metadata_conflicts="silent") if chunks else QTable()
    return RunEvents(events, obs_id, pointing, start, stop, reader.n_raw, n_selected, path)


def _event_columns(chunk, multiplicity, selection, location) -> QTable:
    e, c, g = selection.prefixes
    time = Time(chunk["time"]) if len(chunk) else Time([], format="mjd", scale="tai")
    alt = u.Quantity(chunk[f"{g}_alt"], u.deg)
    az = u.Quantity(chunk[f"{g}_az"], u.deg)
    radec = SkyCoord(alt=alt, az=az, frame=AltAz(obstime=time, location=location)).icrs
    return QTable(
        {
            "EVENT_ID": np.asarray(chunk["event_id"], dtype=np.int64),
            "TIME": time,
            "RA": radec.ra.to(u.deg),
            "DEC": radec.dec.to(u.deg),
            "ENERGY": u.Quantity(chunk[f"{e}_energy"], u.TeV),
            "GAMMANESS": np.asarray(chunk[f"{c}_prediction"], dtype=np.float32),
            "MULTIP": np.asarray(multiplicity, dtype=np.int16),
            "ALT": alt,
            "AZ": az,
        }
    )
