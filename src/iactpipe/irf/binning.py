"""The true-energy binning shared by the IRF and the performance makers."""

from __future__ import annotations

import astropy.units as u
from ctapipe.irf import make_bins_per_decade
from traitlets import HasTraits

from ..io.traits import BoundedQuantity

__all__ = ["TrueEnergyBinning"]


class TrueEnergyBinning(HasTraits):
    """
    Mixin of a `~ctapipe.core.Component`: true-energy bins between ``true_energy_min``
    and ``true_energy_max`` with ``true_energy_n_bins_per_decade`` bins per decade.

    The component declares ``true_energy_n_bins_per_decade`` itself (its default
    differs: finer for the IRFs than for the performance tables); the traits stay the
    component's own config keys (``IRFMaker.true_energy_min``).
    """

    true_energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Lowest true energy",
    ).tag(config=True)
    true_energy_max = BoundedQuantity(
        default_value=300 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Highest true energy",
    ).tag(config=True)

    @property
    def true_energy_bins(self) -> u.Quantity:
        """Bin edges (TeV) of the true energy."""
        return make_bins_per_decade(
            self.true_energy_min.to(u.TeV),
            self.true_energy_max.to(u.TeV),
            self.true_energy_n_bins_per_decade,
        )
