"""iactpipe-dl1-stereo: coincidence matching of two telescopes' DL1 files and stereo geometry."""

from __future__ import annotations

import json
from pathlib import Path as PathlibPath

import tables
from ctapipe.core import ToolConfigurationError
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
from ctapipe.time import ctao_high_res_to_time

from ..io import (
    FINGERPRINT_ATTRIBUTE,
    AtomicOutputFile,
    InputFileError,
    effective_config,
    read_provenance,
    write_provenance,
)
from ..io.chain_step import ChainStep
from ..io.config_guard import ALLOW_CONFIG_MISMATCH_FLAG, ConfigGuard
from ..io.dataformat import DL1_CONFIG_ATTRIBUTE, STEREO_SUMMARY_ATTRIBUTE
from ..io.inputs import check_hdf5_file
from ..io.truncation import copy_truncation_mark
from ..plotting.stereo import plot_coincidence
from ..stereo import CoincidenceMatcher
from ..stereo.assembly import StereoEvents
from ..stereo.files import combined_subarray, read_telescope_events, telescopes_in_file
from ..stereo.geometry import BatchHillasReconstructor
from ..stereo.output import SHOWER_TABLE, StereoDL1Writer
from .base import IactpipeTool, writable_directory

__all__ = ["DL1StereoTool", "main"]

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


class DL1StereoTool(IactpipeTool):
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
    progress_bar = Bool(False, help="Show progress bars").tag(config=True)
    chunk_size = Int(50_000, min=1, help="Events per chunk when copying and reconstructing").tag(
        config=True
    )

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "dl1-stereo",
        inputs=(
            "DL1StereoTool.input_files",
            "DL1StereoTool.input_files_1",
            "DL1StereoTool.input_files_2",
        ),
        outputs=("DL1StereoTool.output_path",),
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
        **ALLOW_CONFIG_MISMATCH_FLAG,
    }
    classes = [BatchHillasReconstructor, ConfigGuard, *classes_with_traits(CoincidenceMatcher)]

    def setup(self):
        if self.output_path is None:
            raise ToolConfigurationError("no output file given: use --output (-o)")
        groups = self._telescope_groups()
        self.all_paths = list(dict.fromkeys(p for paths in groups.values() for p in paths))
        self.config_guard = ConfigGuard(parent=self)
        for path in self.all_paths:
            check_hdf5_file(path, "DL1")
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
        writable_directory(self.output.path.parent, "--output")
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
        self.stereo = StereoEvents.assemble(self.events, self.result, self.keep_mono)

    def finish(self):
        path = self.output.temporary_path
        self.subarray.to_hdf(path, overwrite=True)
        sources = {k: tables.open_file(p, mode="r") for k, p in enumerate(self.all_paths)}
        try:
            with tables.open_file(path, mode="a") as out:
                writer = StereoDL1Writer(
                    out,
                    sources,
                    self.all_paths,
                    self.events,
                    self.stereo,
                    chunk_size=self.chunk_size,
                    progress_bar=self.progress_bar,
                )
                writer.copy_configuration()
                writer.write_events(self.is_simulation)
                writer.write_geometry(self.geometry)
                writer.write_diagnostics(self.result, type(self.matcher).__name__)
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
            out.root._v_attrs[STEREO_SUMMARY_ATTRIBUTE] = json.dumps(summary)
        copy_truncation_mark(self.all_paths, path)  # iactpipe-irf refuses such files
        # the plot is written before the DL1 file is committed: a failure leaves neither
        with AtomicOutputFile(self.plot_path, overwrite=True) as plot:
            plot_coincidence(self.result, plot.temporary_path, title=self.output.path.name)
            final = self.output.commit()
        self.log.info("wrote %s and %s", final, self.plot_path)
        print(  # the tool summary
            f"{self.name}: {len(self.stereo)} events ({self.result.n_pairs} stereo) "
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
        self.config_guard.require_same(prints, "inputs", "combine them")
        first = provenance[self.all_paths[0]].get(DL1_CONFIG_ATTRIBUTE)
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


def _iso(time_ns: int) -> str:
    seconds, rest = divmod(int(time_ns), 1_000_000_000)
    return ctao_high_res_to_time(seconds, rest * 4).utc.isot


def main():
    """Run iactpipe-dl1-stereo."""
    DL1StereoTool().run()


if __name__ == "__main__":
    main()
