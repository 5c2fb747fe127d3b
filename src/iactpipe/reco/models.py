"""
Models per telescope (id) or per telescope type around ctapipe's sklearn reconstructors.

ctapipe's `~ctapipe.reco.EnergyRegressor`, `~ctapipe.reco.ParticleClassifier` and
`~ctapipe.reco.DispReconstructor` keep one scikit-learn model per *key* and are trained
per telescope *type* by ctapipe's tools. The two SST-1M telescopes share one type, so
the thin layer here chooses the key (``tel_001``, ``tel_002`` or the type name), keeps
the feature list, the event selection and the configuration of the estimator, and calls
the reconstructors' own ``fit`` and predictions (their private ``_predict``, isolated in
`reconstructor_predict` and two more functions: ctapipe has no public equivalent).
``disp_vector`` (the camera-frame vector from the image centroid to the source, one
multi-output regressor) is not in ctapipe and is a small
`~ctapipe.reco.sklearn.SKLearnRegressionReconstructor` subclass.

A model predicts, per telescope event, columns with the ctapipe names of DL2
(``<prefix>_tel_energy``, ``<prefix>_tel_prediction``, ``<prefix>_tel_parameter`` ...);
the direction models also give the displacement vector (``<prefix>_tel_disp_dx``,
``<prefix>_tel_disp_dy``) that the stereo combination flips to resolve the sign.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.core import Component, QualityQuery
from ctapipe.core.traits import Bool, CaselessStrEnum, Dict, Int, List, Unicode
from ctapipe.instrument import SubarrayDescription
from ctapipe.reco import DispReconstructor, EnergyRegressor, ParticleClassifier
from ctapipe.reco.sklearn import (
    SUPPORTED_CLASSIFIERS,
    SUPPORTED_REGRESSORS,
    SKLearnRegressionReconstructor,
)
from sklearn.model_selection import KFold, StratifiedKFold
from traitlets import TraitError

from ..instrument import to_mc_tel_id

__all__ = [
    "DEFAULT_FEATURES",
    "DispModel",
    "DispVectorRegressor",
    "EnergyModel",
    "NormSignDispModel",
    "ParticleModel",
    "RecoEventSelection",
    "RecoModel",
    "STEREO_FEATURES",
    "VectorDispModel",
    "finite_rows",
    "fitted_estimators",
    "reconstructor_predict",
    "reconstructor_score",
]

#: image parameters used by default (SST-1M practice: shape, timing, leakage, size)
DEFAULT_FEATURES = [
    "hillas_intensity",
    "hillas_width",
    "hillas_length",
    "hillas_skewness",
    "hillas_kurtosis",
    "hillas_r",
    "timing_slope",
    "leakage_intensity_width_2",
    "morphology_n_pixels",
    "concentration_cog",
]
#: stereo features from iactpipe-dl1-stereo's geometry, added in stereo mode
STEREO_FEATURES = ["HillasReconstructor_h_max", "HillasReconstructor_tel_impact_distance"]


# ---------------------------------------------------------------- ctapipe private API
# The only place iactpipe reaches into ctapipe's sklearn reconstructors (ctapipe 0.32), for
# what they have no public API for:
# - the prediction of one key on rows RecoModel has already selected (finite features, its
#   own RecoEventSelection): the public ``predict_table`` re-runs the feature generator and
#   ctapipe's MLQualityQuery, returns the combined containers' tables, and for
#   DispReconstructor needs the pointing columns to compute alt/az that we do not use;
# - the fitted estimators of a key: to drop the temporary models of the cross-validation
#   folds, to read feature importances and to reset ``n_jobs`` of loaded estimators (the
#   public ``n_jobs`` trait updates them only when its value changes).
# tests/reco/test_ctapipe_private_api.py holds these to ctapipe's public results, so that
# an upgrade that changes them fails there by name.


def reconstructor_predict(reconstructor, key: str, table: Table) -> tuple:
    """``reconstructor._predict(key, table)``: (prediction[, sign score], valid)."""
    return reconstructor._predict(key, table)


def reconstructor_score(reconstructor, key: str, table: Table) -> tuple:
    """``ParticleClassifier._predict_score(key, table)``: (score of the positive class, valid)."""
    return reconstructor._predict_score(key, table)


def fitted_estimators(reconstructor) -> dict:
    """The fitted scikit-learn estimators by key (a (norm, sign) tuple for disp)."""
    return reconstructor._models


class RecoEventSelection(QualityQuery):
    """Telescope events used to train models and to which models are applied."""

    quality_criteria = List(
        default_value=[
            ("intensity", "hillas_intensity > 50"),
            ("width", "hillas_width > 0"),
            ("n_pixels", "morphology_n_pixels > 3"),
            ("leakage", "leakage_intensity_width_2 < 0.2"),
        ],
        help=QualityQuery.quality_criteria.help,
    ).tag(config=True)


def finite_rows(table: Table, columns: list[str]) -> np.ndarray:
    """Rows where every one of ``columns`` is finite."""
    ok = np.ones(len(table), dtype=bool)
    for name in columns:
        ok &= np.isfinite(np.asarray(table[name], dtype=float))
    return ok


class RecoModel(Component):
    """
    One scikit-learn model per telescope or telescope type, wrapping a ctapipe
    reconstructor; the family base of the energy, particle and direction models.

    Parameters
    ----------
    subarray : ctapipe.instrument.SubarrayDescription
        The telescopes the model is trained for (simulation ids).
    """

    #: what the model predicts, the DL2 group (``energy``, ``classification``, ``disp``)
    kind: ClassVar[str] = ""
    #: default estimator class name
    default_cls: ClassVar[str] = ""
    #: default estimator arguments
    default_config: ClassVar[dict] = {}

    features = List(
        Unicode(), default_value=DEFAULT_FEATURES, help="DL1 columns used as features"
    ).tag(config=True)
    stereo = Bool(
        False, help="Stereo model: also use stereo_features (needs stereo DL1 input)"
    ).tag(config=True)
    stereo_features = List(
        Unicode(),
        default_value=STEREO_FEATURES,
        help="Features added in stereo mode (from the stereo geometry of iactpipe-dl1-stereo)",
    ).tag(config=True)
    model_key = CaselessStrEnum(
        ["telescope", "type"],
        default_value="type",
        help=(
            "One model per telescope type (default, as ctapipe: both SST-1M telescopes pool "
            "their events, which gave better models than half the events each, see "
            "docs/reco.rst) or one per telescope id (simulation ids; data ids map onto them)"
        ),
    ).tag(config=True)
    model_cls = Unicode(
        None, allow_none=True, help="scikit-learn estimator by name (default per model)"
    ).tag(config=True)
    model_config = Dict(
        default_value=None, allow_none=True, help="Estimator arguments (default per model)"
    ).tag(config=True)
    prefix = Unicode(None, allow_none=True, help="Prefix of the DL2 columns and tables").tag(
        config=True
    )
    n_jobs = Int(None, allow_none=True, help="Parallel jobs of the estimator").tag(config=True)
    seed = Int(0, help="Random seed of the estimator and of the cross-validation folds").tag(
        config=True
    )

    def __init__(self, subarray: SubarrayDescription, **kwargs: Any):
        super().__init__(**kwargs)
        self.subarray = subarray
        if self.prefix is None:
            self.prefix = self.default_prefix
        self.metadata: dict[str, Any] = {}
        self.reconstructor = self._make_reconstructor()
        self.keys: list[str] = []

    # ------------------------------------------------------------ contract

    @property
    def default_prefix(self) -> str:
        """Prefix of the DL2 columns when none is configured (the class name, as ctapipe)."""
        return type(self).__name__

    @property
    @abstractmethod
    def targets(self) -> list[str]:
        """Columns of the training table that hold the truth."""

    @abstractmethod
    def _make_reconstructor(self):
        """The ctapipe reconstructor, configured from this component's traits."""

    @abstractmethod
    def _predict_key(self, key: str, table: Table) -> dict[str, np.ndarray]:
        """Predictions for rows of one key, all features finite."""

    @abstractmethod
    def _empty(self, n: int) -> dict[str, np.ndarray]:
        """Prediction columns of ``n`` rows filled with the invalid value."""

    # ------------------------------------------------------------ shared

    @property
    def all_features(self) -> list[str]:
        """The features actually used (with the stereo features in stereo mode)."""
        extra = [f for f in self.stereo_features if f not in self.features] if self.stereo else []
        return [*self.features, *extra]

    def _estimator(self, default_cls: str, default_config: dict, kind: str) -> tuple[str, dict]:
        cls = self.model_cls or default_cls
        supported = SUPPORTED_REGRESSORS if kind == "regressor" else SUPPORTED_CLASSIFIERS
        if cls not in supported:
            raise TraitError(
                f"{type(self).__name__}.model_cls = {cls!r}: not a scikit-learn {kind} "
                f"(e.g. {', '.join(sorted(supported)[:3])}, ...)"
            )
        config = dict(default_config if self.model_config is None else self.model_config)
        if "random_state" in supported[cls]().get_params():
            config.setdefault("random_state", self.seed)
        return cls, config

    def _sklearn_reconstructor(self, reconstructor_cls, kind: str, **kwargs):
        """A ctapipe reconstructor of one ``kind`` of estimator, from this model's traits."""
        cls, config = self._estimator(self.default_cls, self.default_config, kind)
        return reconstructor_cls(
            self.subarray,
            features=self.all_features,
            model_cls=cls,
            model_config=config,
            prefix=self.prefix,
            n_jobs=self.n_jobs,
            parent=self,
            **kwargs,
        )

    def key(self, tel_id: int) -> str:
        """The model key of a telescope: ``tel_001`` (simulation id) or its type name."""
        if self.model_key == "type":
            return str(self.subarray.tel[to_mc_tel_id(tel_id)])
        return f"tel_{to_mc_tel_id(tel_id):03d}"

    def _groups(self, table: Table) -> dict[str, np.ndarray]:
        keys = np.array([self.key(t) for t in np.unique(table["tel_id"])])
        ids = np.unique(table["tel_id"])
        groups = {}
        for key in np.unique(keys):
            groups[str(key)] = np.isin(table["tel_id"], ids[keys == key])
        return groups

    def fit(self, table: Table) -> None:
        """Train one model per key on ``table`` (rows with non-finite features dropped)."""
        for key, rows in self._groups(table).items():
            self._fit_key(key, table[rows])
            if key not in self.keys:
                self.keys.append(key)

    def _fit_key(self, key: str, table: Table) -> None:
        columns = [*self.all_features, *self.targets]
        ok = finite_rows(table, columns)
        if ok.sum() < 2:
            raise ValueError(f"{type(self).__name__}: fewer than 2 training events for {key}")
        self.log.info("%s: training %s on %d events", type(self).__name__, key, ok.sum())
        self.reconstructor.fit(key, table[ok][columns])

    def predict(self, table: Table) -> Table:
        """
        Mono predictions for every row of ``table`` (invalid where a feature is not finite).

        Raises
        ------
        KeyError
            If a telescope of ``table`` has no model.
        """
        out = self._empty(len(table))
        if len(table) == 0:
            return Table(out)
        for key, rows in self._groups(table).items():
            if key not in self.keys:
                raise KeyError(
                    f"no {self.kind} model for {key} (models for {', '.join(self.keys)})"
                )
            ok = rows & finite_rows(table, self.all_features)
            if ok.any():
                for name, values in self._predict_key(key, table[ok]).items():
                    out[name][ok] = values
        return Table(out)

    def cross_validate(self, table: Table, n_folds: int) -> Table:
        """
        Out-of-fold predictions for every row of ``table`` (k-fold per key).

        The models of the folds are temporary; `fit` is still needed afterwards.
        """
        out = self._empty(len(table))
        out["cv_fold"] = np.full(len(table), -1, np.int8)
        for key, rows in self._groups(table).items():
            index = np.flatnonzero(rows & finite_rows(table, [*self.all_features, *self.targets]))
            target = np.asarray(table[self.targets[0]])[index]
            splitter = self._splitter(n_folds)
            for fold, (train, test) in enumerate(splitter.split(index, self._stratify(target))):
                cv_key = f"{key}_cv{fold}"
                self.reconstructor.fit(
                    cv_key, table[index[train]][[*self.all_features, *self.targets]]
                )
                for name, values in self._predict_key(cv_key, table[index[test]]).items():
                    out[name][index[test]] = values
                out["cv_fold"][index[test]] = fold
                self._forget(cv_key)
        return Table(out)

    def _splitter(self, n_folds: int):
        return KFold(n_splits=n_folds, shuffle=True, random_state=self.seed)

    def _stratify(self, target: np.ndarray) -> np.ndarray:
        return target

    def _forget(self, key: str) -> None:
        fitted_estimators(self.reconstructor).pop(key, None)

    def set_n_jobs(self, n_jobs: int | None) -> None:
        """Set the estimators' parallel jobs (e.g. before saving or applying)."""
        for model in fitted_estimators(self.reconstructor).values():
            for estimator in model if isinstance(model, tuple) else (model,):
                if "n_jobs" in estimator.get_params():
                    estimator.n_jobs = n_jobs


