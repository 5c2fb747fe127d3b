"""iactpipe-r0-dl1: calibrate, clean and parametrise camera images (R0/R1 -> DL1)."""

from __future__ import annotations

import astropy.units as u
from ctapipe.calib import CameraCalibrator, GainSelector
from ctapipe.core import QualityQuery, ToolConfigurationError
from ctapipe.core.traits import (
    Bool,
    Int,
    Path,
    Unicode,
    classes_with_traits,
    flag,
)
from ctapipe.image import ImageCleaner, ImageProcessor
from ctapipe.image.extractor import ImageExtractor
from ctapipe.io import DataWriter, EventSource, metadata
from ctapipe.utils import EventTypeFilter
from traitlets import TraitError, validate

from .. import image as _register_cleaners  # noqa: F401  (SSTImageCleaner by name)
from ..batch import UnsupportedConfiguration
from ..batch.engines import ENGINE_ALIASES, DL1Engine, engine_class, engine_names
from ..calib import PedestalMonitor, R0R1Calibrator
from ..calib.pixel_charges import PixelChargeHistograms
from ..defaults import SST1M_DL1_DEFAULTS, with_defaults
from ..image.selection import DL1EventSelection
from ..io import AtomicOutputFile, InputFileError, effective_config, write_provenance
from ..io.chain_step import ChainStep
from ..io.sources import open_event_source
from ..io.traits import BoundedQuantity
from ..io.truncation import TruncationMonitor, mark_truncated
from ..simulation import CameraResponse
from ..simulation.nsb_modifier import NSBWaveformModifier
from .base import IactpipeTool, writable_directory

__all__ = ["R0DL1Tool", "main"]


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
    pointing_interval = BoundedQuantity(
        default_value=1.0 * u.s,
        physical_type=u.physical.time,
        min=0 * u.s,
        exclusive_min=True,
        help=(
            "Observed data: the telescope pointing is written to the DL1 monitoring "
            "table at most once per this interval of trigger time (plus the last event)"
        ),
    ).tag(config=True)
    progress_bar = Bool(False, help="Show a progress bar over events").tag(config=True)
    engine = Unicode(
        default_value="batch",
        help=(
            "'batch' (default): numba kernels over chunks of events, read straight from"
            " the R1 tables of simulated HDF5 files and from DigiCam zfits files,"
            " gathered from the event source otherwise; 'ctapipe': the per-event ctapipe"
            " components (the reference, every input and config); same DL1 output within"
            " float32 precision. Chosen explicitly, the batch engine refuses settings it"
            " cannot reproduce (see docs/tools/r0_dl1.rst); by default it then leaves"
            " the run to 'ctapipe' with a warning. Or the class name of a DL1Engine"
            " (CtapipeDL1Engine, BatchEventsDL1Engine, BatchTablesDL1Engine,"
            " BatchZFitsDL1Engine, or a plugin's)"
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

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "r0-dl1",
        inputs=("EventSource.input_url",),
        outputs=("R0DL1Tool.output_path",),
    )

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
            NSBWaveformModifier,
            CameraResponse,
            PedestalMonitor,
            PixelChargeHistograms,
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
        + classes_with_traits(DL1Engine)
    )

    def initialize(self, argv=None):
        """Parse config files and command line, under the SST-1M defaults."""
        super().initialize(argv)
        # here rather than in setup(), so that --show-config shows the defaults too
        self.config = with_defaults(self.config, SST1M_DL1_DEFAULTS)

    @validate("engine")
    def _validate_engine(self, proposal):
        name = proposal["value"]
        if name.lower() in ENGINE_ALIASES:
            return name.lower()
        if name not in DL1Engine.non_abstract_subclasses():
            raise TraitError(
                f"R0DL1Tool.engine: unknown engine {name!r}, choose one of {engine_names()}"
            )
        return name

    def setup(self):
        if self.output_path is None:
            raise ToolConfigurationError("no output file given: use --output (-o)")
        self.output = AtomicOutputFile(self.output_path, overwrite=self.overwrite)
        writable_directory(self.output.path.parent, "--output")
        # registered first, so it runs last: after the engine closed the file
        self._exit_stack.callback(self.output.discard)
        self.event_source = self.enter_context(open_event_source(parent=self))
        self.truncation = TruncationMonitor(self.event_source)
        engine = engine_class(self.engine, self.event_source)
        try:
            self.dl1_engine = self._make_engine(engine)
        except UnsupportedConfiguration as err:
            if "engine" in self.config.get("R0DL1Tool", {}):
                raise ToolConfigurationError(
                    f"--engine={self.engine}: {err}; use --engine=ctapipe"
                ) from None
            # the default engine: the reference runs what the batch kernels do not
            self.log.warning("%s; running the per-event engine (--engine=ctapipe)", err)
            engine = engine_class("ctapipe", self.event_source)
            self.dl1_engine = self._make_engine(engine)
        self._exit_stack.callback(self.dl1_engine.close)
        self.log.info("engine %s: %s", self.engine, engine.__name__)

    def _make_engine(self, engine: type[DL1Engine]) -> DL1Engine:
        return engine(
            event_source=self.event_source,
            output_path=self.output.temporary_path,
            chunk_size=self.chunk_size,
            pointing_interval=self.pointing_interval,
            progress=self.name if self.progress_bar else None,
            parent=self,
        )

    def start(self):
        with self.truncation.watching():
            self.dl1_engine.run()

    def finish(self):
        truncated = self._check_truncation()
        engine = self.dl1_engine
        if engine.n_telescope_events == 0:
            allowed = sorted(self.event_source.allowed_tels or [])
            raise InputFileError(
                f"{self.event_source.input_url}: no telescope events to process "
                f"({engine.n_events} array events, allowed_tels={allowed or 'all'})"
            )
        engine.finish()
        write_provenance(
            self.output.temporary_path,
            tool_name=self.name,
            tool_config=self.get_current_config(),
            fingerprinted={"DL1": self.dl1_config()},
        )
        if truncated:
            mark_truncated(self.output.temporary_path, truncated)
        final = self.output.commit()
        self.log.info(
            "wrote %d telescope events of %d array events to %s",
            engine.n_telescope_events,
            engine.n_events,
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
        return effective_config(self.dl1_engine.dl1_components())


def main():
    """Run iactpipe-r0-dl1."""
    R0DL1Tool().run()


if __name__ == "__main__":
    main()
