"""iactpipe-dl1-stereo: coincidence matching of two telescopes' DL1 files and stereo geometry."""

from __future__ import annotations

import json
import warnings
from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.core import Tool, ToolConfigurationError
from ctapipe.core.traits import (
    Bool,
    ComponentName,
    Int,
    List,
    Path,
    Unicode,
    classes_with_traits,
    flag,
)
from ctapipe.io import write_table
from ctapipe.time import ctao_high_res_to_time
from tqdm.auto import tqdm

from ..io import (
    FINGERPRINT_ATTRIBUTE,
    AtomicOutputFile,
    InputFileError,
    effective_config,
    read_provenance,
    write_provenance,
)
from ..stereo import CoincidenceMatcher, MatchResult
from ..stereo.diagnostics import plot_coincidence, residual_std_ns, scan_table
from ..stereo.files import (
    TelescopeEvents,
    chunked_rows,
    combined_subarray,
    copy_event_rows,
    event_keys,
    find_rows,
    read_telescope_events,
    telescopes_in_file,
    times_to_ns,
)
from ..stereo.geometry import BatchHillasReconstructor

__all__ = ["DL1StereoTool", "main"]

SHOWER_TABLE = "/simulation/event/subarray/shower"
PER_TELESCOPE_GROUPS = ("/dl1/event/telescope", "/simulation/event/telescope")
MONITORING_GROUPS = ("/dl0/monitoring/telescope", "/dl1/monitoring/telescope")
FIXED_POINTING = "/configuration/telescope/pointing"
MONITORING_POINTING = "/dl0/monitoring/telescope/pointing"
GEOMETRY_COLUMNS = [
    "hillas_fov_lon",
    "hillas_fov_lat",
    "hillas_psi",
    "hillas_intensity",
    "hillas_length",
    "hillas_width",
    "morphology_n_pixels",
]
#: largest clock offset expected between the telescopes when checking time overlap (ns)
OVERLAP_SLACK_NS = 1_000_000_000


