"""iactpipe-r0-dl1: calibrate, clean and parametrise camera images (R0/R1 -> DL1)."""

from __future__ import annotations

import logging
from collections import defaultdict

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.calib import CameraCalibrator, GainSelector
from ctapipe.containers import EventType
from ctapipe.core import QualityQuery, ToolConfigurationError
from ctapipe.core.traits import (
    AstroQuantity,
    Bool,
    CaselessStrEnum,
    Int,
    Path,
    classes_with_traits,
    flag,
)
from ctapipe.image import ImageCleaner, ImageProcessor
from ctapipe.image.extractor import ImageExtractor
from ctapipe.io import DataLevel, DataWriter, EventSource, HDF5EventSource, metadata, write_table
from ctapipe.io.hdf5dataformat import DL1_IMAGE_STATISTICS_TABLE, DL1_SKY_PEDESTAL_IMAGE_GROUP
from ctapipe.utils import EventTypeFilter
from tqdm.auto import tqdm

from .. import image as _register_cleaners  # noqa: F401  (SSTImageCleaner by name)
from ..batch import (
    ArrayPedestalMonitor,
    BatchDL1Processor,
    BatchRun,
    EventBatcher,
    UnsupportedConfiguration,
    file_tel_ids,
    has_true_images,
    selected_events,
)
from ..calib import ExtractedImages, PedestalMonitor, R0R1Calibrator
from ..defaults import SST1M_DL1_DEFAULTS, with_defaults
from ..image.selection import DL1EventSelection
from ..io import AtomicOutputFile, InputFileError, effective_config, write_provenance
from ..io.pointing import POINTING_GROUP, PointingRecorder
from ..io.sources import iterate_events, open_event_source
from ..io.truncation import TruncationMonitor, mark_truncated
from .base import IactpipeTool

__all__ = ["R0DL1Tool", "main"]

SELECTION_GROUP = "/dl1/event/telescope/selection"


