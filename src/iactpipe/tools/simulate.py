"""iactpipe-simulate: SST-1M toy simulations (MC productions and observation runs)."""

from __future__ import annotations

import gc

from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, CaselessStrEnum, Int, Path, Unicode, flag
from ctapipe.io import DataWriter, write_table

from ..io import AtomicOutputFile
from ..io.dataformat import (
    DL0_TEL_POINTING_GROUP,
    DL1_SUBARRAY_TRIGGER_TABLE,
    SIMULATION_TRUTH_GROUP,
)
from ..io.r1_writer import ChunkedDataWriter
from ..io.zfits_writer import DigiCamZFitsWriter, raw_event
from ..simulation import (
    CameraResponse,
    CameraTrigger,
    CherenkovImageModel,
    CorsikaPhotonImager,
    CorsikaSimulationSource,
    DaviesCottonOptics,
    ObservationRun,
    ShowerGenerator,
    TelescopeFileHeader,
    ToySimulationSource,
    single_telescope_event,
)
from .base import IactpipeTool, writable_directory

__all__ = ["TRUTH_GROUP", "WRITER_DEFAULTS", "SimulateTool", "main"]

#: observation runs: per-telescope table of the true shower of each event (side-car; not
#: under ``/simulation``, so ctapipe and iactpipe tools keep treating the file as data)
TRUTH_GROUP = SIMULATION_TRUTH_GROUP

#: ``DataWriter`` settings used unless configured: R1 waveforms stored as int16 in steps
#: of 0.002 (R1 units; one p.e. of pulse height is about 0.24, one ADC count about 0.0115,
#: so the rounding error is below 0.1 ADC, far below the 1.5 ADC electronic noise; range
#: -65 to +65, more than the 12-bit ADC allows), without compression (blosc zstd level 0):
#: the noise-dominated int16 waveforms compress only 1.7 times at level 1 (84 instead of
#: 140 kB per event) and zstd costs about 4 ms per event, as much as simulating it.
#: ``--DataWriter.compression_level=1`` (or any ``DataWriter`` setting) overrides.
WRITER_DEFAULTS = {
    "compression_type": "blosc:zstd",
    "compression_level": 0,
    "transform_waveform": True,
    "waveform_dtype": "int16",
    "waveform_scale": 500.0,
    "waveform_offset": 0,
}


#: suffixes of a zfits output name that are not part of the run's stem
ZFITS_SUFFIXES = (".fits.fz", ".fz", ".fits", ".h5")


