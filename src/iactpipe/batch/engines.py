"""
The R1 -> DL1 engines of ``iactpipe-r0-dl1``: one component family chosen by name.

A `DL1Engine` processes a whole event source into one DL1 file: it owns its reading,
its processing components, the selection flags, the pedestal monitor and the writer,
and declares (`DL1Engine.reproduced_traits`) which component traits it reproduces; it
refuses, when it is built, a configuration it does not (`UnsupportedConfiguration`).

- `CtapipeDL1Engine`: ctapipe's per-event components, the reference (every input and
  every setting);
- `BatchEventsDL1Engine`: events from the source, gathered in chunks for the numba
  kernels of `BatchDL1Processor`;
- `BatchTablesDL1Engine`: the R1 tables of a simulated HDF5 file read in chunks;
- `~iactpipe.batch.zfits.BatchZFitsDL1Engine`: DigiCam zfits read in chunks.

The user-visible names ``ctapipe`` and ``batch`` of ``R0DL1Tool.engine`` are aliases
(`ENGINE_ALIASES`, resolved by `engine_class`); a subclass of `DL1Engine` (in a plugin)
is chosen by its class name.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import ClassVar

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table, vstack
from ctapipe.calib import CameraCalibrator
from ctapipe.containers import EventType
from ctapipe.core import Component
from ctapipe.image import ImageProcessor
from ctapipe.io import DataLevel, DataWriter, EventSource, HDF5EventSource, write_table
from ctapipe.utils import EventTypeFilter
from tqdm.auto import tqdm

from ..calib import ExtractedImages, PedestalMonitor, R0R1Calibrator
from ..image.selection import DL1EventSelection
from ..io.dataformat import (
    DL1_IMAGE_STATISTICS_TABLE,
    DL1_PIXEL_CHARGES_GROUP,
    DL1_SKY_PEDESTAL_IMAGE_GROUP,
    DL1_TEL_SELECTION_GROUP,
    R0_TEL_GROUP,
    R1_TEL_GROUP,
    tel_node,
)
from ..io.pointing import POINTING_GROUP, PointingRecorder
from ..io.sources import iterate_events
from ..simulation.nsb_modifier import NSBWaveformModifier
from .engine import REPRODUCED_TRAITS, BatchDL1Processor, UnsupportedConfiguration
from .events import EventBatcher, selected_events
from .monitor import ArrayPedestalMonitor
from .pipeline import BatchRun, file_tel_ids, has_true_images

__all__ = [
    "ENGINE_ALIASES",
    "BatchEventsDL1Engine",
    "BatchTablesDL1Engine",
    "CtapipeDL1Engine",
    "DL1Engine",
    "SelectionFlags",
    "declared_base",
    "engine_class",
    "engine_names",
]

SELECTION_GROUP = DL1_TEL_SELECTION_GROUP

#: user-visible engine names: each maps to engine classes in order of preference,
#: the first that reads the input is used
ENGINE_ALIASES = {
    "ctapipe": ("CtapipeDL1Engine",),
    "batch": ("BatchTablesDL1Engine", "BatchZFitsDL1Engine", "BatchEventsDL1Engine"),
}


def engine_names() -> list[str]:
    """The names ``R0DL1Tool.engine`` accepts: the aliases, then every engine class."""
    return [*ENGINE_ALIASES, *DL1Engine.non_abstract_subclasses()]


def engine_class(name: str, source: EventSource) -> type[DL1Engine]:
    """
    The engine class for ``name`` (an alias or a class name) on ``source``.

    An alias gives its first engine that reads ``source`` (the last one otherwise,
    whose set-up then names what it lacks).
    """
    engines = DL1Engine.non_abstract_subclasses()
    if name not in ENGINE_ALIASES:
        return engines[name]
    candidates = [engines[n] for n in ENGINE_ALIASES[name]]
    for candidate in candidates:
        if candidate.unreadable(source) is None:
            return candidate
    return candidates[-1]


def declared_base(reproduced: Mapping[type, frozenset[str]], component: Component) -> type | None:
    """The nearest declared class ``component`` is an instance of, or None."""
    for cls in type(component).__mro__:
        if cls in reproduced:
            return cls
    return None


class SelectionFlags:
    """
    The DL1 selection flags of a run, per telescope: evaluated per event or per
    parameter table, kept as tables and written once.

    Parameters
    ----------
    select : DL1EventSelection
    """

    def __init__(self, select: DL1EventSelection):
        self.select = select
        self._rows = defaultdict(list)
        self._tables = defaultdict(list)

    def add_event(self, event) -> None:
        """Flags of the telescope events of a processed ``event`` (a few bytes each)."""
        obs_id, event_id = event.index.obs_id, event.index.event_id
        for tel_id, dl1 in event.dl1.tel.items():
            flags = self.select.evaluate(dl1.parameters)
            self._rows[tel_id].append((obs_id, event_id, *flags))

    def add_table(self, tel_id: int, parameters: Table) -> None:
        """Flags of the rows of one telescope's DL1 ``parameters`` table."""
        self._tables[tel_id].append(self.select.flags(parameters))

    def tables(self) -> dict[int, Table]:
        """One flag table per telescope, by telescope id."""
        names = ["obs_id", "event_id", *self.select.criteria_names]
        for tel_id, rows in self._rows.items():
            flags = Table(rows=rows, names=names)
            flags.add_column(tel_id, name="tel_id", index=2)
            flags["is_good"] = np.all([flags[n] for n in self.select.criteria_names], axis=0)
            self._tables[tel_id].append(flags)
        self._rows.clear()
        tables = {}
        for tel_id, parts in sorted(self._tables.items()):
            table = vstack(parts)
            # the type of the DL1 tables' tel_id, whatever the source's keys are
            table["tel_id"] = table["tel_id"].astype(np.int16)
            tables[tel_id] = table
        return tables

    def write(self, h5: tables.File) -> None:
        """Write the flag tables into an open DL1 file."""
        for tel_id, flags in self.tables().items():
            write_table(flags, h5, f"{SELECTION_GROUP}/tel_{tel_id:03d}")


