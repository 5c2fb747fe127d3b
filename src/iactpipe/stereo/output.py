"""
Writing a stereo DL1 file in ctapipe's data model from two telescopes' DL1 files.

The input tables are copied in chunks of rows (new obs/event ids, rows in output order),
the stereo geometry is reconstructed chunk by chunk, and the matching diagnostics go to
``/dl1/service/coincidence``. Memory stays bounded by the chunk size.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.io import write_table
from ctapipe.time import ctao_high_res_to_time
from tqdm.auto import tqdm

from ..io.dataformat import (
    COINCIDENCE_INPUTS_TABLE,
    COINCIDENCE_OFFSET_SCAN_TABLE,
    COINCIDENCE_PAIRS_TABLE,
    COINCIDENCE_SUMMARY_TABLE,
    CONFIG_OBSERVATION_GROUP,
    CONFIG_SIMULATION_GROUP,
    DL0_TEL_MONITORING_GROUP,
    DL1_SUBARRAY_TRIGGER_TABLE,
    DL1_TEL_GROUP,
    DL1_TEL_MONITORING_GROUP,
    DL1_TEL_ORIGINAL_IDS_GROUP,
    DL1_TEL_PARAMETERS_GROUP,
    DL1_TEL_TRIGGER_TABLE,
    DL2_SUBARRAY_GEOMETRY_GROUP,
    DL2_TEL_IMPACT_GROUP,
    SIMULATION_GROUP,
    SIMULATION_SERVICE_GROUP,
    SIMULATION_SHOWER_TABLE,
    SIMULATION_TEL_TABLE,
    tel_node,
)
from .assembly import StereoEvents
from .diagnostics import residual_std_ns, scan_table
from .files import (
    FIXED_POINTING,
    TelescopeEvents,
    chunked_rows,
    copy_event_rows,
    event_keys,
    find_rows,
    telescope_pointing,
)
from .geometry import BatchHillasReconstructor
from .matching import MatchResult

__all__ = ["StereoDL1Writer"]

SHOWER_TABLE = SIMULATION_SHOWER_TABLE
PER_TELESCOPE_GROUPS = (DL1_TEL_GROUP, SIMULATION_TEL_TABLE)
MONITORING_GROUPS = (DL0_TEL_MONITORING_GROUP, DL1_TEL_MONITORING_GROUP)
GEOMETRY_COLUMNS = [
    "hillas_fov_lon",
    "hillas_fov_lat",
    "hillas_psi",
    "hillas_intensity",
    "hillas_length",
    "hillas_width",
    "morphology_n_pixels",
]

log = logging.getLogger(__name__)


class StereoDL1Writer:
    """
    Fill an open output file with the stereo events of two telescopes.

    Parameters
    ----------
    out : tables.File
        The output file, open for appending (the subarray already written).
    sources : dict[int, tables.File]
        The input files, open for reading, keyed by their index in ``paths``.
    paths : sequence of Path
        All input files (both telescopes), in a fixed order.
    events : sequence of TelescopeEvents
        The input events of the two telescopes.
    stereo : StereoEvents
        The output events.
    chunk_size : int
        Rows per copy and reconstruction chunk.
    progress_bar : bool
        Show progress bars.
    """

    def __init__(
        self,
        out: tables.File,
        sources: dict[int, tables.File],
        paths: Sequence[Path],
        events: Sequence[TelescopeEvents],
        stereo: StereoEvents,
        chunk_size: int = 50_000,
        progress_bar: bool = False,
    ):
        self.out, self.sources, self.paths = out, sources, list(paths)
        self.events, self.stereo = list(events), stereo
        self.chunk_size, self.progress_bar = chunk_size, progress_bar

    def _file_index(self, events: TelescopeEvents) -> np.ndarray:
        """Per input event of ``events``: the index of its file in ``self.paths``."""
        lookup = np.array([self.paths.index(p) for p in events.paths])
        return lookup[events.file_index]

    # ------------------------------------------------------------ configuration

    def copy_configuration(self):
        """Configuration, simulation service tables and monitoring of both telescopes."""
        out, sources = self.out, self.sources
        first = sources[self.paths.index(self.events[0].paths[0])]
        for group in (CONFIG_OBSERVATION_GROUP, CONFIG_SIMULATION_GROUP):
            if group in first and group not in out:
                first.copy_node(group, out.root.configuration, recursive=True)
        if SIMULATION_SERVICE_GROUP in first:
            first.copy_node(SIMULATION_SERVICE_GROUP, _group(out, SIMULATION_GROUP), recursive=True)
        for events in self.events:
            file_ids = [self.paths.index(p) for p in events.paths]
            for group in (FIXED_POINTING, *MONITORING_GROUPS):
                for k in file_ids:
                    self._copy_telescope_tables(sources[k], group, events.tel_id, k != file_ids[0])

    def _copy_telescope_tables(self, h5: tables.File, group: str, tel_id: int, append: bool):
        """Copy (or append, for later files of a telescope) its tables below ``group``."""
        if group not in h5:
            return
        name = f"tel_{tel_id:03d}"
        for node in h5.walk_nodes(group, "Table"):
            if node.name != name:
                continue
            if node._v_pathname not in self.out:
                h5.copy_node(node, _group(self.out, node._v_parent._v_pathname))
            elif append and group != FIXED_POINTING:
                self.out.get_node(node._v_pathname).append(node.read())

    # ------------------------------------------------------------ events

    def write_events(self, is_simulation: bool):
        """Subarray and telescope triggers, every per-telescope table, true showers."""
        s = self.stereo
        mask = np.stack([s.index[0] >= 0, s.index[1] >= 0], axis=1)
        order = np.argsort([e.tel_id for e in self.events])
        seconds, rest = np.divmod(s.time_ns, 1_000_000_000)
        trigger = Table(
            {
                "obs_id": s.obs_id,
                "event_id": s.event_id,
                "time": ctao_high_res_to_time(seconds, rest * 4),
                "tels_with_trigger": mask[:, order],
                "event_type": s.event_type,
            }
        )
        write_table(trigger, self.out, DL1_SUBARRAY_TRIGGER_TABLE)
        self._write_telescope_trigger()
        for k, events in enumerate(self.events):
            self._write_telescope_tables(k, events)
        if is_simulation:
            self._write_showers()

    def _write_telescope_trigger(self):
        """Both telescopes' trigger rows, ordered by (event_id, tel_id)."""
        parts = []
        for k, events in enumerate(self.events):
            positions, rows = self.stereo.tel_rows(k)
            files = self._file_index(events)[rows]
            tel = np.full(len(positions), events.tel_id)
            parts.append((positions, tel, files, events.trigger_row[rows]))
        positions, tel, files, rows = (np.concatenate(c) for c in zip(*parts, strict=True))
        sort = np.lexsort([tel, positions])
        node = DL1_TEL_TRIGGER_TABLE
        copy_event_rows(
            self.out,
            node,
            {k: h5.get_node(node) for k, h5 in self.sources.items()},
            files[sort],
            rows[sort],
            self.stereo.obs_id[positions[sort]],
            self.stereo.event_id[positions[sort]],
            self.chunk_size,
        )

    def _telescope_node_paths(self, tel_id: int, file_ids: list[int]) -> list[str]:
        """Per-telescope event tables of ``tel_id`` (trigger excluded), from its first file."""
        name = f"tel_{tel_id:03d}"
        if not file_ids:
            return []
        h5 = self.sources[file_ids[0]]
        paths = []
        for group in PER_TELESCOPE_GROUPS:
            if group in h5:
                paths += [n._v_pathname for n in h5.walk_nodes(group, "Table") if n.name == name]
        return [p for p in paths if not p.endswith(f"/trigger/{name}")]

    def _write_telescope_tables(self, k: int, events: TelescopeEvents):
        s = self.stereo
        positions, rows = s.tel_rows(k)
        files = self._file_index(events)[rows]
        wanted = event_keys(events.obs_id[rows], events.event_id[rows])
        file_ids = sorted(set(files.tolist()))
        node_paths = self._telescope_node_paths(events.tel_id, file_ids)
        for node_path in tqdm(
            node_paths, desc=f"tel {events.tel_id}", disable=not self.progress_bar
        ):
            table_rows = np.full(len(rows), -1, dtype=np.int64)
            nodes = {}
            for f in file_ids:
                if node_path not in self.sources[f]:
                    continue
                node = nodes[f] = self.sources[f].get_node(node_path)
                here = files == f
                keys = event_keys(node.col("obs_id"), node.col("event_id"))
                table_rows[here] = find_rows(keys, wanted[here])
            copy_event_rows(
                self.out,
                node_path,
                nodes,
                files,
                table_rows,
                s.obs_id[positions],
                s.event_id[positions],
                self.chunk_size,
            )
        original = Table(
            {
                "obs_id": s.obs_id[positions],
                "event_id": s.event_id[positions],
                "tel_id": np.full(len(rows), events.tel_id, dtype=np.int16),
                "original_obs_id": events.obs_id[rows],
                "original_event_id": events.event_id[rows],
                "time_ns": events.time_ns[rows],
                "file_index": files.astype(np.int32),
            }
        )
        write_table(original, self.out, tel_node(DL1_TEL_ORIGINAL_IDS_GROUP, events.tel_id))

    def _write_showers(self):
        s = self.stereo
        file_index = np.full(len(s), -1)
        wanted = np.full(len(s), -1, dtype=np.int64)
        for k in (1, 0):  # telescope 1's shower wins where both exist
            positions, rows = s.tel_rows(k)
            events = self.events[k]
            file_index[positions] = self._file_index(events)[rows]
            wanted[positions] = event_keys(events.obs_id[rows], events.event_id[rows])
        table_rows = np.full(len(s), -1, dtype=np.int64)
        nodes = {}
        for f in np.unique(file_index):
            if SHOWER_TABLE not in self.sources[f]:
                continue
            node = nodes[int(f)] = self.sources[f].get_node(SHOWER_TABLE)
            here = file_index == f
            keys = event_keys(node.col("obs_id"), node.col("event_id"))
            table_rows[here] = find_rows(keys, wanted[here])
        if nodes:
            copy_event_rows(
                self.out,
                SHOWER_TABLE,
                nodes,
                file_index,
                table_rows,
                s.obs_id,
                s.event_id,
                self.chunk_size,
            )

    # ------------------------------------------------------------ geometry

    def write_geometry(self, reconstructor: BatchHillasReconstructor):
        """Stereo geometry and per-telescope impact of every output event, in chunks."""
        names = [tel_node(DL1_TEL_PARAMETERS_GROUP, e.tel_id) for e in self.events]
        if any(name not in self.out for name in names):
            log.warning("no DL1 parameters for both telescopes: no stereo geometry written")
            return
        nodes = [self.out.get_node(name) for name in names]
        pointing = [
            telescope_pointing(events, self.stereo.tel_rows(k)[1])
            for k, events in enumerate(self.events)
        ]
        positions = [np.flatnonzero(index >= 0) for index in self.stereo.index]
        prefix = reconstructor.prefix
        for part in tqdm(
            list(chunked_rows(len(self.stereo), self.chunk_size)),
            desc="geometry",
            disable=not self.progress_bar,
        ):
            params, tel_pointing, present = self._geometry_inputs(part, nodes, positions, pointing)
            geometry, impact = reconstructor(params, tel_pointing, _array_pointing(tel_pointing))
            ids = {"obs_id": self.stereo.obs_id[part], "event_id": self.stereo.event_id[part]}
            geometry = Table({**ids, **{c: geometry[c] for c in geometry.colnames}})
            where = f"{DL2_SUBARRAY_GEOMETRY_GROUP}/{prefix}"
            write_table(geometry, self.out, where, append=part.start > 0)
            for tel_id, rows in present.items():
                table = impact[tel_id][rows]
                table.add_column(ids["obs_id"][rows], name="obs_id", index=0)
                table.add_column(ids["event_id"][rows], name="event_id", index=1)
                table.add_column(np.full(len(rows), tel_id, np.int16), name="tel_id", index=2)
                where = tel_node(f"{DL2_TEL_IMPACT_GROUP}/{prefix}", tel_id)
                write_table(table, self.out, where, append=part.start > 0)

    def _geometry_inputs(self, part: slice, nodes, positions, pointing):
        """Per telescope: Hillas columns and pointing of the chunk (NaN where absent)."""
        params, tel_pointing, present = {}, {}, {}
        n = part.stop - part.start
        for k, events in enumerate(self.events):
            lo, hi = np.searchsorted(positions[k], [part.start, part.stop])
            chunk = nodes[k].read(lo, hi)
            where = positions[k][lo:hi] - part.start
            table = Table()
            for column in GEOMETRY_COLUMNS:
                values = np.full(n, np.nan)
                values[where] = chunk[column]
                table[column] = values
            params[events.tel_id] = table
            alt, az = np.full(n, np.nan), np.full(n, np.nan)
            alt[where], az[where] = pointing[k][0][lo:hi], pointing[k][1][lo:hi]
            tel_pointing[events.tel_id] = (alt * u.rad, az * u.rad)
            present[events.tel_id] = where
        return params, tel_pointing, present

    # ------------------------------------------------------------ diagnostics

    def write_diagnostics(self, result: MatchResult, matcher_name: str):
        """Pairs, summary, offset scan and input files under ``/dl1/service/coincidence``."""
        s, (e1, e2) = self.stereo, self.events
        stereo = s.is_stereo
        pairs = Table(
            {
                "obs_id": s.obs_id[stereo],
                "event_id": s.event_id[stereo],
                "time_diff_ns": e2.time_ns[s.index[1][stereo]] - e1.time_ns[s.index[0][stereo]],
            }
        )
        pairs.meta.update(
            matcher=matcher_name,
            tel_id_1=e1.tel_id,
            tel_id_2=e2.tel_id,
            offset_ns=int(result.offset_ns),
            residual_std_ns=residual_std_ns(result),
        )
        write_table(pairs, self.out, COINCIDENCE_PAIRS_TABLE)
        summary = Table({k: [v] for k, v in result.summary().items()})
        summary["matcher"] = [matcher_name]
        summary["tel_id_1"], summary["tel_id_2"] = [e1.tel_id], [e2.tel_id]
        write_table(summary, self.out, COINCIDENCE_SUMMARY_TABLE)
        scan = scan_table(result)
        if scan is not None:
            write_table(scan, self.out, COINCIDENCE_OFFSET_SCAN_TABLE)
        inputs = Table(
            {
                "file_index": np.arange(len(self.paths), dtype=np.int32),
                "path": [str(p) for p in self.paths],
            }
        )
        write_table(inputs, self.out, COINCIDENCE_INPUTS_TABLE)


def _array_pointing(tel_pointing: dict) -> tuple[u.Quantity, u.Quantity]:
    """Parallel pointing: the array points where its telescopes point (NaN where none)."""
    alts = np.array([a.value for a, _ in tel_pointing.values()])
    azs = np.array([z.value for _, z in tel_pointing.values()])
    # an event without any pointed telescope gets NaN, which nanmean warns about
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        alt = np.nanmean(alts, axis=0)
        az = np.arctan2(np.nanmean(np.sin(azs), 0), np.nanmean(np.cos(azs), 0))
    return alt * u.rad, np.mod(az, 2 * np.pi) * u.rad


def _group(h5: tables.File, path: str) -> tables.Group:
    """The group at ``path``, created with its parents if missing."""
    if path in h5:
        return h5.get_node(path)
    where, name = path.rsplit("/", 1)
    return h5.create_group(where or "/", name, createparents=True)