class EnergyModel(RecoModel):
    """Energy regressor (ctapipe `~ctapipe.reco.EnergyRegressor`, log target)."""

    kind = "energy"
    default_cls = "RandomForestRegressor"
    default_config = {"n_estimators": 150, "min_samples_leaf": 5, "max_features": 1.0}

    @property
    def targets(self) -> list[str]:
        return ["true_energy"]

    def _make_reconstructor(self):
        return self._sklearn_reconstructor(EnergyRegressor, "regressor", log_target=True)

    def _predict_key(self, key, table):
        energy, valid = reconstructor_predict(self.reconstructor, key, table)
        return {
            f"{self.prefix}_tel_energy": u.Quantity(energy).to_value(u.TeV),
            f"{self.prefix}_tel_is_valid": valid,
        }

    def _empty(self, n):
        return {
            f"{self.prefix}_tel_energy": np.full(n, np.nan),
            f"{self.prefix}_tel_is_valid": np.zeros(n, bool),
        }

    def predict(self, table: Table) -> Table:
        out = super().predict(table)
        out[f"{self.prefix}_tel_energy"].unit = u.TeV
        return out


class ParticleModel(RecoModel):
    """Gamma/hadron classifier (ctapipe `~ctapipe.reco.ParticleClassifier`; gammaness)."""

    kind = "classification"
    default_cls = "RandomForestClassifier"
    default_config = {"n_estimators": 100, "min_samples_leaf": 5, "max_features": "sqrt"}

    @property
    def targets(self) -> list[str]:
        return ["true_shower_primary_id"]

    def _make_reconstructor(self):
        return self._sklearn_reconstructor(ParticleClassifier, "classifier")

    def _splitter(self, n_folds):
        return StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.seed)

    def _predict_key(self, key, table):
        score, valid = reconstructor_score(self.reconstructor, key, table)
        return {f"{self.prefix}_tel_prediction": score, f"{self.prefix}_tel_is_valid": valid}

    def _empty(self, n):
        return {
            f"{self.prefix}_tel_prediction": np.full(n, np.nan),
            f"{self.prefix}_tel_is_valid": np.zeros(n, bool),
        }


