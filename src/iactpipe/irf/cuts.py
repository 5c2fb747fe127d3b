"""
Gammaness and direction (theta) cuts: global or energy-dependent at a target gamma
efficiency / containment, or significance-optimised with ctapipe's optimiser.

The cut tables are pyirf cut tables (``low``, ``high``, ``center``, ``cut`` in bins of
reconstructed energy) and are stored in each IRF file as ``GH_CUTS`` and (point-like)
``RAD_MAX``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable
from ctapipe.core import Component, QualityQuery
from ctapipe.core.traits import CaselessStrEnum, Float, Int
from ctapipe.irf import PointSourceSensitivityOptimizer, make_bins_per_decade
from pyirf.binning import calculate_bin_indices
from pyirf.cuts import calculate_percentile_cut, evaluate_binned_cut

from ..io.traits import BoundedQuantity, check_ordered

__all__ = [
    "EFFICIENCY_QUANTILES",
    "EventCuts",
    "GammaCuts",
    "efficiency_table",
    "global_cut_table",
    "percentile_cut_table",
]

#: points of the gamma-efficiency curves of `efficiency_table` (0, 0.005, ..., 1)
EFFICIENCY_QUANTILES = 201


@dataclass
class GammaCuts:
    """
    Gammaness and theta cuts in bins of reconstructed energy.

    Attributes
    ----------
    gh_cuts : QTable
        Events with ``gh_score >= cut`` pass.
    theta_cuts : QTable
        Events with ``theta <= cut`` pass.
    gamma_efficiency : float
        The target fraction of gammas kept by the gammaness cut (NaN when optimised).
    theta_containment : float
        The target fraction of gammas kept by the theta cut (NaN when optimised).
    method : str
        How the cuts were found.
    """

    gh_cuts: QTable
    theta_cuts: QTable
    gamma_efficiency: float
    theta_containment: float
    method: str

    def gh_mask(self, events: QTable) -> np.ndarray:
        """Events that pass the gammaness cut (outside the bins: rejected)."""
        return evaluate_binned_cut(
            events["gh_score"], events["reco_energy"], self.gh_cuts, operator.ge
        )

    def theta_mask(self, events: QTable) -> np.ndarray:
        """Events that pass the theta cut (outside the bins: rejected)."""
        return evaluate_binned_cut(
            events["theta"], events["reco_energy"], self.theta_cuts, operator.le
        )

    @property
    def reco_energy_bins(self) -> u.Quantity:
        return np.append(self.gh_cuts["low"], self.gh_cuts["high"][-1])


def percentile_cut_table(
    values: u.Quantity | np.ndarray,
    reco_energy: u.Quantity,
    bins: u.Quantity,
    percentile: float,
    fill_value,
    min_events: int,
    min_value=None,
    max_value=None,
) -> QTable:
    """Energy-dependent cut keeping ``percentile`` % of the values below it (pyirf)."""
    return calculate_percentile_cut(
        values,
        reco_energy,
        bins=bins,
        fill_value=fill_value,
        percentile=percentile,
        min_value=min_value,
        max_value=max_value,
        min_events=min_events,
    )


def global_cut_table(values, bins: u.Quantity, percentile: float, min_value=None, max_value=None):
    """One cut (the ``percentile`` of all values) repeated in every energy bin."""
    cut = np.nanpercentile(u.Quantity(values).value, percentile) if len(values) else np.nan
    unit = getattr(values, "unit", None)
    cut = u.Quantity(cut, unit) if unit is not None else cut
    if min_value is not None:
        cut = np.maximum(cut, min_value)
    if max_value is not None:
        cut = np.minimum(cut, max_value)
    table = QTable({"low": bins[:-1], "high": bins[1:], "center": np.sqrt(bins[:-1] * bins[1:])})
    table["cut"] = np.full(len(table), cut.value if unit is not None else cut)
    if unit is not None:
        table["cut"] = u.Quantity(table["cut"], unit)
    return table


def efficiency_table(
    gh_score: np.ndarray, reco_energy: u.Quantity, gh_cuts: QTable, n_points: int = 201
) -> QTable:
    """
    The gammas' gammaness quantiles per reconstructed-energy bin of ``gh_cuts``.

    The gamma efficiency of a threshold ``g`` in a bin (the fraction of these gammas
    scoring ``>= g``) is ``1 - p`` where ``g`` falls in the row's ``quantile`` array
    (``np.quantile`` at ``p = linspace(0, 1, n_points)``; ``n_points`` is the table's
    ``NPROB`` meta): at a percentile cut (`percentile_cut_table`, numpy's linear
    quantile) the cut's own efficiency. Bins without gammas have NaN quantiles.

    Parameters
    ----------
    gh_score : np.ndarray
        Gammaness of the gammas that made the cut.
    reco_energy : Quantity
        Their reconstructed energy.
    gh_cuts : QTable
        The cut table whose bins (``low``, ``high``) are used.
    n_points : int
        Quantiles per bin.
    """
    bins = np.append(gh_cuts["low"], gh_cuts["high"][-1])
    index, valid = calculate_bin_indices(u.Quantity(reco_energy), bins)
    score = np.asarray(gh_score, dtype=np.float64)
    prob = np.linspace(0.0, 1.0, n_points)
    quantiles = np.full((len(gh_cuts), n_points), np.nan)
    counts = np.zeros(len(gh_cuts), dtype=np.int64)
    for k in range(len(gh_cuts)):
        values = score[valid & (index == k)]
        values = values[np.isfinite(values)]
        counts[k] = len(values)
        if len(values):
            quantiles[k] = np.quantile(values, prob)
    table = QTable({k: gh_cuts[k] for k in ("low", "high", "center")})
    table["n_events"] = counts
    table["quantile"] = quantiles
    table.meta["NPROB"] = n_points
    return table


class EventCuts(Component):
    """
    Computes the gammaness and theta cuts from the selected gammas (and, for
    ``method = significance``, protons).

    ``percentile``: the gammaness cut keeps ``gamma_efficiency`` of the gammas, globally
    or in each reconstructed-energy bin; the theta cut then contains
    ``theta_containment`` of the remaining gammas. Bins with fewer than
    ``min_events_per_bin`` gammas get the fill values (gammaness cut 1: nothing passes;
    theta ``theta_max``). ``significance``: ctapipe's
    ``PointSourceSensitivityOptimizer`` (Li & Ma significance in 50 h, per bin).
    """

    method = CaselessStrEnum(
        ["percentile", "significance"], default_value="percentile", help="How cuts are found"
    ).tag(config=True)
    gh_cut_type = CaselessStrEnum(
        ["energy_dependent", "global"],
        default_value="energy_dependent",
        help="One gammaness cut for all energies or one per reconstructed-energy bin",
    ).tag(config=True)
    theta_cut_type = CaselessStrEnum(
        ["energy_dependent", "global"],
        default_value="energy_dependent",
        help="One theta cut for all energies or one per reconstructed-energy bin",
    ).tag(config=True)
    gamma_efficiency = Float(0.7, min=0.01, max=1.0, help="Gamma efficiency of the gh cut").tag(
        config=True
    )
    theta_containment = Float(0.68, min=0.01, max=1.0, help="Containment of the theta cut").tag(
        config=True
    )
    theta_min = BoundedQuantity(
        default_value=0.05 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        help="Smallest theta cut",
    ).tag(config=True)
    theta_max = BoundedQuantity(
        default_value=0.4 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Largest theta cut",
    ).tag(config=True)
    reco_energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Lowest cut bin edge",
    ).tag(config=True)
    reco_energy_max = BoundedQuantity(
        default_value=300 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Highest cut bin edge",
    ).tag(config=True)
    reco_energy_n_bins_per_decade = Int(5, min=1, help="Cut bins per decade").tag(config=True)
    min_events_per_bin = Int(10, min=1, help="Fewer gammas in a bin: fill value").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_ordered(self, [("theta_min", "theta_max"), ("reco_energy_min", "reco_energy_max")])

    @property
    def reco_energy_bins(self) -> u.Quantity:
        return make_bins_per_decade(
            self.reco_energy_min.to(u.TeV),
            self.reco_energy_max.to(u.TeV),
            self.reco_energy_n_bins_per_decade,
        )

    def __call__(self, gammas: QTable, background: QTable | None = None) -> GammaCuts:
        """
        Compute the cuts.

        Parameters
        ----------
        gammas : QTable
            Selected (point-like) gammas with ``gh_score``, ``reco_energy``, ``theta``
            and, for ``significance``, ``weight``.
        background : QTable, optional
            Weighted protons (needed for ``significance``).
        """
        if self.method == "significance":
            return self._optimise(gammas, background)
        bins = self.reco_energy_bins
        gh_percentile = 100 * (1 - self.gamma_efficiency)
        if self.gh_cut_type == "global":
            gh_cuts = global_cut_table(gammas["gh_score"], bins, gh_percentile)
        else:
            gh_cuts = percentile_cut_table(
                gammas["gh_score"],
                gammas["reco_energy"],
                bins,
                gh_percentile,
                fill_value=1.0,
                min_events=self.min_events_per_bin,
            )
        passed = evaluate_binned_cut(
            gammas["gh_score"], gammas["reco_energy"], gh_cuts, operator.ge
        )
        theta, energy = gammas["theta"][passed], gammas["reco_energy"][passed]
        percentile = 100 * self.theta_containment
        if self.theta_cut_type == "global":
            theta_cuts = global_cut_table(theta, bins, percentile, self.theta_min, self.theta_max)
        else:
            theta_cuts = percentile_cut_table(
                theta,
                energy,
                bins,
                percentile,
                fill_value=self.theta_max.to(u.deg),
                min_events=self.min_events_per_bin,
                min_value=self.theta_min.to(u.deg),
                max_value=self.theta_max.to(u.deg),
            )
        method = f"percentile ({self.gh_cut_type} gh, {self.theta_cut_type} theta)"
        return GammaCuts(gh_cuts, theta_cuts, self.gamma_efficiency, self.theta_containment, method)

    def _optimise(self, gammas: QTable, background: QTable | None) -> GammaCuts:
        if background is None or len(background) == 0:
            raise ValueError("significance-optimised cuts need selected, weighted protons")
        optimiser = PointSourceSensitivityOptimizer(
            parent=self,
            reco_energy_min=self.reco_energy_min,
            reco_energy_max=self.reco_energy_max,
            reco_energy_n_bins_per_decade=self.reco_energy_n_bins_per_decade,
        )
        result = optimiser(
            events={"signal": gammas, "background": background},
            quality_query=QualityQuery(parent=self),
            clf_prefix="gh_score",
        )
        return GammaCuts(
            result.gh_cuts,
            result.spatial_selection_table,
            np.nan,
            np.nan,
            "significance (ctapipe PointSourceSensitivityOptimizer)",
        )