class R0DL1Tool(IactpipeTool):
    """
    Process camera data (R0/R1 from any ctapipe EventSource) to DL1: charge
    extraction, invalid-pixel interpolation, image cleaning and image parameters,
    written in ctapipe's DL1 HDF5 data model. SST-1M defaults replace some of
    ctapipe's (LocalPeakWindowSum 7/3, SSTImageCleaner): --show-config lists them.
    """

    name = "iactpipe-r0-dl1"
    description = __doc__
    examples = """
    Process a simulation with the SST-1M defaults (SSTImageCleaner, LocalPeakWindowSum 7/3):
    > iactpipe-r0-dl1 -i gamma.simtel.zst -o gamma.dl1.h5 --progress

    Keep the cleaned images, change a cleaning threshold for telescope 22 only:
    > iactpipe-r0-dl1 -i run.h5 -o run.dl1.h5 --write-images \\
        --SSTImageCleaner.picture_threshold_pe='[["type", "*", 8], ["id", 22, 9]]'

    Use a config file (write one with iactpipe-quickstart):
    > iactpipe-r0-dl1 --config r0_dl1_mc_stereo.yaml -i gamma.simtel.zst -o gamma.dl1.h5
    """

    output_path = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="Output DL1 HDF5 file (written atomically)",
    ).tag(config=True)
    overwrite = Bool(False, help="Replace the output file if it exists").tag(config=True)
    pointing_interval = AstroQuantity(
        default_value=1.0 * u.s,
        physical_type=u.physical.time,
        help=(
            "Observed data: the telescope pointing is written to the DL1 monitoring "
            "table at most once per this interval of trigger time (plus the last event)"
        ),
    ).tag(config=True)
    progress_bar = Bool(False, help="Show a progress bar over events").tag(config=True)
    engine = CaselessStrEnum(
        ["ctapipe", "batch"],
        default_value="ctapipe",
        help=(
            "'ctapipe': the per-event ctapipe components (the reference, every input and"
            " config); 'batch': numba kernels over chunks of events, read straight from"
            " the R1 tables of simulated HDF5 files (about 10x faster), gathered from the"
            " event source otherwise; same DL1 output within float32 precision. The batch"
            " engine refuses settings it cannot reproduce (see docs/tools/r0_dl1.rst)"
        ),
    ).tag(config=True)
    chunk_size = Int(
        200, min=1, help="engine 'batch': array events per chunk (bounds the memory)"
    ).tag(config=True)
    allow_truncated = Bool(
        False,
        help=(
            "Process a truncated simulation file (its simulated-event statistics are"
            " incomplete): the DL1 file is marked and iactpipe-irf refuses it"
        ),
    ).tag(config=True)

    aliases = {
        ("i", "input"): "EventSource.input_url",
        ("o", "output"): "R0DL1Tool.output_path",
        ("t", "allowed-tels"): "EventSource.allowed_tels",
        ("m", "max-events"): "EventSource.max_events",
        "image-cleaner-type": "ImageProcessor.image_cleaner_type",
        "pointing-interval": "R0DL1Tool.pointing_interval",
        "engine": "R0DL1Tool.engine",
        "chunk-size": "R0DL1Tool.chunk_size",
    }

    flags = {
        **flag(
            "overwrite",
            "R0DL1Tool.overwrite",
            "Replace the output file if it exists",
            "Refuse to replace an existing output file",
        ),
        **flag(
            "progress",
            "R0DL1Tool.progress_bar",
            "Show a progress bar over events",
            "No progress bar",
        ),
        **flag(
            "allow-truncated",
            "R0DL1Tool.allow_truncated",
            "Process a truncated simulation file (marked; refused by iactpipe-irf)",
            "Refuse a truncated simulation file",
        ),
        **flag(
            "write-images",
            "DataWriter.write_dl1_images",
            "Store the DL1 images (charge, peak time, cleaning mask)",
            "Store DL1 parameters only",
        ),
    }

    classes = (
        [
            R0R1Calibrator,
            PedestalMonitor,
            CameraCalibrator,
            ImageProcessor,
            DL1EventSelection,
            DataWriter,
            EventTypeFilter,
            metadata.Instrument,
            metadata.Contact,
        ]
        + classes_with_traits(EventSource)
        + classes_with_traits(ImageExtractor)
        + classes_with_traits(ImageCleaner)
        + classes_with_traits(GainSelector)
        + classes_with_traits(QualityQuery)
    )

    def initialize(self, argv=None):
        """Parse config files and command line, under the SST-1M defaults."""
        super().initialize(argv)
        # here rather than in setup(), so that --show-config shows the defaults too
        self.config = with_defaults(self.config, SST1M_DL1_DEFAULTS)

    def setup(self):
        if self.output_path is None:
            raise ToolConfigurationError("no output file given: use --output (-o)")
        self.output = AtomicOutputFile(self.output_path, overwrite=self.overwrite)
        # registered first, so it runs last: after the writer closed the file
        self._exit_stack.callback(self.output.discard)

        self.event_source = self.enter_context(open_event_source(parent=self))
        self.truncation = TruncationMonitor(self.event_source)
        subarray = self.event_source.subarray
        self.event_type_filter = EventTypeFilter(parent=self)
        self.calibrate_r0 = R0R1Calibrator(subarray=subarray, parent=self)
        monitor = ArrayPedestalMonitor if self.engine == "batch" else PedestalMonitor
        self.monitor_pedestals = monitor(subarray=subarray, parent=self)
        self.calibrate = CameraCalibrator(subarray=subarray, parent=self)
        # the pedestal monitor measures the pixels, not their interpolated replacements
        self.extracted = ExtractedImages(self.calibrate)
        self.process_images = ImageProcessor(subarray=subarray, parent=self)
        self.select = DL1EventSelection(parent=self)
        self.write = DataWriter(
            event_source=self.event_source,
            parent=self,
            output_path=self.output.temporary_path,
            overwrite=True,
            write_dl1_parameters=True,
        )
        self._writer_open = True
        self._exit_stack.callback(self._close_writer)
        self.n_events = 0
        # simulations have a fixed pointing written by the DataWriter
        self.record_pointing = (
            None if self.event_source.is_simulation else PointingRecorder(self.pointing_interval)
        )
        # per telescope: rows of (obs_id, event_id, flag per criterion); a few bytes
        # per telescope event, written once at the end
        self._selection_rows = defaultdict(list)
        self.n_telescope_events = 0
        self.batch = self._setup_batch() if self.engine == "batch" else None

    def _setup_batch(self) -> BatchDL1Processor:
        problems = []
        if not self.event_source.has_any_datalevel((DataLevel.R0, DataLevel.R1)):
            problems.append("it needs R0 or R1 waveforms")
        if self.write.write_dl1_images:
            problems.append("DataWriter.write_dl1_images is not supported")
        try:
            batch = BatchDL1Processor(
                self.event_source.subarray,
                self.calibrate,
                self.process_images,
                self.monitor_pedestals,
                parent=self,
            )
        except UnsupportedConfiguration as err:
            problems.append(str(err).removeprefix("engine 'batch' cannot reproduce: "))
        if problems:
            raise ToolConfigurationError(
                f"--engine=batch: {'; '.join(problems)}; use --engine=ctapipe"
            )
        self.batch_reads_tables = self._hdf5_fast_path()
        self.log.info(
            "engine batch: %s",
            "R1 tables read in chunks" if self.batch_reads_tables else "events from the source",
        )
        return batch

    def _hdf5_fast_path(self) -> bool:
        """Whether the R1 tables can be read directly (else events from the source)."""
        source = self.event_source
        return (
            isinstance(source, HDF5EventSource)
            and "/r1/event/telescope" in source.file_
            # R0 -> R1 calibration, the pointing of observed data and true images
            # are per-event steps; an allowed-tels subset changes the trigger masks
            and "/r0/event/telescope" not in source.file_
            and source.is_simulation
            and not has_true_images(source.file_)
            and set(source.subarray.tel_ids) == file_tel_ids(source.file_)
        )

    def start(self):
        with self.truncation.watching():
            self._start()

    def _start(self):
        if self.batch is not None and self.batch_reads_tables:
            self._start_batch()
            return
        if self.batch is not None:
            self._start_batch_events()
            return
        events = iterate_events(self.event_source)
        for event in tqdm(
            events,
            desc=self.name,
            total=self.event_source.max_events,
            unit=" events",
            disable=not self.progress_bar,
        ):
            self.calibrate_r0(event)
            selected = self.event_type_filter(event)
            is_pedestal = event.trigger.event_type == EventType.SKY_PEDESTAL
            if not (selected or is_pedestal):
                continue
            self.monitor_pedestals.fill(event)
            self.extracted.clear()
            self.calibrate(event)
            self.monitor_pedestals.update(event, self.extracted.images)
            if not selected:
                continue
            self.process_images(event)
            self._write_event(event)

    def _write_event(self, event):
        """Write a processed event: DL1 tables, selection flags, pointing; count it."""
        self.write(event)
        self._record_selection(event)
        if self.record_pointing is not None:
            self.record_pointing(event)
        self.n_events += 1
        self.n_telescope_events += len(event.dl1.tel)

    def _start_batch_events(self):
        events = selected_events(
            iterate_events(self.event_source), self.calibrate_r0, self.event_type_filter
        )
        batcher = EventBatcher(self.batch, self.calibrate, self.chunk_size)
        for event, selected in tqdm(
            batcher(events),
            desc=self.name,
            total=self.event_source.max_events,
            unit=" events",
            disable=not self.progress_bar,
        ):
            if selected:
                self._write_event(event)

    def _start_batch(self):
        # the DataWriter wrote the run-level tables; the batch run appends the events
        self.write.write_simulated_shower_distributions(
            self.event_source.simulated_shower_distributions
        )
        # the events are written by the batch run, not through the DataWriter, whose
        # "no events have been written" warning would be wrong here
        level = self.write.log.level
        self.write.log.setLevel(logging.ERROR)
        try:
            self._close_writer()
        finally:
            self.write.log.setLevel(level)
        source = self.event_source
        with (
            tables.open_file(source.input_url) as h5in,
            tables.open_file(self.output.temporary_path, mode="a") as h5out,
        ):
            run = BatchRun(
                self.batch,
                h5in,
                h5out,
                tel_ids=source.subarray.tel_ids,
                max_events=source.max_events,
                allowed_types=self.event_type_filter.allowed_types,
                chunk_size=self.chunk_size,
                default_parameters=self.process_images.default_image_container,
            )
            run.run(self.select, progress=self.progress_bar, desc=self.name)
        self.n_events, self.n_telescope_events = run.n_events, run.n_telescope_events
        self._batch_flags = run.flag_tables()

    def finish(self):
        truncated = self._check_truncation()
        if self.n_telescope_events == 0:
            allowed = sorted(self.event_source.allowed_tels or [])
            raise InputFileError(
                f"{self.event_source.input_url}: no telescope events to process "
                f"({self.n_events} array events, allowed_tels={allowed or 'all'})"
            )
        if self._writer_open:
            self.write.write_simulated_shower_distributions(
                self.event_source.simulated_shower_distributions
            )
        self._close_writer()
        path = self.output.temporary_path
        write_table(
            self.process_images.check_image.to_table(functions=True),
            path,
            DL1_IMAGE_STATISTICS_TABLE,
            append=True,
        )
        self._write_selection_flags(path)
        for tel_id, table in self.monitor_pedestals.to_tables().items():
            write_table(table, path, f"{DL1_SKY_PEDESTAL_IMAGE_GROUP}/tel_{tel_id:03d}")
        if self.record_pointing is not None:
            for tel_id, table in self.record_pointing.tables().items():
                write_table(table, path, f"{POINTING_GROUP}/tel_{tel_id:03d}")
        write_provenance(
            path,
            tool_name=self.name,
            tool_config=self.get_current_config(),
            fingerprinted={"DL1": self.dl1_config()},
        )
        if truncated:
            mark_truncated(path, truncated)
        final = self.output.commit()
        self.log.info(
            "wrote %d telescope events of %d array events to %s",
            self.n_telescope_events,
            self.n_events,
            final,
        )

    def _check_truncation(self) -> str | None:
        """Why the simulation input is incomplete (None: complete); an error unless allowed."""
        problem = self.truncation.problem
        if problem is None:
            return None
        url = self.event_source.input_url
        if not self.allow_truncated:
            raise InputFileError(
                f"{url}: {problem}; the simulated-event statistics would be wrong "
                "(--allow-truncated processes it, marked so that iactpipe-irf refuses it)"
            )
        self.log.warning("%s: %s; processed (--allow-truncated), DL1 marked", url, problem)
        return problem

    def dl1_config(self) -> dict:
        """Effective extraction and cleaning settings: what DL1 consumers must agree on."""
        components = [
            self.calibrate_r0,
            self.calibrate,
            *self.calibrate.image_extractors.values(),
        ]
        return effective_config([*components, self.process_images])

    def _close_writer(self):
        if self._writer_open:
            self._writer_open = False
            self.write.finish()

    def _record_selection(self, event):
        obs_id, event_id = event.index.obs_id, event.index.event_id
        for tel_id, dl1 in event.dl1.tel.items():
            flags = self.select.evaluate(dl1.parameters)
            self._selection_rows[tel_id].append((obs_id, event_id, *flags))

    def _write_selection_flags(self, path):
        names = ["obs_id", "event_id", *self.select.criteria_names]
        with tables.open_file(path, mode="a") as h5:
            if self.batch is not None and self.batch_reads_tables:
                for tel_id, flags in self._batch_flags.items():
                    write_table(flags, h5, f"{SELECTION_GROUP}/tel_{tel_id:03d}")
                return
            for tel_id, rows in sorted(self._selection_rows.items()):
                flags = Table(rows=rows, names=names)
                flags.add_column(tel_id, name="tel_id", index=2)
                flags["is_good"] = np.all([flags[n] for n in self.select.criteria_names], axis=0)
                write_table(flags, h5, f"{SELECTION_GROUP}/tel_{tel_id:03d}")


def main():
    """Run iactpipe-r0-dl1."""
    R0DL1Tool().run()


if __name__ == "__main__":
    main()