class DL1Engine(Component):
    """
    R1 -> DL1 of a whole event source into one DL1 file (abstract).

    Builds the configured components (the same for every engine, so one config serves
    all), checks that it reproduces them (`reproduced_traits`), `run` processes every
    event, `finish` writes the run-level tables and closes the file.

    Parameters
    ----------
    event_source : ctapipe.io.EventSource
        The open input.
    output_path : pathlib.Path
        The DL1 file to write (created; the caller makes it atomic).
    chunk_size : int
        Array events per chunk (engines that work on chunks).
    pointing_interval : astropy.units.Quantity
        Observed data: the interval of the recorded telescope pointing.
    progress : str or None
        Label of a progress bar; None: no progress bar.
    """

    #: Per component class, the config traits the engine reproduces; a configured
    #: component of another class (a subclass of a declared one included), or with a
    #: config trait not in its set, is refused. None: every component and trait.
    reproduced_traits: ClassVar[Mapping[type, frozenset[str]] | None] = None
    #: the pedestal monitor class the engine feeds
    monitor_class: ClassVar[type[PedestalMonitor]] = PedestalMonitor

    def __init__(
        self,
        event_source: EventSource,
        output_path,
        chunk_size: int = 200,
        pointing_interval: u.Quantity = 1 * u.s,
        progress: str | None = None,
        config=None,
        parent=None,
        **kwargs,
    ):
        super().__init__(config=config, parent=parent, **kwargs)
        self.event_source = event_source
        self.chunk_size = chunk_size
        self.progress = progress
        subarray = event_source.subarray
        self.event_type_filter = EventTypeFilter(parent=self)
        # R0 -> R1 by the source's calibrator when the source fills R1 itself (DigiCam
        # zfits: configured as SST1MEventSource.R0R1Calibrator): every engine then
        # applies, and records, the settings the source uses
        calibrator = getattr(event_source, "r0_r1_calibrator", None)
        if calibrator is None or not getattr(event_source, "calibrate_r1", False):
            calibrator = R0R1Calibrator(subarray=subarray, parent=self)
        self.calibrate_r0 = calibrator
        #: MC tuned to a night: extra NSB, voltage-drop noise, efficiency (if enabled)
        self.modify_waveforms = NSBWaveformModifier(
            subarray=subarray, is_simulation=event_source.is_simulation, parent=self
        )
        self.monitor_pedestals = self.monitor_class(subarray=subarray, parent=self)
        self.calibrate = CameraCalibrator(subarray=subarray, parent=self)
        self._invalid_pixel_handler = self.calibrate.invalid_pixel_handler
        # the pedestal monitor measures the pixels, not their interpolated replacements
        self.extracted = ExtractedImages(self.calibrate)
        self.process_images = ImageProcessor(subarray=subarray, parent=self)
        self.select = DL1EventSelection(parent=self)
        self.write = DataWriter(
            event_source=event_source,
            parent=self,
            output_path=output_path,
            overwrite=True,
            write_dl1_parameters=True,
        )
        self._writer_open = True
        self.output_path = output_path
        try:
            self.check_configuration()
        except UnsupportedConfiguration:
            self.close()
            raise
        self.flags = SelectionFlags(self.select)
        # simulations have a fixed pointing written by the DataWriter
        self.record_pointing = (
            None if event_source.is_simulation else PointingRecorder(pointing_interval)
        )
        self.n_events = 0
        self.n_telescope_events = 0

    @classmethod
    def unreadable(cls, source: EventSource) -> str | None:
        """Why this engine cannot read ``source``, or None when it can."""
        return None

    def configured_components(self) -> list[tuple[str, Component]]:
        """``(role, component)`` of the components whose settings shape the DL1 output."""
        calibrate, images = self.calibrate, self.process_images
        components = [
            ("camera calibrator", calibrate),
            ("data volume reducer", calibrate.data_volume_reducer),
            *(("image extractor", e) for e in calibrate.image_extractors.values()),
            ("invalid pixel handler", self._invalid_pixel_handler),
            ("image processor", images),
            ("image cleaner", images.clean),
            ("image quality query", images.check_image),
            ("pedestal monitor", self.monitor_pedestals),
        ]
        return [(role, c) for role, c in components if c is not None]

    def unreproduced(self) -> list[str]:
        """
        The configured components and traits `reproduced_traits` does not declare.

        A component's own class must be declared: a subclass of a declared class may
        compute something else (``MARSImageCleaner`` is a ``TailcutsImageCleaner``), so
        it is refused too, with the traits it adds.
        """
        if self.reproduced_traits is None:
            return []
        problems = []
        for role, component in self.configured_components():
            cls = type(component)
            traits = set(component.trait_names(config=True))
            base = declared_base(self.reproduced_traits, component)
            if base is None:
                problems.append(f"{role} {cls.__name__}")
            elif base is not cls:
                added = sorted(traits - self.reproduced_traits[base])
                also = f", adds trait(s) {', '.join(added)}" if added else ""
                problems.append(f"{role} {cls.__name__} (a subclass of {base.__name__}{also})")
            else:
                for trait in sorted(traits - self.reproduced_traits[cls]):
                    problems.append(f"{role} {cls.__name__}: trait {cls.__name__}.{trait}")
        return problems

    def unsupported(self) -> list[str]:
        """Settings of declared components the engine still cannot reproduce (values)."""
        return []

    def check_configuration(self) -> None:
        """Raise `UnsupportedConfiguration` naming every setting not reproduced."""
        problems = [*self.unreproduced(), *self.unsupported()]
        if problems:
            raise UnsupportedConfiguration(
                f"engine {type(self).__name__} cannot reproduce: {'; '.join(problems)}"
            )

    @abstractmethod
    def run(self) -> None:
        """Process every event of the source into the DL1 file; count them."""

    def events(self) -> Iterator:
        """The source's events (read errors become `InputFileError`), with a progress bar."""
        return tqdm(
            iterate_events(self.event_source),
            desc=self.progress,
            total=self.event_source.max_events,
            unit=" events",
            disable=self.progress is None,
        )

    def write_event(self, event) -> None:
        """Write a processed event: DL1 tables, selection flags, pointing; count it."""
        self.write(event)
        self.flags.add_event(event)
        if self.record_pointing is not None:
            self.record_pointing(event)
        self.n_events += 1
        self.n_telescope_events += len(event.dl1.tel)

    def image_statistics(self) -> Table:
        """The image quality query's counts (ctapipe's image statistics table)."""
        return self.process_images.check_image.to_table(functions=True)

    def finish(self) -> None:
        """Write the run-level tables (statistics, flags, monitoring) and close the file."""
        if self._writer_open:
            self.write.write_simulated_shower_distributions(
                self.event_source.simulated_shower_distributions
            )
        self.close()
        # the file opened once for all tables (an opening per table costs milliseconds)
        with tables.open_file(self.output_path, mode="a") as h5:
            write_table(self.image_statistics(), h5, DL1_IMAGE_STATISTICS_TABLE, append=True)
            self.flags.write(h5)
            for tel_id, table in self.monitor_pedestals.to_tables().items():
                write_table(table, h5, f"{DL1_SKY_PEDESTAL_IMAGE_GROUP}/tel_{tel_id:03d}")
            for tel_id, table in self.monitor_pedestals.pixel_charges.to_tables().items():
                write_table(table, h5, tel_node(DL1_PIXEL_CHARGES_GROUP, tel_id))
            if self.record_pointing is not None:
                for tel_id, table in self.record_pointing.tables().items():
                    write_table(table, h5, f"{POINTING_GROUP}/tel_{tel_id:03d}")

    def close(self, quiet: bool = False) -> None:
        """Close the DataWriter (once); ``quiet``: without its 'no events' warning."""
        if not self._writer_open:
            return
        self._writer_open = False
        level = self.write.log.level
        if quiet:
            self.write.log.setLevel(logging.ERROR)
        try:
            self.write.finish()
        finally:
            self.write.log.setLevel(level)

    def dl1_components(self) -> list[Component]:
        """The components whose settings DL1 consumers must agree on (fingerprinted)."""
        calibrate = self.calibrate
        # the MC tuning only when enabled: untuned files keep their fingerprint
        tuning = [self.modify_waveforms] if self.modify_waveforms.enabled else []
        return [
            self.calibrate_r0,
            *tuning,
            calibrate,
            *calibrate.image_extractors.values(),
            self.process_images,
        ]

    def get_current_config(self) -> dict:
        """
        The engine's traits under its name, its components beside it: the layout a
        Tool holding the components itself gives (``IACTPIPE_CONFIG`` keeps its keys).
        """
        config = {}
        for key, value in self.__dict__.items():
            if isinstance(value, Component) and not key.startswith("_"):
                config.update(value.get_current_config())
        name = type(self).__name__
        config[name] = {k: v.get(self) for k, v in self.traits(config=True).items()}
        return config