class DispModel(RecoModel):
    """
    Direction from the image: a displacement from the image centroid along (or near)
    the main axis. Predicts ``<prefix>_tel_disp_dx/dy`` (deg, telescope frame), the
    signed ``<prefix>_tel_parameter`` (projection on the axis, ctapipe's disp) and a
    ``<prefix>_tel_sign_score`` (0 = guess, 1 = certain).
    """

    kind = "disp"

    @property
    def default_prefix(self) -> str:
        return "disp"

    def _empty(self, n):
        p = self.prefix
        return {
            f"{p}_tel_parameter": np.full(n, np.nan),
            f"{p}_tel_sign_score": np.full(n, np.nan),
            f"{p}_tel_disp_dx": np.full(n, np.nan),
            f"{p}_tel_disp_dy": np.full(n, np.nan),
            f"{p}_tel_is_valid": np.zeros(n, bool),
        }

    def _columns(self, table, parameter, dx, dy, score, valid):
        p = self.prefix
        return {
            f"{p}_tel_parameter": parameter,
            f"{p}_tel_sign_score": score,
            f"{p}_tel_disp_dx": dx,
            f"{p}_tel_disp_dy": dy,
            f"{p}_tel_is_valid": valid,
        }

    def predict(self, table: Table) -> Table:
        out = super().predict(table)
        for name in ("parameter", "disp_dx", "disp_dy"):
            out[f"{self.prefix}_tel_{name}"].unit = u.deg
        return out


