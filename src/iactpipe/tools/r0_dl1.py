"""iactpipe-r0-dl1: calibrate, clean and parametrise camera images (R0/R1 -> DL1)."""

from __future__ import annotations

from collections import defaultdict

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.calib import CameraCalibrator, GainSelector
from ctapipe.containers import EventType
from ctapipe.core import QualityQuery, Tool, ToolConfigurationError
from ctapipe.core.traits import AstroQuantity, Bool, Path, classes_with_traits, flag
from ctapipe.image import ImageCleaner, ImageProcessor
from ctapipe.image.extractor import ImageExtractor
from ctapipe.io import DataWriter, EventSource, metadata, write_table
from ctapipe.io.hdf5dataformat import DL1_IMAGE_STATISTICS_TABLE, DL1_SKY_PEDESTAL_IMAGE_GROUP
from ctapipe.utils import EventTypeFilter
from tqdm.auto import tqdm

from .. import image as _register_cleaners  # noqa: F401  (SSTImageCleaner by name)
from ..calib import PedestalMonitor, R0R1Calibrator
from ..defaults import SST1M_DL1_DEFAULTS, with_defaults
from ..image.selection import DL1EventSelection
from ..io import AtomicOutputFile, InputFileError, effective_config, write_provenance
from ..io.pointing import POINTING_GROUP, PointingRecorder
from ..io.sources import iterate_events, open_event_source

__all__ = ["R0DL1Tool", "main"]

SELECTION_GROUP = "/dl1/event/telescope/selection"


class R0DL1Tool(Tool):
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

    aliases = {
        ("i", "input"): "EventSource.input_url",
        ("o", "output"): "R0DL1Tool.output_path",
        ("t", "allowed-tels"): "EventSource.allowed_tels",
        ("m", "max-events"): "EventSource.max_events",
        "image-cleaner-type": "ImageProcessor.image_cleaner_type",
        "pointing-interval": "R0DL1Tool.pointing_interval",
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
        subarray = self.event_source.subarray
        self.event_type_filter = EventTypeFilter(parent=self)
        self.calibrate_r0 = R0R1Calibrator(subarray=subarray, parent=self)
        self.monitor_pedestals = PedestalMonitor(subarray=subarray, parent=self)
        self.calibrate = CameraCalibrator(subarray=subarray, parent=self)
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

    def start(self):
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
            self.calibrate(event)
            self.monitor_pedestals.update(event)
            if not selected:
                continue
            self.process_images(event)
            self.write(event)
            self._record_selection(event)
            if self.record_pointing is not None:
                self.record_pointing(event)
            self.n_events += 1
            self.n_telescope_events += len(event.dl1.tel)

    def finish(self):
        if self.n_telescope_events == 0:
            allowed = sorted(self.event_source.allowed_tels or [])
            raise InputFileError(
                f"{self.event_source.input_url}: no telescope events to process "
                f"({self.n_events} array events, allowed_tels={allowed or 'all'})"
            )
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
        final = self.output.commit()
        self.log.info(
            "wrote %d telescope events of %d array events to %s",
            self.n_telescope_events,
            self.n_events,
            final,
        )

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