class CtapipeDL1Engine(DL1Engine):
    """ctapipe's per-event components: the reference (every input and setting)."""

    def run(self) -> None:
        for event in self.events():
            self.calibrate_r0(event)
            self.modify_waveforms(event)
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
            self.write_event(event)


class BatchDL1Engine(DL1Engine):
    """The numba kernels of `BatchDL1Processor` over chunks of events (abstract)."""

    reproduced_traits = REPRODUCED_TRAITS
    monitor_class = ArrayPedestalMonitor

    def __init__(self, event_source, output_path, **kwargs):
        super().__init__(event_source, output_path, **kwargs)
        self.processor = BatchDL1Processor(
            event_source.subarray,
            self.calibrate,
            self.process_images,
            self.monitor_pedestals,
            interpolate_invalid=self._invalid_pixel_handler is not None,
            modify_waveforms=self.modify_waveforms.modify_chunk,
            parent=self,
        )

    @classmethod
    def unreadable(cls, source: EventSource) -> str | None:
        if not source.has_any_datalevel((DataLevel.R0, DataLevel.R1)):
            return "it needs R0 or R1 waveforms"
        return None

    def unsupported(self) -> list[str]:
        problems = []
        unreadable = self.unreadable(self.event_source)
        if unreadable is not None:
            problems.append(unreadable)
        if self.write.write_dl1_images:
            problems.append("DataWriter.write_dl1_images is not supported")
        problems += BatchDL1Processor.unsupported_values(
            self.event_source.subarray, self.process_images
        )
        return problems

    def image_statistics(self) -> Table:
        return self.processor.image_counts.to_table(functions=True)