class NormSignDispModel(DispModel):
    """
    ``disp_norm_sign`` (SST-1M default): a regressor for |disp| and a classifier for its
    sign, ctapipe's `~ctapipe.reco.DispReconstructor`.
    """

    default_cls = "RandomForestRegressor"
    default_config = {"n_estimators": 150, "min_samples_leaf": 5, "max_features": 1.0}
    sign_cls = Unicode("RandomForestClassifier", help="scikit-learn classifier of the sign").tag(
        config=True
    )
    sign_config = Dict(
        default_value={"n_estimators": 100, "min_samples_leaf": 5, "max_features": "sqrt"},
        help="Arguments of the sign classifier",
    ).tag(config=True)

    @property
    def targets(self) -> list[str]:
        return ["true_disp"]

    def _make_reconstructor(self):
        norm_cls, norm_config = self._estimator(self.default_cls, self.default_config, "regressor")
        if self.sign_cls not in SUPPORTED_CLASSIFIERS:
            raise ValueError(f"{type(self).__name__}: {self.sign_cls!r} is not a classifier")
        sign_config = dict(self.sign_config)
        if "random_state" in SUPPORTED_CLASSIFIERS[self.sign_cls]().get_params():
            sign_config.setdefault("random_state", self.seed)
        return DispReconstructor(
            self.subarray,
            features=self.all_features,
            norm_cls=norm_cls,
            norm_config=norm_config,
            sign_cls=self.sign_cls,
            sign_config=sign_config,
            prefix=self.prefix,
            n_jobs=self.n_jobs,
            parent=self,
        )

    def _splitter(self, n_folds):
        return StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.seed)

    def _stratify(self, target):
        return np.sign(target)

    def _predict_key(self, key, table):
        disp, score, valid = reconstructor_predict(self.reconstructor, key, table)
        disp = u.Quantity(disp, u.deg).to_value(u.deg)
        psi = table["hillas_psi"].quantity.to_value(u.rad)
        return self._columns(table, disp, disp * np.cos(psi), disp * np.sin(psi), score, valid)


