"""
Reading per-telescope DL1 event lists and writing stereo DL1 files (no physics here).

The event lists hold only what matching needs (ids, int64 ns times, where each event's
rows are); event tables are copied in chunks of rows with ``read_coordinates``, so the
memory stays bounded whatever the file sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from ctapipe.instrument import SubarrayDescription

from ..io import InputFileError
from ..io.dataformat import DL0_TEL_POINTING_GROUP, DL1_TEL_TRIGGER_TABLE, FIXED_POINTING_GROUP

__all__ = [
    "TelescopeEvents",
    "chunked_rows",
    "combined_subarray",
    "copy_event_rows",
    "event_keys",
    "find_rows",
    "read_telescope_events",
    "telescope_pointing",
    "times_to_ns",
]

TEL_TRIGGER = DL1_TEL_TRIGGER_TABLE
FIXED_POINTING = FIXED_POINTING_GROUP
MONITORING_POINTING = DL0_TEL_POINTING_GROUP
NS_PER_S = 1_000_000_000


def times_to_ns(time_column: np.ndarray) -> np.ndarray:
    """ctapipe ``ctao_high_res`` times (seconds, quarter ns as uint32 pairs) -> int64 ns TAI."""
    time_column = np.asarray(time_column)
    seconds = time_column[..., 0].astype(np.int64)
    quarter_ns = time_column[..., 1].astype(np.int64)
    return seconds * NS_PER_S + (quarter_ns + 2) // 4


def ns_to_high_res(time_ns: np.ndarray) -> np.ndarray:
    """int64 ns TAI -> ``ctao_high_res`` uint32 pairs."""
    time_ns = np.asarray(time_ns, dtype=np.int64)
    out = np.empty((*time_ns.shape, 2), dtype=np.uint32)
    out[..., 0] = time_ns // NS_PER_S
    out[..., 1] = (time_ns % NS_PER_S) * 4
    return out


def event_keys(obs_id: np.ndarray, event_id: np.ndarray) -> np.ndarray:
    """One int64 key per (obs_id, event_id) (event ids below 2**40, obs ids below 2**23)."""
    obs_id, event_id = np.asarray(obs_id, np.int64), np.asarray(event_id, np.int64)
    if len(event_id) and (event_id.max() >= 2**40 or obs_id.max() >= 2**23):
        raise ValueError("event ids >= 2**40 or obs ids >= 2**23 are not supported")
    return (obs_id << 40) | event_id


@dataclass
class TelescopeEvents:
    """The events of one telescope over one or more files, in file order."""

    tel_id: int
    paths: list[Path]
    #: per event: index into ``paths``, row in the file's telescope trigger table
    file_index: np.ndarray
    trigger_row: np.ndarray
    obs_id: np.ndarray
    event_id: np.ndarray
    time_ns: np.ndarray
    event_type: np.ndarray

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def keys(self) -> np.ndarray:
        """(obs_id, event_id) keys, unique per file set if the files are of one run."""
        return event_keys(self.obs_id, self.event_id)

    def describe(self) -> str:
        """``tel N (file, ...)`` for error messages."""
        names = ", ".join(str(p) for p in self.paths[:3])
        more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        return f"tel {self.tel_id} ({names}{more})"


def telescopes_in_file(path: Path) -> list[int]:
    """Telescope ids with events in the telescope trigger table of a DL1 file."""
    with _open(path) as h5:
        return sorted(int(t) for t in np.unique(h5.get_node(TEL_TRIGGER).col("tel_id")))


def _open(path: Path):
    try:
        h5 = tables.open_file(path, mode="r")
    except Exception as err:
        raise InputFileError(f"{path}: not a readable HDF5 file ({err})") from None
    if TEL_TRIGGER not in h5:
        h5.close()
        raise InputFileError(f"{path}: not a DL1 file (no {TEL_TRIGGER} table)")
    return h5


def read_telescope_events(paths: Sequence[Path], tel_id: int) -> TelescopeEvents:
    """The events of ``tel_id`` in ``paths`` (telescope trigger tables only)."""
    parts = []
    for k, path in enumerate(paths):
        with _open(path) as h5:
            trigger = h5.get_node(TEL_TRIGGER).read()
        rows = np.flatnonzero(trigger["tel_id"] == tel_id)
        t = trigger[rows]
        parts.append(
            (
                np.full(len(rows), k, np.int32),
                rows,
                t["obs_id"],
                t["event_id"],
                times_to_ns(t["time"]),
                t["event_type"],
            )
        )
    columns = [np.concatenate(c) if c else np.empty(0) for c in zip(*parts, strict=True)]
    return TelescopeEvents(tel_id, list(paths), *columns)


def combined_subarray(paths: Sequence[Path], tel_ids: Sequence[int]) -> SubarrayDescription:
    """
    The subarray of ``tel_ids`` from the files; an `InputFileError` if the files describe
    different subarrays (reference location, or one telescope described differently).
    """
    positions, descriptions, reference = {}, {}, None
    first = {}
    for path in paths:
        try:
            subarray = SubarrayDescription.from_hdf(path)
        except Exception as err:
            raise InputFileError(f"{path}: no readable subarray description ({err})") from None
        if reference is None:
            reference, reference_path = subarray.reference_location, path
        elif not np.allclose(
            u.Quantity(subarray.reference_location.geocentric).to_value(u.m),
            u.Quantity(reference.geocentric).to_value(u.m),
            atol=1e-3,
        ):
            raise InputFileError(
                f"{path} and {reference_path}: files from different subarrays "
                "(different reference locations)"
            )
        for tel_id in set(tel_ids) & set(subarray.tel_ids):
            position = subarray.positions[tel_id]
            if tel_id in positions and (
                not np.allclose(position.to_value(u.m), positions[tel_id].to_value(u.m))
                or subarray.tel[tel_id] != descriptions[tel_id]
            ):
                raise InputFileError(
                    f"{path} and {first[tel_id]}: files from different subarrays "
                    f"(telescope {tel_id} differs)"
                )
            positions[tel_id], descriptions[tel_id] = position, subarray.tel[tel_id]
            first.setdefault(tel_id, path)
    missing = set(tel_ids) - set(positions)
    if missing:
        raise InputFileError(f"telescopes {sorted(missing)} are not described in {list(paths)}")
    ordered = sorted(tel_ids)
    return SubarrayDescription(
        name="iactpipe-stereo",
        tel_positions={t: positions[t] for t in ordered},
        tel_descriptions={t: descriptions[t] for t in ordered},
        reference_location=reference,
    )


def find_rows(table_keys: np.ndarray, wanted_keys: np.ndarray) -> np.ndarray:
    """Row of each wanted key in ``table_keys`` (unique), -1 where absent."""
    order = np.argsort(table_keys, kind="stable")
    pos = np.searchsorted(table_keys[order], wanted_keys)
    pos = np.clip(pos, 0, max(len(order) - 1, 0))
    if len(order) == 0:
        return np.full(len(wanted_keys), -1, dtype=np.int64)
    found = table_keys[order][pos] == wanted_keys
    return np.where(found, order[pos], -1).astype(np.int64)


def chunked_rows(n: int, chunk_size: int) -> Iterator[slice]:
    """Slices of at most ``chunk_size`` over ``range(n)``."""
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


def copy_event_rows(
    out: tables.File,
    node_path: str,
    sources: dict[int, tables.Table],
    file_index: np.ndarray,
    rows: np.ndarray,
    new_obs_id: np.ndarray,
    new_event_id: np.ndarray,
    chunk_size: int = 50_000,
) -> int:
    """
    Write the rows ``rows[k]`` of table ``sources[file_index[k]]`` to ``node_path`` of
    ``out`` in the given order, with new obs and event ids; column attributes (units,
    transforms) are copied from the first source. Rows with ``rows[k] < 0`` are skipped.

    Returns
    -------
    int
        Number of rows written.
    """
    keep = rows >= 0
    file_index, rows = file_index[keep], rows[keep]
    new_obs_id, new_event_id = new_obs_id[keep], new_event_id[keep]
    first = sources[int(file_index[0])] if len(rows) else next(iter(sources.values()))
    where, name = node_path.rsplit("/", 1)
    table = out.create_table(
        where, name, description=first.description, createparents=True, expectedrows=len(rows)
    )
    for attr in first.attrs._v_attrnames:
        if attr not in ("CLASS", "VERSION", "TITLE", "NROWS") and not attr.startswith("FIELD_"):
            table.attrs[attr] = first.attrs[attr]
    for part in chunked_rows(len(rows), chunk_size):
        chunk = np.empty(part.stop - part.start, dtype=first.dtype)
        for k in np.unique(file_index[part]):
            sel = file_index[part] == k
            source = sources[int(k)]
            if source.dtype != first.dtype:
                raise InputFileError(f"{node_path}: column layouts differ between input files")
            wanted = rows[part][sel]
            order = np.argsort(wanted, kind="stable")
            values = np.empty(len(wanted), dtype=first.dtype)
            values[order] = source.read_coordinates(wanted[order])
            chunk[sel] = values
        chunk["obs_id"] = new_obs_id[part]
        chunk["event_id"] = new_event_id[part]
        table.append(chunk)
    table.flush()
    return len(rows)


def telescope_pointing(events: TelescopeEvents, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Telescope (alt, az) in rad at the given events: monitoring, else fixed pointing."""
    alt, az = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    name = f"tel_{events.tel_id:03d}"
    for f, path in enumerate(events.paths):
        here = events.file_index[rows] == f
        if not here.any():
            continue
        with tables.open_file(path, mode="r") as h5:
            if f"{MONITORING_POINTING}/{name}" in h5:
                p = h5.get_node(f"{MONITORING_POINTING}/{name}").read()
                t = times_to_ns(p["time"])
                t0 = t.min()
                x = (events.time_ns[rows][here] - t0).astype(float)
                alt[here] = np.interp(x, (t - t0).astype(float), p["altitude"])
                az[here] = np.interp(x, (t - t0).astype(float), np.unwrap(p["azimuth"]))
            elif f"{FIXED_POINTING}/{name}" in h5:
                p = h5.get_node(f"{FIXED_POINTING}/{name}").read()
                lookup = dict(zip(p["obs_id"].tolist(), range(len(p)), strict=True))
                idx = np.array([lookup.get(int(o), -1) for o in events.obs_id[rows][here]])
                ok = idx >= 0
                values = np.full((len(idx), 2), np.nan)
                values[ok, 0] = p["telescope_pointing_altitude"][idx[ok]]
                values[ok, 1] = p["telescope_pointing_azimuth"][idx[ok]]
                alt[here], az[here] = values[:, 0], values[:, 1]
    return alt, np.mod(az, 2 * np.pi)
