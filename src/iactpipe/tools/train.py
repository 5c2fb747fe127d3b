"""iactpipe-train: train energy, gamma/hadron and direction models on simulated DL1."""

from __future__ import annotations

import json
from pathlib import Path as PathlibPath

from astropy.table import Table
from ctapipe.core import FeatureGenerator, ToolConfigurationError
from ctapipe.core.traits import List, Path, Unicode, classes_with_traits, flag
from ctapipe.io import write_table

from ..io import AtomicOutputFile, OutputExistsError, read_provenance
from ..io.chain_step import ChainStep
from ..io.config_guard import ALLOW_CONFIG_MISMATCH_FLAG, ConfigGuard
from ..io.dataformat import (
    CV_PREDICTIONS_GROUP,
    TOOL_ATTRIBUTE,
    TRAIN_REPORT_GROUP,
    VERSION_ATTRIBUTE,
)
from ..plotting.reco import plot_cross_validation
from ..reco.library import (
    NODE_FILE,
    files_pointing,
    model_node_directory,
    node_record,
    rebuild_model_index,
)
from ..reco.model_files import MODEL_FILES, dl1_config_of, save_model
from ..reco.models import (
    DispModel,
    EnergyModel,
    ParticleModel,
    RecoEventSelection,
    RecoModel,
)
from ..reco.report import cross_validation_report
from ..reco.training import ModelTrainer, training_files
from .base import IactpipeTool, writable_directory

__all__ = ["TrainTool", "main"]

REPORT_FILE = "cv_report.h5"
PLOT_FILE = "cv_report.png"


