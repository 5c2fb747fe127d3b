"""Cross-validation report: performance tables from out-of-fold predictions."""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from .metrics import angular_resolution, angular_separation_deg, binned_auc, energy_resolution, roc
from .models import RecoModel, fitted_estimators

__all__ = ["ENERGY_BINS", "CrossValidationReport", "cross_validation_report"]

#: default true-energy bins of the report (5 per decade, 0.3 to 300 TeV)
ENERGY_BINS = np.geomspace(0.3, 300, 16) * u.TeV


class CrossValidationReport:
    """Tables of a cross-validation: energy, classification, direction, importances."""

    def __init__(self):
        self.energy: QTable | None = None
        self.classification: QTable | None = None
        self.roc: Table | None = None
        self.auc: float | None = None
        self.direction: QTable | None = None
        self.importances: Table | None = None

    def tables(self) -> dict[str, Table]:
        """The non-empty tables by name."""
        names = ("energy", "classification", "roc", "direction", "importances")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def _importances(models: Mapping[str, RecoModel]) -> Table:
    rows = []
    for kind, model in models.items():
        for key in model.keys:
            estimators = fitted_estimators(model.reconstructor)[key]
            names = ("norm", "sign") if isinstance(estimators, tuple) else ("",)
            for part, estimator in zip(
                names, estimators if isinstance(estimators, tuple) else (estimators,), strict=True
            ):
                values = getattr(estimator, "feature_importances_", None)
                if values is None:
                    continue
                for feature, value in zip(model.all_features, values, strict=True):
                    label = f"{kind}_{part}" if part else kind
                    rows.append((label, key, feature, float(value)))
    if not rows:
        return Table(names=("model", "key", "feature", "importance"), dtype=(str, str, str, float))
    return Table(rows=rows, names=("model", "key", "feature", "importance"))


def cross_validation_report(
    models: Mapping[str, RecoModel],
    cv: Mapping[str, Table],
    gammas: Table,
    classifier_table: Table | None,
    bins: u.Quantity = ENERGY_BINS,
) -> CrossValidationReport:
    """
    Energy bias and resolution, ROC and AUC (overall and per reconstructed energy),
    mono angular resolution and feature importances from out-of-fold predictions.
    """
    report = CrossValidationReport()
    true_energy = u.Quantity(gammas["true_energy"], u.TeV)
    if "energy" in cv:
        prefix = models["energy"].prefix
        reco = u.Quantity(np.asarray(cv["energy"][f"{prefix}_tel_energy"]), u.TeV)
        report.energy = energy_resolution(true_energy, reco, bins)
    if "disp" in cv:
        p = models["disp"].prefix
        lon = np.asarray(u.Quantity(gammas["hillas_fov_lon"], u.deg).value) + np.asarray(
            cv["disp"][f"{p}_tel_disp_dx"]
        )
        lat = np.asarray(u.Quantity(gammas["hillas_fov_lat"], u.deg).value) + np.asarray(
            cv["disp"][f"{p}_tel_disp_dy"]
        )
        separation = angular_separation_deg(
            lon * u.deg, lat * u.deg, gammas["true_source_fov_lon"], gammas["true_source_fov_lat"]
        )
        report.direction = angular_resolution(true_energy, separation * u.deg, bins)
        if "true_disp" in gammas.colnames:
            predicted = np.sign(np.asarray(cv["disp"][f"{p}_tel_parameter"]))
            truth = np.sign(np.asarray(u.Quantity(gammas["true_disp"]).value))
            index = np.digitize(true_energy.to_value(u.TeV), bins.to_value(u.TeV)) - 1
            accuracy = np.full(len(bins) - 1, np.nan)
            for k in range(len(accuracy)):
                here = (index == k) & np.isfinite(predicted)
                if here.sum() >= 10:
                    accuracy[k] = np.mean(predicted[here] == truth[here])
            report.direction["sign_accuracy"] = accuracy
    if "classification" in cv and classifier_table is not None:
        prefix = models["classification"].prefix
        score = np.asarray(cv["classification"][f"{prefix}_tel_prediction"], dtype=float)
        is_gamma = np.asarray(classifier_table["true_shower_primary_id"]) == 0
        fpr, tpr, auc = roc(is_gamma, score)
        report.auc = auc
        report.roc = Table({"false_positive_rate": fpr, "true_positive_rate": tpr})
        report.roc.meta["auc"] = auc
        energy = u.Quantity(classifier_table["true_energy"], u.TeV)
        report.classification = binned_auc(energy, is_gamma, score, bins)
        report.classification.rename_column("reco_energy_low", "true_energy_low")
        report.classification.rename_column("reco_energy_high", "true_energy_high")
    report.importances = _importances(models)
    return report
