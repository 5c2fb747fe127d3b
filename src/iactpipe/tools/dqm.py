"""iactpipe-dqm: data-quality monitor of DL1 runs: run-quality table, reports, reference."""

from __future__ import annotations

import fnmatch
import glob
import json
from pathlib import Path as PathlibPath

from astropy.table import Table
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, Int, List, Path, Unicode, classes_with_traits, flag
from ctapipe.instrument import SubarrayDescription
from tqdm.auto import tqdm

from ..io import InputFileError
from ..io.atomic import AtomicOutputFile, check_output_path
from ..io.chain_step import ChainStep
from ..io.outputs import new_empty_directory_cleanup
from ..io.pixel_charges import read_pixel_charges
from ..io.provenance import effective_config
from ..plotting.quality import (
    plot_image_distributions,
    plot_night_summary,
    plot_pedestal_camera,
    plot_rates,
    write_night_pdf,
)
from ..plotting.tuning import plot_pixel_charge_overlay
from ..quality.checks import (
    DeadPixelCheck,
    HotPixelCheck,
    QualityCheck,
    RateCheck,
    hot_pixels,
    low_rate_intervals,
)
from ..quality.elements import MonitorElementsMaker
from ..quality.reference import read_elements, write_elements
from ..quality.report import (
    RunAssessment,
    night_summary_html,
    run_report_html,
)
from ..quality.selection import RUN_QUALITY_FILENAME, run_quality_table
from ..version import __version__
from .base import IactpipeTool, writable_directory

__all__ = ["DQMTool", "main"]

DEFAULT_CHECKS = [
    "RateCheck",
    "CosmicRayRateCheck",
    "NSBCheck",
    "DeadPixelCheck",
    "HotPixelCheck",
    "TimestampCheck",
    "StereoFractionCheck",
    "ReferenceComparison",
]