class BatchEventsDL1Engine(BatchDL1Engine):
    """
    Events from any event source (sim_telarray, zfits, HDF5), calibrated R0 -> R1 per
    event, processed in chunks by the batch kernels, written by the DataWriter.
    """

    def run(self) -> None:
        events = selected_events(self.events(), self.calibrate_r0, self.event_type_filter)
        batcher = EventBatcher(self.processor, self.calibrate, self.chunk_size)
        for event, selected in batcher(events):
            if selected:
                self.write_event(event)


class BatchTablesDL1Engine(BatchDL1Engine):
    """
    The R1 tables of a simulated ctapipe HDF5 file read in chunks (about 10x the
    per-event engine); the events' bookkeeping tables are copied from the input.
    """

    @classmethod
    def unreadable(cls, source: EventSource) -> str | None:
        problem = super().unreadable(source)
        if problem is not None:
            return problem
        if not isinstance(source, HDF5EventSource) or R1_TEL_GROUP not in source.file_:
            return "it reads the R1 tables of ctapipe HDF5 files"
        # R0 -> R1 calibration, the pointing of observed data and true images are
        # per-event steps; an allowed-tels subset changes the trigger masks
        if R0_TEL_GROUP in source.file_ or not source.is_simulation:
            return "it reads simulated R1 (not R0, not observed data)"
        if has_true_images(source.file_):
            return "it does not parametrise true images"
        if set(source.subarray.tel_ids) != file_tel_ids(source.file_):
            return "it reads all telescopes of the file (no allowed_tels)"
        return None

    def run(self) -> None:
        # the DataWriter writes the run-level tables; the batch run appends the events
        self.write.write_simulated_shower_distributions(
            self.event_source.simulated_shower_distributions
        )
        # the events are not written through the DataWriter, whose "no events have been
        # written" warning would be wrong here
        self.close(quiet=True)
        source = self.event_source
        with (
            tables.open_file(source.input_url) as h5in,
            tables.open_file(self.output_path, mode="a") as h5out,
        ):
            run = BatchRun(
                self.processor,
                h5in,
                h5out,
                tel_ids=source.subarray.tel_ids,
                max_events=source.max_events,
                allowed_types=self.event_type_filter.allowed_types,
                chunk_size=self.chunk_size,
                default_parameters=self.process_images.default_image_container,
            )
            run.run(self.flags, progress=self.progress is not None, desc=self.progress)
        self.n_events, self.n_telescope_events = run.n_events, run.n_telescope_events