class SimulateTool(IactpipeTool):
    """
    Simulate SST-1M events with the iactpipe toy simulator and write them as ctapipe
    HDF5 files (R1 waveforms; shower truth and simulation configuration for MC), or as
    DigiCam raw zfits files (R0 as the cameras write it) with the truth in an HDF5
    side-car.
    """

    name = "iactpipe-simulate"
    description = __doc__
    examples = """
    MC production of 2000 point-source gammas at 20 deg zenith, one two-telescope file:
    > iactpipe-simulate --mode mc --particle gamma --n-showers 2000 -o gamma.h5

    Diffuse protons, one file per telescope (proton_tel001.h5, proton_tel002.h5):
    > iactpipe-simulate --config data_configs/simulate_mc_proton.yaml -o proton.h5 --split

    CORSIKA photons (CTA prod4 IACT file) through the SST-1M optics and camera:
    > iactpipe-simulate --input-corsika run102.corsika.zst -o corsika_gamma.h5

    A 10-minute Crab observation run (files run_tel021.h5, run_tel022.h5):
    > iactpipe-simulate --mode observation --duration "600 s" -o run.h5 --progress

    The same run as DigiCam raw data (run_tel021.000.fits.fz, ... and the truth side-cars
    run_tel021.truth.h5, run_tel022.truth.h5):
    > iactpipe-simulate --mode observation --duration "600 s" -o run --format zfits
    """

    output_path = Path(
        default_value=None, allow_none=True, directory_ok=False, help="Output HDF5 file"
    ).tag(config=True)
    input_corsika = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help=(
            "CORSIKA IACT file (eventio): ray-trace its photons through the SST-1M optics "
            "instead of the toy shower model (MC mode; CorsikaSimulationSource)"
        ),
    ).tag(config=True)
    split_telescopes = Bool(
        False, help="One file per telescope (<stem>_telNNN<suffix>); always in observation mode"
    ).tag(config=True)
    output_format = CaselessStrEnum(
        ["hdf5", "zfits"],
        default_value="hdf5",
        help=(
            "hdf5: ctapipe HDF5 with R1 waveforms. zfits: DigiCam raw data (R0, protobuf"
            " DataModel.CameraEvent, as SST-1M cameras write it; read by SST1MEventSource),"
            " one run of <output stem>_telNNN.NNN.fits.fz chunks per telescope, the truth"
            " (trigger, pointing, shower) in an HDF5 side-car <output stem>_telNNN.truth.h5"
        ),
    ).tag(config=True)
    zfits_events_per_file = Int(
        4000, min=1, help="zfits output: events per chunk file (.000, .001, ...)"
    ).tag(config=True)
    zfits_compression = Unicode(
        "zstd1",
        help="zfits output: protozfits compression of the columns (raw, lzo, zstd1..9, zrice)",
    ).tag(config=True)

    aliases = {
        ("o", "output"): "SimulateTool.output_path",
        "input-corsika": "SimulateTool.input_corsika",
        "max-showers": "CorsikaSimulationSource.max_showers",
        "mode": "ToySimulationSource.mode",
        "seed": "ToySimulationSource.seed",
        "obs-id": "ToySimulationSource.obs_id",
        "particle": "ShowerGenerator.particle",
        ("n", "n-showers"): "ShowerGenerator.n_showers",
        "zenith": "ShowerGenerator.zenith",
        "viewcone": "ShowerGenerator.viewcone",
        "duration": "ObservationRun.duration",
        "wobble-offset": "ObservationRun.wobble_offset",
        "nsb": "CameraResponse.nsb_condition",
        "format": "SimulateTool.output_format",
    }
    flags = {
        **flag("overwrite", "SimulateTool.overwrite", "Replace outputs", "Keep outputs"),
        **flag("split", "SimulateTool.split_telescopes", "One file per telescope", "One file"),
        "progress": ({"ToySimulationSource": {"progress_bar": True}}, "Show a progress bar"),
        "r0": ({"ToySimulationSource": {"write_r0": True}}, "Also write R0 (ADC) waveforms"),
    }
    classes = [
        ToySimulationSource,
        CorsikaSimulationSource,
        CorsikaPhotonImager,
        DaviesCottonOptics,
        ShowerGenerator,
        CherenkovImageModel,
        CameraResponse,
        CameraTrigger,
        ObservationRun,
        DataWriter,
        ChunkedDataWriter,
    ]

    def flatten_flags(self):
        """
        Aliases and flags as traitlets builds them, with ``--mode``, ``--seed``, ... kept
        on `ToySimulationSource`: traitlets re-points an alias at the only subclass of its
        class in ``classes`` (here `CorsikaSimulationSource`), which would leave the toy
        source without them. Config of the base class reaches the subclass anyway.
        """
        classes = self.classes
        self.classes = [cls for cls in classes if cls is not CorsikaSimulationSource]
        try:
            return super().flatten_flags()
        finally:
            self.classes = classes

    def setup(self):
        if self.output_path is None:
            raise ToolConfigurationError("no output file given: use --output (-o)")
        writable_directory(self.output_path.absolute().parent, "--output")
        zfits = self.output_format == "zfits"
        # the raw zfits files hold R0: the source must produce it
        extra = {"write_r0": True} if zfits else {}
        if self.input_corsika is not None:
            source = CorsikaSimulationSource(input_url=self.input_corsika, parent=self, **extra)
        else:
            source = ToySimulationSource(parent=self, **extra)
        self.source = self.enter_context(source)
        self.split = self.split_telescopes or self.source.mode == "observation" or zfits
        keys = list(self.source.subarray.tel_ids) if self.split else [None]
        self.outputs, self.writers, self.zfits = {}, {}, {}
        for key in keys:
            path = self.output_path
            if zfits:
                path = self._zfits_stem(key).with_name(f"{self._zfits_stem(key).name}.truth.h5")
                self.zfits[key] = DigiCamZFitsWriter(
                    self._zfits_stem(key),
                    key,
                    events_per_file=self.zfits_events_per_file,
                    header=self._zfits_header(key),
                    compression=self.zfits_compression,
                    overwrite=self.overwrite,
                )
                self._exit_stack.callback(self.zfits[key].discard)
            elif key is not None:
                path = path.with_name(f"{path.stem}_tel{key:03d}{path.suffix}")
            self.outputs[key] = AtomicOutputFile(path, overwrite=self.overwrite)
            self._exit_stack.callback(self.outputs[key].discard)
        configured = {
            **self.config.get("DataWriter", {}),
            **self.config.get("ChunkedDataWriter", {}),
        }
        defaults = {k: v for k, v in WRITER_DEFAULTS.items() if k not in configured}
        for key, output in self.outputs.items():
            header = self.source if key is None else TelescopeFileHeader(self.source, key)
            self.writers[key] = ChunkedDataWriter(
                event_source=header,
                parent=self,
                output_path=output.temporary_path,
                overwrite=True,
                write_r1_waveforms=not zfits,
                write_r0_waveforms=bool(self.source.write_r0) and not zfits,
                write_dl1_images=False,
                write_dl1_parameters=False,
                **defaults,
            )
        self.n_written = dict.fromkeys(self.writers, 0)
        self._open_writers = set(self.writers)
        # runs before the discards registered above: a failed run closes its files first
        self._exit_stack.callback(self._close_writers)

    def _zfits_stem(self, tel_id: int):
        """``<output without .fits.fz / .h5>_telNNN``: the chunks are ``<stem>.NNN.fits.fz``."""
        name = self.output_path.name
        for suffix in ZFITS_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        return self.output_path.with_name(f"{name}_tel{tel_id:03d}")

    def _zfits_header(self, tel_id: int) -> dict:
        """Keywords of the Events table: telescope, run and, for runs, the pointing."""
        header = {
            "TELID": (int(tel_id), "telescope id"),
            "OBS_ID": (int(self.source.obs_id), "observation (run) id"),
            "ORIGIN": ("iactpipe-simulate", "simulated DigiCam raw data"),
        }
        if self.source.mode == "observation":
            pointing = self.source.run.pointing_icrs
            target = f"Simulated_{pointing.ra.deg:.5f}_{pointing.dec.deg:.5f}"
            header["TARGET"] = (target, "target_ra_dec of the pointing (deg, ICRS)")
        return header

    def _close_writers(self):
        for key in list(self._open_writers):
            self._open_writers.discard(key)
            self.writers[key].finish()

    def start(self):
        # the objects of the libraries and the set-up (about 300 000) live through the
        # run: frozen, the cyclic garbage collector stops scanning them in each full
        # collection (0.2 s CPU each, the first one during the first run of a process)
        gc.freeze()
        try:
            self._simulate()
        finally:
            gc.unfreeze()

    def _simulate(self):
        """The event loop: MC blocks into one file, or events one by one."""
        if not self.split and self.source.yields_event_blocks:
            # MC into one file: events in columns, no per-event containers
            writer = self.writers[None]
            for block in self.source.event_blocks(r1_encoder=writer.r1_waveform_encoder):
                writer.write_block(block)
                self.n_written[None] += len(block)
            return
        for event in self.source:
            if not self.split:
                self.writers[None](event)
                self.n_written[None] += 1
                continue
            for tel_id in event.trigger.tels_with_trigger:
                self.writers[tel_id](single_telescope_event(event, tel_id))
                self.n_written[tel_id] += 1
                if self.zfits:
                    baseline = self.source.pixel_baselines_adc(tel_id)
                    self.zfits[tel_id].write(raw_event(event, tel_id, baseline))

    def finish(self):
        distributions = self.source.simulated_shower_distributions
        for key, writer in self.writers.items():
            writer.write_simulated_shower_distributions(distributions)
            self._open_writers.discard(key)
            writer.finish()
            if self.source.mode == "observation":
                write_table(
                    self.source.pointing_table(key),
                    self.outputs[key].temporary_path,
                    f"{DL0_TEL_POINTING_GROUP}/tel_{key:03d}",
                    overwrite=True,
                )
                # truth side-car: outside /simulation, so the file stays observation data
                write_table(
                    self.source.truth_table(key),
                    self.outputs[key].temporary_path,
                    f"{TRUTH_GROUP}/tel_{key:03d}",
                    overwrite=True,
                )
        files = []
        for writer in self.zfits.values():
            files += writer.close()
            self.log.info(
                "wrote %d zfits file(s) of %d events", len(writer.paths), writer.n_written
            )
        for key, output in self.outputs.items():
            if self.n_written[key]:  # checked before the rename: every event is on disk
                output.expect(DL1_SUBARRAY_TRIGGER_TABLE, self.n_written[key])
            path = output.commit()
            files.append(path)
            self.log.info("wrote %s (%d events)", path, self.n_written[key])
        print(  # the tool summary
            f"{self.name}: {self.source.mode}, {self.source.n_thrown} showers thrown, "
            f"triggered per telescope {_per_telescope(self.source.n_triggered)}, "
            f"files: {', '.join(str(p) for p in files)}"
        )


def _per_telescope(counts) -> str:
    """``1: 403, 2: 407`` (not the repr of a dict of numpy integers)."""
    return ", ".join(f"{int(tel)}: {int(n)}" for tel, n in sorted(dict(counts).items()))


def main():
    """Run the tool."""
    SimulateTool().run()