class DQMTool(IactpipeTool):
    """
    Data-quality monitor: monitor elements of every (run, telescope) of the DL1 files
    (rates vs time, interleaved-pedestal NSB level and dead/hot pixels, image-parameter
    distributions, timestamps, stereo matched fraction), quality checks with reasons,
    optional comparison with a reference run; writes the run-quality table that drives
    run selection (``run_quality.ecsv``), an HTML report per run, the night summary
    (HTML and PDF) and the monitor elements of each run (JSON).
    """

    name = "iactpipe-dqm"
    description = __doc__
    examples = """
    A night of DL1 files, leaving out test runs:
    > iactpipe-dqm -i "dl1/*.dl1.h5" --skip "*test*" -o dqm/

    Keep run 1001 as the reference, then compare the next nights with it:
    > iactpipe-dqm -i dl1/run001001_tel021.dl1.h5 -o dqm_ref/ --write-reference ref.json
    > iactpipe-dqm -i "dl1/*.dl1.h5" -o dqm/ --reference ref.json
    """

    input_patterns = List(
        Unicode(), default_value=[], help="DL1 files or glob patterns (quote them)"
    ).tag(config=True)
    skip_patterns = List(
        Unicode(),
        default_value=[],
        help=(
            "Leave out files matching one of these glob patterns (on the file name; on the "
            "absolute path when the pattern contains a '/')"
        ),
    ).tag(config=True)
    output_dir = Path(
        default_value=None, allow_none=True, file_ok=False, help="Output directory"
    ).tag(config=True)
    reference = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="Monitor elements of the reference run (.json or .h5, --write-reference output)",
    ).tag(config=True)
    write_reference = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="Write the monitor elements of the reference run (.json or .h5) to this file",
    ).tag(config=True)
    mc_pixel_charges = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="MC DL1 file whose pixel charge histograms are overlaid on each run's",
    ).tag(config=True)
    reference_obs_id = Int(
        -1, help="Run written by --write-reference (-1: the first run of the inputs)"
    ).tag(config=True)
    checks = List(
        Unicode(),
        default_value=DEFAULT_CHECKS,
        help="Quality checks to apply, by name (QualityCheck subclasses)",
    ).tag(config=True)
    skip_bad_files = Bool(
        False,
        help=(
            "Leave out (with a warning, listed in the night summary) input files that are "
            "not readable DL1 instead of stopping"
        ),
    ).tag(config=True)
    plots = Bool(True, help="Put figures into the HTML reports and the PDF").tag(config=True)
    progress_bar = Bool(True, help="Show a progress bar over the files").tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "dqm",
        inputs=("DQMTool.input_patterns",),
        outputs=("DQMTool.output_dir",),
    )

    aliases = {
        ("i", "input"): "DQMTool.input_patterns",
        "skip": "DQMTool.skip_patterns",
        ("o", "output"): "DQMTool.output_dir",
        "reference": "DQMTool.reference",
        "write-reference": "DQMTool.write_reference",
        "reference-obs-id": "DQMTool.reference_obs_id",
        "mc-pixel-charges": "DQMTool.mc_pixel_charges",
        "checks": "DQMTool.checks",
        "rate-bin": "MonitorElementsMaker.rate_bin_s",
    }
    flags = {
        **flag(
            "overwrite",
            "DQMTool.overwrite",
            "Replace existing outputs",
            "Never replace existing outputs",
        ),
        **flag("plots", "DQMTool.plots", "Figures in the reports", "Reports without figures"),
        **flag(
            "skip-bad-files",
            "DQMTool.skip_bad_files",
            "Leave out unreadable DL1 files",
            "Stop at the first unreadable DL1 file",
        ),
        **flag("progress", "DQMTool.progress_bar", "Show a progress bar", "No progress bar"),
    }
    classes = [MonitorElementsMaker, *classes_with_traits(QualityCheck)]

    def setup(self):
        if self.output_dir is None:
            raise ToolConfigurationError(f"{self.name}: give an output directory (--output)")
        self.files = self._input_files()
        self.maker = MonitorElementsMaker(parent=self)
        known = {c.__name__: c for c in QualityCheck.non_abstract_subclasses().values()}
        unknown = [name for name in self.checks if name not in known]
        if unknown:
            raise ToolConfigurationError(
                f"{self.name}: unknown quality check(s) {unknown}; known: {sorted(known)}"
            )
        self.quality_checks = [QualityCheck.from_name(n, parent=self) for n in self.checks]
        self.reference_elements = read_elements(self.reference) if self.reference else {}
        writable_directory(self.output_dir, "--output")
        self._exit_stack.callback(new_empty_directory_cleanup(self.output_dir))
        PathlibPath(self.output_dir).mkdir(parents=True, exist_ok=True)
        self.elements = {}

    def _input_files(self) -> list[PathlibPath]:
        if not self.input_patterns:
            raise ToolConfigurationError(f"{self.name}: give DL1 files (--input)")
        files = []
        for pattern in self.input_patterns:
            matches = sorted(glob.glob(str(PathlibPath(pattern).expanduser())))
            if not matches:
                raise InputFileError(f"{pattern}: no file matches")
            files.extend(PathlibPath(m).absolute() for m in matches)
        files = list(dict.fromkeys(files))  # unique, in order
        kept = [f for f in files if not self._skipped(f)]
        for f in sorted(set(files) - set(kept)):
            self.log.info("skipped %s (--skip)", f)
        if not kept:
            raise InputFileError(
                f"{self.name}: every input file matches --skip {self.skip_patterns}"
            )
        return kept

    def _skipped(self, path: PathlibPath) -> bool:
        # a pattern with a "/" applies to the whole path, otherwise to the file name
        return any(
            fnmatch.fnmatch(str(path) if "/" in p else path.name, p) for p in self.skip_patterns
        )

    def start(self):
        self.bad_files = {}
        for path in tqdm(self.files, disable=not self.progress_bar, desc="DL1 files"):
            try:
                telescopes = self.maker(path)
            except InputFileError as err:
                if not self.skip_bad_files:
                    raise
                self.log.warning("left out: %s", err)
                self.bad_files[str(path)] = str(err)
                continue
            for elements in telescopes:
                key = (elements.obs_id, elements.tel_id)
                if key in self.elements:
                    self.log.warning(
                        "%s: run %d tel %d already read from %s; ignored",
                        path,
                        *key,
                        self.elements[key].file,
                    )
                    continue
                self.elements[key] = elements
        if not self.elements:
            raise InputFileError(f"{self.name}: no readable DL1 file among the inputs")
        self.assessments = {key: self._assess(e) for key, e in sorted(self.elements.items())}

    def _reference_for(self, elements):
        matches = [e for (_, tel), e in self.reference_elements.items() if tel == elements.tel_id]
        if self.reference_elements and not matches:
            self.log.warning(
                "reference has no telescope %d: run %d not compared",
                elements.tel_id,
                elements.obs_id,
            )
        return matches[0] if matches else None

    def _assess(self, elements) -> RunAssessment:
        reference = self._reference_for(elements)
        reasons = []
        for check in self.quality_checks:
            reasons.extend(check(elements, reference))
        self.log.info(
            "run %d tel %d: %s", elements.obs_id, elements.tel_id, "; ".join(reasons) or "good"
        )
        return RunAssessment(elements, reasons)

    def _figures(self, assessment: RunAssessment) -> None:
        e = assessment.elements
        rate = self._check_of(RateCheck)
        intervals = low_rate_intervals(
            e.trigger_counts,
            e.rate_bin_exposure_s,
            e.rate_bin_edges_s,
            rate.min_relative_rate,
            rate.n_sigma,
            rate.min_bins,
        )
        assessment.figures["rates vs time"] = plot_rates(e, intervals)
        if e.pedestal_std_pe:
            dead_check = self._check_of(DeadPixelCheck)
            hot_check = self._check_of(HotPixelCheck)
            geometry = SubarrayDescription.from_hdf(e.file).tel[e.tel_id].camera.geometry
            assessment.figures["interleaved pedestals"] = plot_pedestal_camera(
                e,
                geometry,
                dead_check.pixels(e),
                hot_pixels(e.pedestal_std_pe, hot_check.min_relative_std),
            )
        if e.histograms:
            assessment.figures["image parameters"] = plot_image_distributions(e)
        charges = read_pixel_charges(e.file, e.tel_id)
        if charges is not None:
            mc = None
            if self.mc_pixel_charges is not None:
                mc = read_pixel_charges(self.mc_pixel_charges, e.tel_id, paired=True)
            assessment.figures["pixel charges"] = plot_pixel_charge_overlay(charges, mc)

    def _check_of(self, cls):
        return next((c for c in self.quality_checks if isinstance(c, cls)), cls(parent=self))

    def _table(self) -> Table:
        rows = []
        for a in self.assessments.values():
            e = a.elements
            rows.append(
                dict(
                    obs_id=e.obs_id,
                    tel_id=e.tel_id,
                    good=a.good,
                    reasons=a.reasons,
                    nsb_level=e.nsb_level_pe,
                    zenith=e.zenith_deg,
                    livetime=e.livetime_s,
                    night=e.night,
                    source=e.source,
                    file=e.file,
                )
            )
        table = run_quality_table(rows)
        by_key = {key: a.elements for key, a in self.assessments.items()}
        for name in ("mean_rate_hz", "bright_rate_hz"):
            table[name] = [getattr(by_key[(o, t)], name) for o, t in table["obs_id", "tel_id"]]
            table[name].unit = "Hz"
        table.meta["iactpipe_version"] = __version__
        table.meta["iactpipe_tool"] = self.name
        table.meta["iactpipe_config"] = json.dumps(effective_config([self]), sort_keys=True)
        return table

    def _outputs(self) -> dict[str, PathlibPath]:
        out = PathlibPath(self.output_dir)
        names = {
            "table": out / RUN_QUALITY_FILENAME,
            "night_html": out / "night_summary.html",
            "night_pdf": out / "night_summary.pdf",
        }
        for obs_id in sorted({key[0] for key in self.assessments}):
            names[f"html_{obs_id}"] = out / f"run{obs_id:06d}.dqm.html"
            names[f"json_{obs_id}"] = out / f"run{obs_id:06d}.elements.json"
        if self.write_reference:
            names["reference"] = PathlibPath(self.write_reference)
        return names

    def finish(self):
        outputs = self._outputs()
        for path in outputs.values():  # refuse before writing anything
            check_output_path(path, self.overwrite)
        reference_obs_id = self._reference_obs_id() if self.write_reference else None
        table = self._table()
        config = effective_config([self])
        runs = {}
        for key, a in self.assessments.items():
            runs.setdefault(key[0], []).append(a)
        for obs_id, assessments in tqdm(
            runs.items(), disable=not self.progress_bar, desc="reports"
        ):
            if self.plots:
                for a in assessments:
                    self._figures(a)
            self._write_text(outputs[f"html_{obs_id}"], run_report_html(assessments))
            with AtomicOutputFile(outputs[f"json_{obs_id}"], self.overwrite) as f:
                write_elements(f.temporary_path, [a.elements for a in assessments], config)
            for a in assessments:
                a.figures.clear()
        self._write_night(outputs, table)
        if self.write_reference:
            self._write_reference(outputs["reference"], reference_obs_id, config)
        with AtomicOutputFile(outputs["table"], self.overwrite) as f:
            table.write(f.temporary_path, format="ascii.ecsv")
        n_bad = len(set(table["obs_id"][~table["good"]]))
        print(
            f"{self.name}: {len(runs)} runs ({len(table)} telescope rows), {n_bad} bad "
            f"-> {outputs['table']}"
        )

    def _write_night(self, outputs, table) -> None:
        nights = {str(n): table[table["night"] == n] for n in sorted(set(table["night"]))}
        figures = {}
        if self.plots:
            ordered = list(self.assessments.values())
            figures["runs of the night(s)"] = plot_night_summary(
                [a.elements for a in ordered], [a.good for a in ordered]
            )
        html_text = night_summary_html(nights, figures, self.bad_files)
        self._write_text(outputs["night_html"], html_text)
        with AtomicOutputFile(outputs["night_pdf"], self.overwrite) as f:
            write_night_pdf(f.temporary_path, nights, figures)

    def _reference_obs_id(self) -> int:
        obs_ids = sorted({key[0] for key in self.assessments})
        obs_id = obs_ids[0] if self.reference_obs_id < 0 else self.reference_obs_id
        if obs_id not in obs_ids:
            raise ToolConfigurationError(
                f"{self.name}: --reference-obs-id {obs_id} is not among the runs {obs_ids}"
            )
        return obs_id

    def _write_reference(self, path, obs_id, config) -> None:
        elements = [a.elements for key, a in self.assessments.items() if key[0] == obs_id]
        with AtomicOutputFile(path, self.overwrite) as f:
            write_elements(f.temporary_path, elements, config)
        self.log.info("reference: run %d -> %s", obs_id, path)

    def _write_text(self, path, text: str) -> None:
        with AtomicOutputFile(path, self.overwrite) as f:
            f.temporary_path.write_text(text, encoding="utf-8")


def main():
    """Run iactpipe-dqm."""
    DQMTool().run()
