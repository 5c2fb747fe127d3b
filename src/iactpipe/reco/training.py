"""
Training sets and the training procedure of the energy, particle and direction models.

`sample_events` streams DL1 files chunk by chunk, keeps only the needed columns and the
events passing the selection, and keeps a uniformly random subset of at most
``n_events`` rows (each row gets a random key; the rows with the smallest keys are kept),
so the memory is bounded by ``n_events + chunk_size`` rows whatever the file sizes.

`ModelTrainer` draws the training sets (gammas for energy and direction, gammas and
protons in a given ratio for the classifier), runs the k-fold cross-validation whose
out-of-fold predictions feed the report (and, in two-stage training, the classifier's
reconstructed-energy feature), and fits the final models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack
from ctapipe.core import Component, FeatureGenerator, QualityQuery
from ctapipe.core.traits import Bool, ComponentName, Float, Int
from tqdm.auto import tqdm

from ..io import InputFileError
from .models import DispModel, EnergyModel, ParticleModel, RecoEventSelection, finite_rows
from .tables import DL1EventFile, column_names_in

__all__ = ["RECO_ENERGY_FEATURE", "ModelTrainer", "TrainingSet", "sample_events", "training_files"]

#: classifier feature holding the reconstructed energy in two-stage training (TeV)
RECO_ENERGY_FEATURE = "reco_energy"


def _generator_inputs(generator: FeatureGenerator) -> tuple[set[str], set[str]]:
    """(columns the generator reads, columns it creates)."""
    created = {name for name, _ in generator.features}
    used = column_names_in(expr for _, expr in generator.features) - created
    return used, created


def sample_events(
    files: Sequence[DL1EventFile],
    columns: Sequence[str],
    selection: QualityQuery,
    generator: FeatureGenerator,
    n_events: int | None,
    rng: np.random.Generator,
    chunk_size: int = 100_000,
    tel_ids: Sequence[int] | None = None,
    progress: bool = False,
    description: str = "events",
    finite: Sequence[str] = (),
) -> Table:
    """
    A uniformly random sample of at most ``n_events`` selected telescope events.

    Parameters
    ----------
    files : sequence of DL1EventFile
        Open DL1 files.
    columns : sequence of str
        Columns to keep (features and targets; generated features included).
    selection : QualityQuery
        Event selection, evaluated after the feature generator.
    generator : FeatureGenerator
        Derived features (ctapipe's expressions).
    n_events : int or None
        Size of the sample (None: every selected event).
    rng : numpy.random.Generator
        Source of the random keys.
    chunk_size : int
        Rows read at a time.
    tel_ids : sequence of int, optional
        Telescopes to use (default: every telescope of each file).
    progress : bool
        Show a progress bar over chunks.
    description : str
        Label of the progress bar.
    finite : sequence of str
        Columns that must be finite (features and targets): other rows are dropped
        before the sampling, so that ``n_events`` counts usable events (as ctapipe's
        ``read_training_events``).

    Returns
    -------
    astropy.table.Table
        With ``obs_id``, ``event_id``, ``tel_id`` and ``file_index`` columns added.
    """
    used, created = _generator_inputs(generator)
    selection_names = column_names_in(expr for _, expr in selection.quality_criteria)
    kept: Table | None = None
    parts: list[Table] = []
    n_parts = 0
    tasks = []
    for index, f in enumerate(files):
        for tel_id in f.tel_ids if tel_ids is None else [t for t in tel_ids if t in f.tel_ids]:
            for start in range(0, f.n_events(tel_id), chunk_size):
                tasks.append((index, f, tel_id, start))
    for index, f, tel_id, start in tqdm(tasks, desc=description, disable=not progress):
        available = f.available_columns(tel_id)
        wanted = (set(columns) | used | selection_names) - created
        missing = sorted(c for c in set(columns) - created if c not in available)
        if missing:
            raise InputFileError(f"{f.path}: telescope {tel_id} lacks {', '.join(missing)}")
        chunk = f.read(tel_id, sorted(wanted & available), start, start + chunk_size)
        chunk = generator(chunk, subarray=f.subarray)
        chunk = chunk[selection.get_table_mask(chunk)]
        chunk = chunk[finite_rows(chunk, [c for c in finite if c in chunk.colnames])]
        chunk = chunk[
            [
                "obs_id",
                "event_id",
                "tel_id",
                *[
                    c
                    for c in columns
                    if c in chunk.colnames and c not in ("obs_id", "event_id", "tel_id")
                ],
            ]
        ]
        chunk["file_index"] = np.full(len(chunk), index, np.int16)
        chunk["_key"] = rng.random(len(chunk))
        parts.append(chunk)
        n_parts += len(chunk)
        if n_events is not None and n_parts > 2 * n_events:
            kept = _smallest(vstack([t for t in [kept, *parts] if t is not None]), n_events)
            parts, n_parts = [], 0
    everything = [t for t in [kept, *parts] if t is not None and len(t)]
    if not everything:
        return Table()
    table = vstack(everything) if len(everything) > 1 else everything[0]
    if n_events is not None:
        table = _smallest(table, n_events)
    table.remove_column("_key")
    return table


def _smallest(table: Table, n: int) -> Table:
    if len(table) <= n:
        return table
    keep = np.argpartition(np.asarray(table["_key"]), n)[:n]
    return table[np.sort(keep)]


class TrainingSet:
    """The training tables (astropy tables) of one training run."""

    def __init__(self, gammas: Table, classifier: Table | None):
        self.gammas = gammas
        self.classifier = classifier


class ModelTrainer(Component):
    """
    Sample the training events, cross-validate and fit the energy, particle and
    direction models.

    Parameters
    ----------
    subarray : ctapipe.instrument.SubarrayDescription
        The simulated telescopes.
    """

    n_events = Int(
        None, allow_none=True, min=1, help="Gamma events (all telescopes) for energy and direction"
    ).tag(config=True)
    n_events_classifier = Int(
        None, allow_none=True, min=1, help="Events (gammas + protons) for the classifier"
    ).tag(config=True)
    gamma_fraction = Float(
        None,
        allow_none=True,
        min=0.01,
        max=0.99,
        help=(
            "Fraction of gammas in the classifier's training set (the larger class is "
            "subsampled); None: every selected event of both classes, which gave a "
            "higher AUC than a balanced subset (docs/reco.rst)"
        ),
    ).tag(config=True)
    cv_folds = Int(5, min=2, help="Folds of the cross-validation").tag(config=True)
    energy_as_classifier_feature = Bool(
        False,
        help=(
            "Two-stage training: the reconstructed energy (out-of-fold for the training "
            f"gammas) is a classifier feature named {RECO_ENERGY_FEATURE!r}"
        ),
    ).tag(config=True)
    train_energy = Bool(True, help="Train the energy regressor").tag(config=True)
    train_classifier = Bool(True, help="Train the gamma/hadron classifier").tag(config=True)
    train_direction = Bool(True, help="Train the direction (disp) model").tag(config=True)
    direction_model_type = ComponentName(
        DispModel, default_value="NormSignDispModel", help="Direction model"
    ).tag(config=True)
    chunk_size = Int(100_000, min=1, help="Rows read at a time").tag(config=True)
    seed = Int(0, help="Seed of the event sampling").tag(config=True)
    progress_bar = Bool(False, help="Show progress bars").tag(config=True)

    def __init__(self, subarray, **kwargs):
        super().__init__(**kwargs)
        self.subarray = subarray
        self.rng = np.random.default_rng(self.seed)
        self.selection = RecoEventSelection(parent=self)
        self.generator = FeatureGenerator(parent=self)
        self.models = {}
        if self.train_energy:
            self.models["energy"] = EnergyModel(subarray, parent=self)
        if self.train_classifier:
            classifier = ParticleModel(subarray, parent=self)
            if self.energy_as_classifier_feature:
                if not self.train_energy:
                    raise ValueError("energy_as_classifier_feature needs the energy model")
                if RECO_ENERGY_FEATURE not in classifier.features:
                    classifier.features = [*classifier.features, RECO_ENERGY_FEATURE]
                    classifier.reconstructor.features = classifier.all_features
            self.models["classification"] = classifier
        if self.train_direction:
            self.models["disp"] = DispModel.from_name(
                self.direction_model_type, subarray=subarray, parent=self
            )
        if not self.models:
            raise ValueError("nothing to train: enable at least one model")

    def _columns(self, models) -> list[str]:
        columns = {"true_energy", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi"}
        for model in models:
            columns |= set(model.all_features) | set(model.targets)
        if "disp" in self.models:
            columns |= {"true_source_fov_lon", "true_source_fov_lat", "hillas_intensity"}
        return sorted(columns - {RECO_ENERGY_FEATURE})

    def sample(self, gamma_files: Sequence[DL1EventFile], proton_files: Sequence[DL1EventFile]):
        """Read the training sets (gammas; gammas + protons for the classifier)."""
        columns = self._columns(self.models.values())
        finite = self._finite_columns()
        n_gamma = self.n_events
        classifier = self.models.get("classification")
        n_clf_gamma = n_clf_proton = None
        if classifier is not None and self.n_events_classifier is not None:
            if self.gamma_fraction is None:  # pooled, subsampled in _balance
                n_clf_gamma = n_clf_proton = self.n_events_classifier
            else:
                n_clf_gamma = round(self.n_events_classifier * self.gamma_fraction)
                n_clf_proton = self.n_events_classifier - n_clf_gamma
        if n_gamma is not None and n_clf_gamma is not None:
            n_gamma = max(n_gamma, n_clf_gamma)
        gammas = sample_events(
            gamma_files,
            columns,
            self.selection,
            self.generator,
            n_gamma,
            self.rng,
            self.chunk_size,
            progress=self.progress_bar,
            description="gammas",
            finite=finite,
        )
        if len(gammas) == 0:
            names = ", ".join(str(f.path) for f in gamma_files)
            raise InputFileError(f"{names}: no gamma event passes the selection")
        table = None
        if classifier is not None:
            if not proton_files:
                raise InputFileError("the classifier needs proton files")
            protons = sample_events(
                proton_files,
                columns,
                self.selection,
                self.generator,
                n_clf_proton,
                self.rng,
                self.chunk_size,
                progress=self.progress_bar,
                description="protons",
                finite=finite,
            )
            if len(protons) == 0:
                names = ", ".join(str(f.path) for f in proton_files)
                raise InputFileError(f"{names}: no proton event passes the selection")
            table = self._balance(gammas, protons, n_clf_gamma)
        return TrainingSet(gammas, table)

    def _finite_columns(self) -> list[str]:
        """Columns every model needs (rows where one is not finite are unusable for all)."""
        needed = None
        for model in self.models.values():
            columns = {*model.all_features, *model.targets} - {RECO_ENERGY_FEATURE}
            needed = columns if needed is None else needed & columns
        return sorted(needed or ())

    def _balance(self, gammas: Table, protons: Table, n_gamma: int | None) -> Table:
        """
        Gammas and protons in the ratio gamma_fraction, as many as available; with
        ``gamma_fraction`` None, all of them (at most ``n_events_classifier`` in total,
        drawn uniformly from both).
        """
        f = self.gamma_fraction
        n_g = len(gammas) if n_gamma is None else min(n_gamma, len(gammas))
        n_p = len(protons)
        if f is None:
            n_total = self.n_events_classifier
            if n_total is not None and n_g + n_p > n_total:
                chosen = self.rng.choice(n_g + n_p, n_total, replace=False)
                n_g_new = int((chosen < n_g).sum())
                n_g, n_p = n_g_new, n_total - n_g_new
        else:
            n_g = min(n_g, int(n_p * f / (1 - f)))
            n_p = min(n_p, int(n_g * (1 - f) / f))
        g = gammas[np.sort(self.rng.choice(len(gammas), n_g, replace=False))]
        p = protons[np.sort(self.rng.choice(len(protons), n_p, replace=False))]
        g["_gamma_row"] = _rows_of(gammas, g)
        p["_gamma_row"] = -1
        self.log.info("classifier training set: %d gammas, %d protons", n_g, n_p)
        return vstack([g, p])

    def train(self, training: TrainingSet) -> dict[str, Table]:
        """
        Cross-validate (out-of-fold predictions, returned per model kind) and fit all
        models on the full training sets.
        """
        cv = {}
        gammas = training.gammas
        for kind in ("energy", "disp"):
            if kind in self.models:
                model = self.models[kind]
                self.log.info("cross-validating %s on %d events", kind, len(gammas))
                cv[kind] = model.cross_validate(gammas, self.cv_folds)
                model.fit(gammas)
        if "classification" in self.models:
            table = training.classifier
            if self.energy_as_classifier_feature:
                energy = self.models["energy"]
                reco = energy.predict(table)[f"{energy.prefix}_tel_energy"]
                oof = np.asarray(cv["energy"][f"{energy.prefix}_tel_energy"])
                is_train_gamma = table["_gamma_row"] >= 0
                values = np.asarray(reco, dtype=float)
                values[is_train_gamma] = oof[table["_gamma_row"][is_train_gamma]]
                table[RECO_ENERGY_FEATURE] = values
            model = self.models["classification"]
            self.log.info("cross-validating the classifier on %d events", len(table))
            cv["classification"] = model.cross_validate(table, self.cv_folds)
            model.fit(table)
        return cv


def _rows_of(full: Table, subset: Table) -> np.ndarray:
    """Row of each ``subset`` event in ``full`` (keys: file, obs, event, telescope)."""

    def keys(t):
        return np.rec.fromarrays(
            [np.asarray(t[c]) for c in ("file_index", "obs_id", "event_id", "tel_id")]
        )

    full_keys, sub_keys = keys(full), keys(subset)
    order = np.argsort(full_keys)
    pos = np.searchsorted(full_keys[order], sub_keys)
    return order[pos]


def training_files(paths: Sequence[Path | str]) -> list[DL1EventFile]:
    """Open DL1 files of simulations (an `InputFileError` for files without truth)."""
    files = [DL1EventFile(p) for p in paths]
    for f in files:
        if not f.is_simulation:
            for g in files:
                g.close()
            raise InputFileError(f"{f.path}: not a simulation (no shower truth): cannot train")
    return files
