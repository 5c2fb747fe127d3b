"""
Integral flux upper limit above a threshold energy, the main product for alerts:
gammapy's profile-likelihood upper limit on the flux normalisation (``FluxEstimator``
over [E_thr, E_max]) with a fixed spectral shape, a power law of index
``spectral_index``. For a confidence level CL the likelihood is scanned to
Delta(-2 log L) = chi²_1 quantile at CL, i.e. ``n_sigma_ul`` = sqrt(chi2.ppf(CL, 1))
(1.96 at 95 %, the convention of H.E.S.S. and gammapy's ``n_sigma_ul=2``), and the
limit is expressed in cm-2 s-1 and as a fraction of the MAGIC Crab flux above E_thr.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float
from pyirf.spectral import CRAB_MAGIC_JHEAP2015
from scipy.stats import chi2

from ..io.traits import BoundedQuantity
from .spectrum import scale_to_excess

__all__ = ["UpperLimitEstimator", "crab_integral_flux", "n_sigma_for_confidence"]


def n_sigma_for_confidence(confidence_level: float) -> float:
    """sqrt of the chi² (1 dof) quantile: the ``n_sigma_ul`` of gammapy's estimators."""
    return float(np.sqrt(chi2.ppf(confidence_level, 1)))


def crab_integral_flux(e_min: u.Quantity, e_max: u.Quantity = 1000 * u.TeV) -> u.Quantity:
    """Integral flux (cm-2 s-1) of the MAGIC Crab log-parabola between the two energies."""
    energy = np.geomspace(e_min.to_value(u.TeV), e_max.to_value(u.TeV), 2000) * u.TeV
    return np.trapezoid(CRAB_MAGIC_JHEAP2015(energy), energy).to(u.Unit("cm-2 s-1"))


class UpperLimitEstimator(Component):
    """Integral flux upper limit above ``energy_threshold``."""

    energy_threshold = BoundedQuantity(
        default_value=1.0 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Threshold energy E_thr of the integral flux (raised to the safe range's start)",
    ).tag(config=True)
    confidence_level = Float(0.95, min=0.5, max=0.9999, help="Confidence level").tag(config=True)
    spectral_index = Float(2.5, help="Power-law index of the spectrum assumed for the limit").tag(
        config=True
    )

    @property
    def n_sigma_ul(self) -> float:
        """``n_sigma_ul`` equivalent to `confidence_level`."""
        return n_sigma_for_confidence(self.confidence_level)

    def assumed_model(self, datasets, source_name: str, reference):
        """
        Power law of `spectral_index` whose amplitude predicts the observed excess (at
        least one event): the spectral shape of limits and of light curves and flux
        points when the source is not detected.
        """
        from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

        model = SkyModel(
            spectral_model=PowerLawSpectralModel(index=self.spectral_index, reference=reference),
            name=source_name,
        )
        datasets.models = [model]
        scale_to_excess(datasets, model.spectral_model)
        return model

    def __call__(self, datasets, source_name: str, energy_range) -> dict:
        """
        Upper limit, flux and errors in [max(E_thr, safe start), safe end].

        Returns
        -------
        dict
            ``energy_threshold_TeV``, ``energy_max_TeV``, ``confidence_level``,
            ``spectral_index``, ``flux_ul_cm-2_s-1``, ``flux_cm-2_s-1``,
            ``flux_err_cm-2_s-1``, ``sqrt_ts``, ``flux_ul_crab``.
        """
        from gammapy.estimators import FluxPointsEstimator

        e_min = max(self.energy_threshold, energy_range[0])
        e_max = energy_range[1]
        data = datasets.copy()
        data.models = [self.assumed_model(data, source_name, e_min)]
        estimator = FluxPointsEstimator(
            energy_edges=u.Quantity([e_min, e_max]),
            source=source_name,
            selection_optional=["ul"],
            n_sigma_ul=self.n_sigma_ul,
            reoptimize=False,
        )
        table = estimator.run(data).to_table(sed_type="flux")
        unit = u.Unit("cm-2 s-1")
        flux_ul = table["flux_ul"].quantity[0].to_value(unit)
        return {
            "energy_threshold_TeV": float(e_min.to_value(u.TeV)),
            "energy_max_TeV": float(e_max.to_value(u.TeV)),
            "confidence_level": self.confidence_level,
            "spectral_index": self.spectral_index,
            "flux_ul_cm-2_s-1": float(flux_ul),
            "flux_cm-2_s-1": float(table["flux"].quantity[0].to_value(unit)),
            "flux_err_cm-2_s-1": float(table["flux_err"].quantity[0].to_value(unit)),
            "sqrt_ts": float(table["sqrt_ts"][0]),
            "flux_ul_crab": float(flux_ul / crab_integral_flux(e_min, e_max).to_value(unit)),
        }