class DispVectorRegressor(SKLearnRegressionReconstructor):
    """
    Multi-output regressor of the camera-frame vector (true_disp_dx, true_disp_dy) from the
    image centroid to the source (lstchain's ``disp_vector``), on ctapipe's sklearn base.
    """

    target = "true_disp_dx"
    targets = ("true_disp_dx", "true_disp_dy")

    def _table_to_y(self, table, mask=None):
        rows = slice(None) if mask is None else mask
        return np.column_stack(
            [u.Quantity(table[name][rows]).to_value(u.deg) for name in self.targets]
        )

    def __call__(self, event):  # event-wise application is not supported
        raise NotImplementedError("DispVectorRegressor predicts tables only")

    def predict_table(self, key, table):
        raise NotImplementedError("use VectorDispModel.predict")


class VectorDispModel(DispModel):
    """
    ``disp_vector``: one multi-output regressor of the displacement (dx, dy) from the image
    centroid to the source; the sign comes with the vector. Add ``hillas_psi`` (or the
    centroid position) to the features so that the vector can follow the image axis.
    """

    default_cls = "RandomForestRegressor"
    default_config = {"n_estimators": 150, "min_samples_leaf": 5, "max_features": 1.0}
    features = List(
        Unicode(),
        default_value=[*DEFAULT_FEATURES, "hillas_psi", "hillas_fov_lon", "hillas_fov_lat"],
        help="DL1 columns used as features",
    ).tag(config=True)

    @property
    def targets(self) -> list[str]:
        return ["true_disp_dx", "true_disp_dy"]

    def _make_reconstructor(self):
        return self._sklearn_reconstructor(DispVectorRegressor, "regressor")

    def _predict_key(self, key, table):
        vector, valid = reconstructor_predict(self.reconstructor, key, table)
        vector = u.Quantity(vector, u.deg).to_value(u.deg)
        dx, dy = vector[:, 0], vector[:, 1]
        psi = table["hillas_psi"].quantity.to_value(u.rad)
        parameter = dx * np.cos(psi) + dy * np.sin(psi)
        return self._columns(table, parameter, dx, dy, np.full(len(dx), np.nan), valid)
