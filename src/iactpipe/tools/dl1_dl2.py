"""iactpipe-dl1-dl2: apply trained models to DL1 files (mono or stereo) and write DL2."""

from __future__ import annotations

import shutil
from pathlib import Path as PathlibPath

import tables
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, Int, List, Path, Unicode, flag
from ctapipe.io import write_table
from tqdm.auto import tqdm

from ..io import AtomicOutputFile, InputFileError, write_provenance
from ..io.chain_step import ChainStep
from ..io.config_guard import ALLOW_CONFIG_MISMATCH_FLAG, ConfigGuard
from ..io.dataformat import DL2_SUBARRAY_GROUP
from ..io.inputs import check_hdf5_file
from ..io.outputs import OutputSet
from ..reco.apply import DL2Reconstructor
from ..reco.combination import StereoCombination
from ..reco.interpolation import LibraryReconstructor, ModelChoice
from ..reco.library import ModelLibrary, is_model_library
from ..reco.model_files import MODEL_FILES, check_dl1_config, load_model
from ..reco.models import RecoEventSelection
from ..reco.tables import HDF5_BUFFERS, SUBARRAY_TRIGGER, DL1EventFile
from .base import IactpipeTool, writable_directory

__all__ = ["DL1DL2Tool", "main"]


class DL1DL2Tool(IactpipeTool):
    """
    Apply the models of iactpipe-train to DL1 files (simulated or observed, mono or
    stereo), chunk by chunk, and write DL2 files in ctapipe's data model: the input
    DL1 plus per-telescope and combined (stereo) energy, gammaness and direction.
    """

    name = "iactpipe-dl1-dl2"
    description = __doc__
    examples = """
    One file:
    > iactpipe-dl1-dl2 -i gamma_test.stereo.h5 -m models/ -o gamma_test.dl2.h5

    Many files with the models loaded once, observed data (telescopes 21, 22):
    > iactpipe-dl1-dl2 -i run_*.stereo.h5 -m models/ --output-dir dl2/ --progress

    A model library (iactpipe-train --library): per event, the models of the two nodes
    bracketing its pointing zenith interpolated in cos(zenith); --strict stops at events
    outside the nodes' range instead of flagging them:
    > iactpipe-dl1-dl2 -i run.stereo.h5 -m models/ -o run.dl2.h5 --node-choice interpolate

    Equal weights in the stereo means, no sign resolution (ctapipe-like mean):
    > iactpipe-dl1-dl2 -i f.h5 -m models/ -o f.dl2.h5 --weights none --no-resolve-sign
    """

    input_files = List(
        Path(exists=True, directory_ok=False), default_value=[], help="DL1 input files"
    ).tag(config=True)
    models_dir = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        file_ok=False,
        help=(
            "Directory written by iactpipe-train, or a model library (iactpipe-train "
            "--library): then each event is reconstructed by the node(s) of its pointing"
        ),
    ).tag(config=True)
    nsb_level = Unicode(
        None, allow_none=True, help="NSB level of the library nodes to use (all if None)"
    ).tag(config=True)
    output_path = Path(
        default_value=None, allow_none=True, directory_ok=False, help="Output file (one input)"
    ).tag(config=True)
    output_dir = Path(
        default_value=None,
        allow_none=True,
        file_ok=False,
        help="Output directory (several inputs): <input stem>.dl2.h5",
    ).tag(config=True)
    chunk_size = Int(50_000, min=1, help="Array events per chunk").tag(config=True)
    progress_bar = Bool(False, help="Show progress bars").tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "dl1-dl2",
        inputs=("DL1DL2Tool.input_files", "DL1DL2Tool.models_dir"),
        outputs=("DL1DL2Tool.output_path",),
    )

    aliases = {
        ("i", "input"): "DL1DL2Tool.input_files",
        ("m", "models"): "DL1DL2Tool.models_dir",
        ("o", "output"): "DL1DL2Tool.output_path",
        "output-dir": "DL1DL2Tool.output_dir",
        "chunk-size": "DL1DL2Tool.chunk_size",
        "weights": "StereoCombination.weights",
        "node-choice": "ModelChoice.method",
        "nsb-level": "DL1DL2Tool.nsb_level",
    }
    flags = {
        **flag("overwrite", "DL1DL2Tool.overwrite", "Replace outputs", "Keep outputs"),
        **flag("progress", "DL1DL2Tool.progress_bar", "Progress bars", "No progress bars"),
        **flag(
            "resolve-sign",
            "StereoCombination.resolve_sign",
            "Resolve the disp sign by the closest telescope positions",
            "Average the mono directions as predicted",
        ),
        **flag(
            "strict",
            "ModelChoice.strict",
            "Stop at events outside the zenith range of the library nodes",
            "Flag events outside the zenith range of the library nodes (nearest node)",
        ),
        **ALLOW_CONFIG_MISMATCH_FLAG,
    }
    classes = [
        DL2Reconstructor,
        LibraryReconstructor,
        ModelChoice,
        StereoCombination,
        RecoEventSelection,
        ConfigGuard,
    ]

    def setup(self):
        if not self.input_files:
            raise ToolConfigurationError("no input file given: use --input (-i)")
        if self.models_dir is None:
            raise ToolConfigurationError("no models given: use --models (-m)")
        if (self.output_path is None) == (self.output_dir is None):
            raise ToolConfigurationError("give either --output (one input) or --output-dir")
        if self.output_path is not None and len(self.input_files) > 1:
            raise ToolConfigurationError("several inputs: use --output-dir")
        for path in self.input_files:
            check_hdf5_file(path, "DL1")
        if self.output_dir is not None:
            writable_directory(self.output_dir, "--output-dir")
        else:
            writable_directory(PathlibPath(self.output_path).absolute().parent, "--output")
        self.config_guard = ConfigGuard(parent=self)
        self.library = None
        if is_model_library(self.models_dir):
            self.library = ModelLibrary(self.models_dir, self.nsb_level)
            self.reconstructor = LibraryReconstructor(self.library, parent=self)
            self.node_models = [n.models for n in self.library.nodes]
            self.models = self.node_models[0]
        else:
            self.models = self._load_models()
            self.node_models = [self.models]
            self.reconstructor = DL2Reconstructor(self.models, parent=self)
        self.jobs = []
        self.outputs = OutputSet(overwrite=self.overwrite)
        self._exit_stack.callback(self.outputs.discard)
        for path in self.input_files:
            path = PathlibPath(path)
            if self.output_path is not None:
                target = self.output_path
            else:
                stem = path.name.removesuffix(".h5").removesuffix(".dl1").removesuffix(".stereo")
                target = PathlibPath(self.output_dir) / f"{stem}.dl2.h5"
            self.jobs.append((path, self.outputs.add(target)))
        self.written = []

    def start(self):
        for path, output in self.jobs:
            self._process(path, output)

    def finish(self):
        self.written = self.outputs.commit()  # the outputs of all inputs, or none
        for path in self.written:
            print(f"{self.name}: {path}")

    def _load_models(self) -> dict:
        models = {}
        for kind, name in MODEL_FILES.items():
            path = PathlibPath(self.models_dir) / name
            if path.exists():
                models[kind] = load_model(path)
        if not models:
            raise InputFileError(
                f"{self.models_dir}: no model files ({', '.join(MODEL_FILES.values())})"
            )
        return models

    def _check_config(self, path: PathlibPath) -> None:
        for models in self.node_models:
            for kind, model in models.items():
                self.config_guard.require_no_differences(
                    check_dl1_config(model, path),
                    f"{path}: DL1 configuration differs from the {kind} model's training data",
                    "apply anyway",
                )

    def _fingerprinted(self) -> dict:
        fingerprinted = {"MODELS": {k: m.metadata for k, m in self.models.items()}}
        if self.library is not None:
            fingerprinted["MODEL_LIBRARY"] = self.library.fingerprint_config()
        return fingerprinted

    def _process(self, path: PathlibPath, output: AtomicOutputFile) -> None:
        with DL1EventFile(path) as f:
            self._check_config(path)
            tel_ids = self.reconstructor.check(f)
            n = f.h5.get_node(SUBARRAY_TRIGGER).nrows
            for kind in ("energy", "classification", "geometry"):
                node = f"{DL2_SUBARRAY_GROUP}/{kind}"
                prefixes = [m.prefix for m in self.models.values()]
                if node in f.h5 and any(p in f.h5.get_node(node) for p in prefixes):
                    raise InputFileError(f"{path}: already holds DL2 with prefix {prefixes}")
            shutil.copyfile(path, output.temporary_path)
            with tables.open_file(output.temporary_path, mode="a", **HDF5_BUFFERS) as out:
                starts = range(0, n, self.chunk_size)
                for start in tqdm(starts, desc=path.name, disable=not self.progress_bar):
                    result = self.reconstructor(f, tel_ids, start, start + self.chunk_size)
                    for node, table in result.items():
                        write_table(table, out, node, append=True)
        write_provenance(
            output.temporary_path,
            tool_name=self.name,
            tool_config=self.get_current_config(),
            fingerprinted=self._fingerprinted(),
        )
        self.log.info("%s: done (written with the other outputs at the end)", output.path)


def main():
    """Run iactpipe-dl1-dl2."""
    DL1DL2Tool().run()


if __name__ == "__main__":
    main()