class TrainTool(IactpipeTool):
    """
    Train the energy regressor, the gamma/hadron classifier and the direction model
    (disp_norm_sign or disp_vector) on simulated DL1 files, per telescope or per
    telescope type, mono or stereo; cross-validate them and write the models with
    their provenance, a cross-validation report (HDF5 tables) and its figure into an
    output directory.
    """

    name = "iactpipe-train"
    description = __doc__
    examples = """
    Mono models per telescope from diffuse gammas and protons (SST-1M defaults):
    > iactpipe-train --gammas gamma_diffuse.dl1.h5 --protons proton.dl1.h5 -o models/

    Stereo models (h_max and impact distance from iactpipe-dl1-stereo), disp_vector,
    two-stage classifier, 200k events, 4 jobs:
    > iactpipe-train --gammas gamma.stereo.h5 --protons proton.stereo.h5 -o models_stereo/ \\
        --stereo --direction-model VectorDispModel --two-stage -n 200000 --n-jobs 4

    One node of a model library (<lib>/zd20_az000/nsb_dark/, the node taken from the
    gammas' pointing; the library index lists every node trained so far):
    > iactpipe-train -g gamma_zd20.h5 -p proton_zd20.h5 --library models/ --nsb-level dark

    Small forests and another estimator for the classifier:
    > iactpipe-train --gammas g.h5 --protons p.h5 -o m/ \\
        --EnergyModel.model_config='{"n_estimators": 30}' \\
        --ParticleModel.model_cls=ExtraTreesClassifier
    """

    gamma_files = List(
        Path(exists=True, directory_ok=False), default_value=[], help="Gamma DL1 files (diffuse)"
    ).tag(config=True)
    proton_files = List(
        Path(exists=True, directory_ok=False), default_value=[], help="Proton DL1 files"
    ).tag(config=True)
    output_dir = Path(
        default_value=None, allow_none=True, file_ok=False, help="Output directory of the models"
    ).tag(config=True)
    library_dir = Path(
        default_value=None,
        allow_none=True,
        file_ok=False,
        help=(
            "Model library: train one node into <library>/zdZZ_azAAA/nsb_<level>/ (the "
            "pointing of the gamma files) and add it to the library index (instead of -o)"
        ),
    ).tag(config=True)
    nsb_level = Unicode("dark", help="NSB level of the library node (with --library)").tag(
        config=True
    )

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "train",
        inputs=("TrainTool.gamma_files", "TrainTool.proton_files"),
        outputs=("TrainTool.output_dir", "TrainTool.library_dir"),
    )

    aliases = {
        ("g", "gammas"): "TrainTool.gamma_files",
        ("p", "protons"): "TrainTool.proton_files",
        ("o", "output"): "TrainTool.output_dir",
        "library": "TrainTool.library_dir",
        "nsb-level": "TrainTool.nsb_level",
        ("n", "n-events"): "ModelTrainer.n_events",
        "n-events-classifier": "ModelTrainer.n_events_classifier",
        "gamma-fraction": "ModelTrainer.gamma_fraction",
        "direction-model": "ModelTrainer.direction_model_type",
        "model-key": "RecoModel.model_key",
        "n-jobs": "RecoModel.n_jobs",
        "seed": "ModelTrainer.seed",
        "chunk-size": "ModelTrainer.chunk_size",
    }
    flags = {
        **flag("overwrite", "TrainTool.overwrite", "Replace the output", "Keep the output"),
        **flag("progress", "ModelTrainer.progress_bar", "Progress bars", "No progress bars"),
        **flag("stereo", "RecoModel.stereo", "Stereo models (h_max, impact)", "Mono models"),
        **flag(
            "two-stage",
            "ModelTrainer.energy_as_classifier_feature",
            "Reconstructed energy as a classifier feature",
            "Classifier on image features only",
        ),
        **ALLOW_CONFIG_MISMATCH_FLAG,
    }
    classes = [
        ConfigGuard,
        ModelTrainer,
        RecoEventSelection,
        FeatureGenerator,
        RecoModel,
        EnergyModel,
        ParticleModel,
        *classes_with_traits(DispModel),
    ]

    def setup(self):
        if (self.output_dir is None) == (self.library_dir is None):
            raise ToolConfigurationError("give either --output (-o) or --library")
        if not self.gamma_files:
            raise ToolConfigurationError("no gamma files given: use --gammas (-g)")
        if self.library_dir is not None:
            self.output = self._library_node()
        else:
            self.output = PathlibPath(self.output_dir).expanduser().absolute()
        if self.output.exists() and not self.overwrite:
            raise OutputExistsError(f"{self.output}: output exists, use --overwrite to replace it")
        if not self.output.parent.is_dir():
            raise OutputExistsError(f"{self.output.parent}: output's parent does not exist")
        writable_directory(self.output.parent, "--output")
        if self.library_dir is None:
            self.gammas = training_files(self.gamma_files)
            self._exit_stack.callback(lambda: [f.close() for f in self.gammas])
        self.protons = training_files(self.proton_files)
        self._exit_stack.callback(lambda: [f.close() for f in self.protons])
        self.config_guard = ConfigGuard(parent=self)
        self.metadata = self._provenance()
        self.trainer = ModelTrainer(self.gammas[0].subarray, parent=self)
        self.atomic = AtomicOutputFile(self.output, overwrite=self.overwrite)
        self.temporary = self.atomic.temporary_path
        self._exit_stack.callback(self.atomic.discard)

    def start(self):
        training = self.trainer.sample(self.gammas, self.protons)
        self.n_events = {
            "n_gamma_events": len(training.gammas),
            "n_classifier_events": 0 if training.classifier is None else len(training.classifier),
        }
        self.cv = self.trainer.train(training)
        self.report = cross_validation_report(
            self.trainer.models, self.cv, training.gammas, training.classifier
        )

    def finish(self):
        self.temporary.mkdir()
        for kind, model in self.trainer.models.items():
            save_model(model, self.temporary / MODEL_FILES[kind], self.metadata)
        report_path = self.temporary / REPORT_FILE
        for name, table in self.report.tables().items():
            write_table(table, report_path, f"{TRAIN_REPORT_GROUP}/{name}", overwrite=True)
        for kind, table in self.cv.items():
            write_table(table, report_path, f"{CV_PREDICTIONS_GROUP}/{kind}", overwrite=True)
        fig = plot_cross_validation(self.report.tables(), title=self.output.name)
        fig.savefig(self.temporary / PLOT_FILE, dpi=100)
        if self.library_dir is not None:
            self._write_node_record()
        self.atomic.commit()
        if self.library_dir is not None:
            index = rebuild_model_index(self.library_dir)
            self.log.info("model library index %s updated", index)
        self.log.info("wrote models to %s", self.output)
        print(f"{self.name}: models {', '.join(self.trainer.models)} -> {self.output}")
        if self.report.energy is not None:
            print(_summary(self.report.energy, ["energy_bias", "energy_resolution"]))
        if self.report.auc is not None:
            print(f"AUC (cross-validation) = {self.report.auc:.4f}")
        if self.report.direction is not None:
            print(_summary(self.report.direction, ["angular_resolution"]))

    def _library_node(self) -> PathlibPath:
        """The node directory of the gammas' pointing in the library (opens the gammas)."""
        library = PathlibPath(self.library_dir).expanduser().absolute()
        if not library.parent.is_dir():
            raise OutputExistsError(f"{library.parent}: --library's parent does not exist")
        library.mkdir(exist_ok=True)
        self.gammas = training_files(self.gamma_files)
        self._exit_stack.callback(lambda: [f.close() for f in self.gammas])
        self.pointing = files_pointing(self.gammas)
        node = model_node_directory(*self.pointing, self.nsb_level)
        (library / node.parent).mkdir(exist_ok=True)
        return library / node

    def _write_node_record(self) -> None:
        features = {k: list(m.all_features) for k, m in self.trainer.models.items()}
        record = node_record(
            self.temporary, *self.pointing, self.nsb_level, self.metadata, features
        )
        record.update(self.n_events)
        (self.temporary / NODE_FILE).write_text(json.dumps(record, indent=1))

    def _provenance(self) -> dict:
        files = []
        configs = {}
        for role, group in (("gamma", self.gammas), ("proton", self.protons)):
            for f in group:
                fingerprint, config = dl1_config_of(f.path)
                configs[str(f.path)] = (fingerprint, config)
                provenance = read_provenance(f.path)
                files.append(
                    {
                        "path": str(f.path),
                        "role": role,
                        "dl1_fingerprint": fingerprint,
                        "iactpipe_version": provenance.get(VERSION_ATTRIBUTE),
                        "tool": provenance.get(TOOL_ATTRIBUTE),
                    }
                )
        prints = {p: fp for p, (fp, _) in configs.items()}
        self.config_guard.require_same(prints, "training files", "train anyway")
        fingerprint, config = next(iter(configs.values()))
        return {"dl1_fingerprint": fingerprint, "dl1_config": config, "training_files": files}


def _summary(table: Table, columns: list[str]) -> str:
    lines = []
    for row in table:
        if row["n_events"] < 10:
            continue
        values = "  ".join(f"{c} {float(getattr(row[c], 'value', row[c])):.3f}" for c in columns)
        low, high = row["true_energy_low"], row["true_energy_high"]
        lines.append(f"  {low.value:7.2f}-{high.value:7.2f} TeV  n={row['n_events']:5d}  {values}")
    return "\n".join(lines)


def main():
    """Run iactpipe-train."""
    TrainTool().run()


if __name__ == "__main__":
    main()