def _expand(paths, pattern: str) -> list[PathlibPath]:
    files = []
    for path in paths:
        path = PathlibPath(path)
        if path.is_dir():
            found = sorted(path.glob(pattern))
            if not found:
                raise InputFileError(f"{path}: no files matching {pattern!r}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputFileError(f"{path}: file does not exist")
    return files


class DL1StereoTool(Tool):
    """
    Match the events of two telescopes recorded independently (or merge simulated
    per-telescope files) into stereo events, reconstruct their geometry (ctapipe's
    HillasReconstructor math, in batch) and write one stereo DL1 file in ctapipe's
    data model, with coincidence diagnostics and a PNG next to it.
    """

    name = "iactpipe-dl1-stereo"
    description = __doc__
    examples = """
    Observed data with White Rabbit timestamps (the default matcher for data):
    > iactpipe-dl1-stereo --input-1 run_tel021.dl1.h5 --input-2 run_tel022.dl1.h5 \\
        -o run.stereo.h5

    Data without precise timestamps: scan the clock offset (defaults: +-10 ms, 20 us steps):
    > iactpipe-dl1-stereo --input-1 dl1/tel21/ --input-2 dl1/tel22/ -o night.stereo.h5 \\
        --matcher SlidingWindowMatcher --SlidingWindowMatcher.window_half_width_ns=500000

    Simulations (already matched by event id): per-telescope files, or one file of both:
    > iactpipe-dl1-stereo --input-1 gamma_tel001.dl1.h5 --input-2 gamma_tel002.dl1.h5 -o gamma.h5
    > iactpipe-dl1-stereo -i gamma.dl1.h5 -o gamma.stereo.h5 --keep-mono
    """

    input_files_1 = List(
        Path(exists=True, directory_ok=True),
        default_value=[],
        help="DL1 files (or directories) of the first telescope",
    ).tag(config=True)
    input_files_2 = List(
        Path(exists=True, directory_ok=True),
        default_value=[],
        help="DL1 files (or directories) of the second telescope",
    ).tag(config=True)
    input_files = List(
        Path(exists=True, directory_ok=True),
        default_value=[],
        help="DL1 files holding both telescopes (simulations); use instead of -1/-2",
    ).tag(config=True)
    file_pattern = Unicode("*.h5", help="Files taken from input directories").tag(config=True)
    tel_ids = List(
        Int(), default_value=[], help="The two telescopes to combine (default: the two found)"
    ).tag(config=True)
    output_path = Path(
        default_value=None, allow_none=True, directory_ok=False, help="Output stereo DL1 file"
    ).tag(config=True)
    matcher_type = ComponentName(
        CoincidenceMatcher,
        default_value=None,
        allow_none=True,
        help=(
            "Coincidence matcher; default: EventIdMatcher for simulations, "
            "WhiteRabbitClosestMatcher for data"
        ),
    ).tag(config=True)
    keep_mono = Bool(False, help="Also write the events without a partner").tag(config=True)
    allow_config_mismatch = Bool(
        False, help="Combine inputs whose DL1 configuration fingerprints differ (logged)"
    ).tag(config=True)
    overwrite = Bool(False, help="Replace the output file if it exists").tag(config=True)
    progress_bar = Bool(False, help="Show progress bars").tag(config=True)
    chunk_size = Int(50_000, help="Events per chunk when copying and reconstructing").tag(
        config=True
    )

    aliases = {
        ("i", "input"): "DL1StereoTool.input_files",
        "input-1": "DL1StereoTool.input_files_1",
        "input-2": "DL1StereoTool.input_files_2",
        ("o", "output"): "DL1StereoTool.output_path",
        ("t", "tel-ids"): "DL1StereoTool.tel_ids",
        "matcher": "DL1StereoTool.matcher_type",
    }
    flags = {
        **flag("overwrite", "DL1StereoTool.overwrite", "Replace the output", "Keep the output"),
        **flag("progress", "DL1StereoTool.progress_bar", "Progress bars", "No progress bars"),
        **flag(
            "keep-mono",
            "DL1StereoTool.keep_mono",
            "Also write the events without a partner",
            "Write coincident events only",
        ),
        **flag(
            "allow-config-mismatch",
            "DL1StereoTool.allow_config_mismatch",
            "Combine inputs with different DL1 fingerprints",
            "Stop on different DL1 fingerprints",
        ),
    }
    classes = [BatchHillasReconstructor, *classes_with_traits(CoincidenceMatcher)]

    def setup(self):
        if self.output_path is None:
            raise ToolConfigurationError("no output file given: use --output (-o)")
        groups = self._telescope_groups()
        self.all_paths = list(dict.fromkeys(p for paths in groups.values() for p in paths))
        self.dl1_config = self._check_fingerprints()
        (t1, paths_1), (t2, paths_2) = groups.items()
        self.subarray = combined_subarray(self.all_paths, [t1, t2])
        self.events = [read_telescope_events(paths_1, t1), read_telescope_events(paths_2, t2)]
        for events in self.events:
            if len(events) == 0:
                raise InputFileError(f"{events.describe()}: no events of telescope {events.tel_id}")
        self.is_simulation = self._any_has(SHOWER_TABLE)
        name = self.matcher_type or (
            "EventIdMatcher" if self.is_simulation else "WhiteRabbitClosestMatcher"
        )
        self.matcher = CoincidenceMatcher.from_name(name, parent=self)
        if not self.matcher.uses_event_ids:
            self._check_time_overlap()
        self.geometry = BatchHillasReconstructor(self.subarray, parent=self)
        self.output = AtomicOutputFile(self.output_path, overwrite=self.overwrite)
        self._exit_stack.callback(self.output.discard)
        self.plot_path = self.output.path.with_name(f"{self.output.path.stem}.coincidence.png")

    def start(self):
        e1, e2 = self.events
        self.log.info("matching %s with %s", e1.describe(), e2.describe())
        self.result = self.matcher.match(e1.time_ns, e2.time_ns, e1.keys, e2.keys)
        self.log.info(
            "%s: %d pairs, matched fractions %.4f / %.4f, offset %d ns",
            type(self.matcher).__name__,
            self.result.n_pairs,
            self.result.matched_fraction_1,
            self.result.matched_fraction_2,
            self.result.offset_ns,
        )
        if self.result.n_pairs == 0 and not self.keep_mono:
            raise InputFileError(
                f"no coincident events between {e1.describe()} and {e2.describe()} "
                f"({type(self.matcher).__name__})"
            )
        self._assemble_events()

    def finish(self):
        path = self.output.temporary_path
        self.subarray.to_hdf(path, overwrite=True)
        sources = {k: tables.open_file(p, mode="r") for k, p in enumerate(self.all_paths)}
        try:
            with tables.open_file(path, mode="a") as out:
                self._copy_configuration(out, sources)
                self._write_events(out, sources)
                self._write_geometry(out)
                self._write_diagnostics(out)
        finally:
            for h5 in sources.values():
                h5.close()
        summary = self.result.summary()
        write_provenance(
            path,
            tool_name=self.name,
            tool_config=self.get_current_config(),
            fingerprinted={
                "DL1": self.dl1_config,
                "STEREO": effective_config([self.matcher, self.geometry]),
            },
        )
        with tables.open_file(path, mode="a") as out:
            out.root._v_attrs["IACTPIPE_STEREO_SUMMARY"] = json.dumps(summary)
        final = self.output.commit()
        temporary_plot = self.plot_path.with_name(f".{self.plot_path.name}.partial")
        plot_coincidence(self.result, temporary_plot, title=final.name)
        temporary_plot.replace(self.plot_path)
        self.log.info("wrote %s and %s", final, self.plot_path)
        print(  # the tool summary
            f"{self.name}: {self.n_events} events ({self.result.n_pairs} stereo) "
            f"-> {final}; matched fractions {self.result.matched_fraction_1:.4f} / "
            f"{self.result.matched_fraction_2:.4f}, offset {self.result.offset_ns} ns"
        )

    # ------------------------------------------------------------ inputs

    def _telescope_groups(self) -> dict[int, list[PathlibPath]]:
        if self.input_files and (self.input_files_1 or self.input_files_2):
            raise ToolConfigurationError("use either --input or --input-1/--input-2, not both")
        if self.input_files:
            paths = _expand(self.input_files, self.file_pattern)
            found = sorted({t for p in paths for t in telescopes_in_file(p)})
            wanted = list(self.tel_ids) or found
            if len(wanted) != 2 or not set(wanted) <= set(found):
                raise InputFileError(
                    f"{', '.join(map(str, paths))}: need two telescopes, found {found}"
                    + (f", asked for {wanted}" if self.tel_ids else "; choose with --tel-ids")
                )
            return {wanted[0]: paths, wanted[1]: paths}
        if not (self.input_files_1 and self.input_files_2):
            raise ToolConfigurationError(
                "no input: give --input-1 and --input-2 (one telescope each) or --input"
            )
        groups = {}
        for option, given in (("--input-1", self.input_files_1), ("--input-2", self.input_files_2)):
            paths = _expand(given, self.file_pattern)
            found = sorted({t for p in paths for t in telescopes_in_file(p)})
            if self.tel_ids:
                found = [t for t in found if t in self.tel_ids]
            if len(found) != 1:
                raise InputFileError(
                    f"{', '.join(map(str, paths))} ({option}): need one telescope, found {found}"
                )
            if found[0] in groups:
                other = ", ".join(map(str, groups[found[0]]))
                raise InputFileError(
                    f"{', '.join(map(str, paths))} and {other}: the same telescope "
                    f"{found[0]} twice, give the two telescopes' files"
                )
            groups[found[0]] = paths
        return groups

    def _check_fingerprints(self) -> dict:
        provenance = {p: read_provenance(p) for p in self.all_paths}
        prints = {p: prov.get(FINGERPRINT_ATTRIBUTE) for p, prov in provenance.items()}
        distinct = set(prints.values())
        if len(distinct) > 1:
            message = "inputs made with different DL1 configurations: " + ", ".join(
                f"{p} ({(f or 'none')[:12]})" for p, f in prints.items()
            )
            if not self.allow_config_mismatch:
                raise InputFileError(f"{message}; use --allow-config-mismatch to combine them")
            self.log.warning("%s (allowed by --allow-config-mismatch)", message)
        first = provenance[self.all_paths[0]].get("IACTPIPE_DL1_CONFIG")
        return json.loads(first) if first else {}

    def _any_has(self, node: str) -> bool:
        for path in self.all_paths:
            with tables.open_file(path, mode="r") as h5:
                if node in h5:
                    return True
        return False

    def _check_time_overlap(self):
        e1, e2 = self.events
        slack = OVERLAP_SLACK_NS
        if (
            e1.time_ns.max() + slack < e2.time_ns.min()
            or e2.time_ns.max() + slack < e1.time_ns.min()
        ):
            raise InputFileError(
                f"{e1.describe()} and {e2.describe()}: no time overlap "
                f"(tel {e1.tel_id}: {_iso(e1.time_ns.min())} to {_iso(e1.time_ns.max())}, "
                f"tel {e2.tel_id}: {_iso(e2.time_ns.min())} to {_iso(e2.time_ns.max())})"
            )

    # ------------------------------------------------------------ output events

    def _assemble_events(self):
        """Output order, new ids and, per telescope, the input event of each output event."""
        e1, e2 = self.events
        r = self.result
        index_1, index_2 = r.index_1, r.index_2
        if self.keep_mono:
            mono_1 = np.setdiff1d(np.arange(len(e1)), index_1)
            mono_2 = np.setdiff1d(np.arange(len(e2)), index_2)
            index_1 = np.concatenate([index_1, mono_1, np.full(len(mono_2), -1)])
            index_2 = np.concatenate([index_2, np.full(len(mono_1), -1), mono_2])
        has_1 = index_1 >= 0
        time = np.where(has_1, e1.time_ns[index_1], e2.time_ns[index_2] - r.offset_ns)
        order = np.argsort(time, kind="stable")
        self.index = [index_1[order], index_2[order]]
        self.time_ns = time[order]
        self.n_events = len(order)
        self.event_id = np.arange(1, self.n_events + 1, dtype=np.int64)
        has_1 = self.index[0] >= 0
        obs_2 = self._obs_id_map()(e2.obs_id[self.index[1]])
        self.obs_id = np.where(has_1, e1.obs_id[self.index[0]], obs_2).astype(np.int32)
        self.event_type = np.where(
            has_1, e1.event_type[self.index[0]], e2.event_type[self.index[1]]
        )

    def _obs_id_map(self):
        """obs_id of telescope 2 -> the obs_id of telescope 1 it is most often paired with."""
        e1, e2 = self.events
        pairs = np.stack([e2.obs_id[self.result.index_2], e1.obs_id[self.result.index_1]])
        mapping = {}
        if pairs.size:
            unique, counts = np.unique(pairs, axis=1, return_counts=True)
            for k in np.argsort(counts):
                mapping[int(unique[0, k])] = int(unique[1, k])

        def convert(obs_ids):
            return np.array([mapping.get(int(o), int(o)) for o in obs_ids], dtype=np.int64)

        return convert

    def _tel_rows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Output positions with telescope ``k`` and the input events at those positions."""
        positions = np.flatnonzero(self.index[k] >= 0)
        return positions, self.index[k][positions]

    def _global_file_index(self, events: TelescopeEvents) -> np.ndarray:
        lookup = np.array([self.all_paths.index(p) for p in events.paths])
        return lookup[events.file_index]

    def _copy_configuration(self, out: tables.File, sources: dict):
        """Configuration, simulation service tables and monitoring of both telescopes."""
        first = sources[self.all_paths.index(self.events[0].paths[0])]
        for group in ("/configuration/observation", "/configuration/simulation"):
            if group in first and group not in out:
                first.copy_node(group, out.root.configuration, recursive=True)
        if "/simulation/service" in first:
            first.copy_node("/simulation/service", _group(out, "/simulation"), recursive=True)
        for events in self.events:
            name = f"tel_{events.tel_id:03d}"
            k0 = self.all_paths.index(events.paths[0])
            for group in (FIXED_POINTING, *MONITORING_GROUPS):
                for k in [self.all_paths.index(p) for p in events.paths]:
                    h5 = sources[k]
                    if group not in h5:
                        continue
                    for node in h5.walk_nodes(group, "Table"):
                        if node.name != name:
                            continue
                        where = node._v_parent._v_pathname
                        if node._v_pathname not in out:
                            h5.copy_node(node, _group(out, where))
                        elif k != k0 and group != FIXED_POINTING:
                            out.get_node(node._v_pathname).append(node.read())

    def _write_events(self, out: tables.File, sources: dict):
        # subarray trigger
        mask = np.stack([self.index[0] >= 0, self.index[1] >= 0], axis=1)
        order = np.argsort([e.tel_id for e in self.events])
        seconds, rest = np.divmod(self.time_ns, 1_000_000_000)
        trigger = Table(
            {
                "obs_id": self.obs_id,
                "event_id": self.event_id,
                "time": ctao_high_res_to_time(seconds, rest * 4),
                "tels_with_trigger": mask[:, order],
                "event_type": self.event_type,
            }
        )
        write_table(trigger, out, "/dl1/event/subarray/trigger")

        # telescope trigger table: both telescopes, ordered by (event_id, tel_id)
        parts = []
        for k, events in enumerate(self.events):
            positions, rows = self._tel_rows(k)
            files = self._global_file_index(events)[rows]
            tel = np.full(len(positions), events.tel_id)
            parts.append((positions, tel, files, events.trigger_row[rows]))
        positions, tel, files, rows = (np.concatenate(c) for c in zip(*parts, strict=True))
        sort = np.lexsort([tel, positions])
        copy_event_rows(
            out,
            "/dl1/event/telescope/trigger",
            {k: h5.get_node("/dl1/event/telescope/trigger") for k, h5 in sources.items()},
            files[sort],
            rows[sort],
            self.obs_id[positions[sort]],
            self.event_id[positions[sort]],
            self.chunk_size,
        )

        for k, events in enumerate(self.events):
            self._write_telescope_tables(out, sources, k, events)
        if self.is_simulation:
            self._write_showers(out, sources)

    def _write_telescope_tables(self, out, sources, k: int, events: TelescopeEvents):
        positions, rows = self._tel_rows(k)
        name = f"tel_{events.tel_id:03d}"
        files = self._global_file_index(events)[rows]
        wanted = event_keys(events.obs_id[rows], events.event_id[rows])
        file_ids = sorted(set(files.tolist()))
        node_paths = []
        for group in PER_TELESCOPE_GROUPS:
            h5 = sources[file_ids[0]] if file_ids else None
            if h5 is None or group not in h5:
                continue
            node_paths += [n._v_pathname for n in h5.walk_nodes(group, "Table") if n.name == name]
        for node_path in tqdm(
            node_paths, desc=f"tel {events.tel_id}", disable=not self.progress_bar
        ):
            if node_path.endswith(f"/trigger/{name}"):
                continue
            table_rows = np.full(len(rows), -1, dtype=np.int64)
            nodes = {}
            for f in file_ids:
                if node_path not in sources[f]:
                    continue
                node = nodes[f] = sources[f].get_node(node_path)
                here = files == f
                keys = event_keys(node.col("obs_id"), node.col("event_id"))
                table_rows[here] = find_rows(keys, wanted[here])
            copy_event_rows(
                out, node_path, nodes, files, table_rows,
                self.obs_id[positions], self.event_id[positions], self.chunk_size,
            )  # fmt: skip
        original = Table(
            {
                "obs_id": self.obs_id[positions],
                "event_id": self.event_id[positions],
                "tel_id": np.full(len(rows), events.tel_id, dtype=np.int16),
                "original_obs_id": events.obs_id[rows],
                "original_event_id": events.event_id[rows],
                "time_ns": events.time_ns[rows],
                "file_index": files.astype(np.int32),
            }
        )
        write_table(original, out, f"/dl1/event/telescope/original_ids/{name}")

    def _write_showers(self, out, sources):
        file_index = np.full(self.n_events, -1)
        wanted = np.full(self.n_events, -1, dtype=np.int64)
        for k in (1, 0):  # telescope 1's shower wins where both exist
            positions, rows = self._tel_rows(k)
            events = self.events[k]
            file_index[positions] = self._global_file_index(events)[rows]
            wanted[positions] = event_keys(events.obs_id[rows], events.event_id[rows])
        table_rows = np.full(self.n_events, -1, dtype=np.int64)
        nodes = {}
        for f in np.unique(file_index):
            if SHOWER_TABLE not in sources[f]:
                continue
            node = nodes[int(f)] = sources[f].get_node(SHOWER_TABLE)
            here = file_index == f
            keys = event_keys(node.col("obs_id"), node.col("event_id"))
            table_rows[here] = find_rows(keys, wanted[here])
        if nodes:
            copy_event_rows(out, SHOWER_TABLE, nodes, file_index, table_rows,
                            self.obs_id, self.event_id, self.chunk_size)  # fmt: skip

    # ------------------------------------------------------------ geometry

    def _pointing(self, events: TelescopeEvents, rows: np.ndarray) -> tuple[np.ndarray, ...]:
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

    def _write_geometry(self, out: tables.File):
        prefix = self.geometry.prefix
        pointing = []
        for k, events in enumerate(self.events):
            _, rows = self._tel_rows(k)
            pointing.append(self._pointing(events, rows))
        parameter_nodes = [
            out.get_node(f"/dl1/event/telescope/parameters/tel_{e.tel_id:03d}")
            if f"/dl1/event/telescope/parameters/tel_{e.tel_id:03d}" in out
            else None
            for e in self.events
        ]
        if any(node is None for node in parameter_nodes):
            self.log.warning("no DL1 parameters for both telescopes: no stereo geometry written")
            return
        tel_positions = [np.flatnonzero(self.index[k] >= 0) for k in range(2)]
        for part in tqdm(
            list(chunked_rows(self.n_events, self.chunk_size)),
            desc="geometry",
            disable=not self.progress_bar,
        ):
            params, tel_pointing, present = {}, {}, {}
            for k, events in enumerate(self.events):
                positions = tel_positions[k]
                lo, hi = np.searchsorted(positions, [part.start, part.stop])
                chunk = parameter_nodes[k].read(lo, hi)
                n = part.stop - part.start
                table = Table()
                where = positions[lo:hi] - part.start
                for column in GEOMETRY_COLUMNS:
                    values = np.full(n, np.nan)
                    values[where] = chunk[column]
                    table[column] = values
                params[events.tel_id] = table
                alt, az = np.full(n, np.nan), np.full(n, np.nan)
                alt[where], az[where] = pointing[k][0][lo:hi], pointing[k][1][lo:hi]
                tel_pointing[events.tel_id] = (alt * u.rad, az * u.rad)
                present[events.tel_id] = where
            # parallel pointing: the array points where its telescopes point
            alts = np.array([a.value for a, _ in tel_pointing.values()])
            azs = np.array([z.value for _, z in tel_pointing.values()])
            # an event without any pointed telescope gets NaN, which nanmean warns about
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
                array_alt = np.nanmean(alts, axis=0)
                array_az = np.arctan2(np.nanmean(np.sin(azs), 0), np.nanmean(np.cos(azs), 0))
            geometry, impact = self.geometry(
                params, tel_pointing, (array_alt * u.rad, np.mod(array_az, 2 * np.pi) * u.rad)
            )
            ids = {"obs_id": self.obs_id[part], "event_id": self.event_id[part]}
            geometry = Table({**ids, **{c: geometry[c] for c in geometry.colnames}})
            write_table(
                geometry, out, f"/dl2/event/subarray/geometry/{prefix}", append=part.start > 0
            )
            for tel_id, where in present.items():
                table = impact[tel_id][where]
                table.add_column(self.obs_id[part][where], name="obs_id", index=0)
                table.add_column(self.event_id[part][where], name="event_id", index=1)
                table.add_column(np.full(len(where), tel_id, np.int16), name="tel_id", index=2)
                write_table(
                    table,
                    out,
                    f"/dl2/event/telescope/impact/{prefix}/tel_{tel_id:03d}",
                    append=part.start > 0,
                )

    # ------------------------------------------------------------ diagnostics

    def _write_diagnostics(self, out: tables.File):
        r: MatchResult = self.result
        e1, e2 = self.events
        stereo = (self.index[0] >= 0) & (self.index[1] >= 0)
        pairs = Table(
            {
                "obs_id": self.obs_id[stereo],
                "event_id": self.event_id[stereo],
                "time_diff_ns": e2.time_ns[self.index[1][stereo]]
                - e1.time_ns[self.index[0][stereo]],
            }
        )
        pairs.meta.update(
            matcher=type(self.matcher).__name__,
            tel_id_1=e1.tel_id,
            tel_id_2=e2.tel_id,
            offset_ns=int(r.offset_ns),
            residual_std_ns=residual_std_ns(r),
        )
        write_table(pairs, out, "/dl1/service/coincidence/pairs")
        summary = Table({k: [v] for k, v in r.summary().items()})
        summary["matcher"] = [type(self.matcher).__name__]
        summary["tel_id_1"], summary["tel_id_2"] = [e1.tel_id], [e2.tel_id]
        write_table(summary, out, "/dl1/service/coincidence/summary")
        scan = scan_table(r)
        if scan is not None:
            write_table(scan, out, "/dl1/service/coincidence/offset_scan")
        inputs = Table(
            {
                "file_index": np.arange(len(self.all_paths), dtype=np.int32),
                "path": [str(p) for p in self.all_paths],
            }
        )
        write_table(inputs, out, "/dl1/service/coincidence/inputs")


def _group(h5: tables.File, path: str) -> tables.Group:
    """The group at ``path``, created with its parents if missing."""
    if path in h5:
        return h5.get_node(path)
    where, name = path.rsplit("/", 1)
    return h5.create_group(where or "/", name, createparents=True)


def _iso(time_ns: int) -> str:
    seconds, rest = divmod(int(time_ns), 1_000_000_000)
    return ctao_high_res_to_time(seconds, rest * 4).utc.isot


def main():
    """Run iactpipe-dl1-stereo."""
    DL1StereoTool().run()


if __name__ == "__main__":
    main()
