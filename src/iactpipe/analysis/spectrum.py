"""
1D spectral analysis with gammapy: ON/OFF datasets with reflected (wobble) OFF regions,
a safe energy range, a forward-folded fit of a power law, log-parabola or power law
with exponential cut-off, and flux points.

The ON region depends on the IRFs of the runs: point-like IRFs carry the theta
cut as ``RAD_MAX`` (energy dependent or not); the ON region is then a point whose
radius gammapy takes from ``RAD_MAX`` per event (``SpectrumDatasetMaker`` with
``containment_correction=False``, gammapy#3296), and the OFF regions have the same
radius. Full-enclosure IRFs have no cut: the ON region is a circle of ``theta_cut``
and the exposure is corrected for the PSF containment in it.

`injected_crab_model` gives the simulator's injected spectrum as a gammapy model, the
truth of the end-to-end tests: the MAGIC Crab log-parabola (pyirf
``CRAB_MAGIC_JHEAP2015``), dN/dE = ``source_flux_scale`` x 3.23e-11
(E/TeV)^(-2.47 - 0.24 log10(E/TeV)) TeV^-1 cm^-2 s^-1, with the reference energy moved
to ``reference``: amplitude F(E0), alpha = 2.47 + 0.48 log10(E0/TeV) (the local index
at E0), beta = 0.24 / ln 10 (gammapy uses ln).
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from ctapipe.core import Component
from ctapipe.core.traits import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    List,
    Unicode,
)
from pyirf.spectral import CRAB_MAGIC_JHEAP2015

from ..io.traits import BoundedQuantity, check_ordered

__all__ = [
    "SPECTRAL_MODELS",
    "SpectralFit",
    "SpectrumAnalysis",
    "aeff_threshold",
    "injected_crab_model",
    "make_spectral_model",
    "scale_to_excess",
]

#: --spectral-model choice -> gammapy model tag
SPECTRAL_MODELS = {"pl": "PowerLawSpectralModel", "lp": "LogParabolaSpectralModel",
                   "ecpl": "ExpCutoffPowerLawSpectralModel"}  # fmt: skip


def injected_crab_model(source_flux_scale: float, reference: u.Quantity = 1 * u.TeV):
    """
    The simulator's source spectrum as a gammapy ``LogParabolaSpectralModel``.

    Parameters
    ----------
    source_flux_scale : float
        ``ObservationRun.source_flux_scale``.
    reference : Quantity
        Reference energy E0 of the returned model.

    Returns
    -------
    gammapy.modeling.models.LogParabolaSpectralModel
        amplitude F(E0), alpha the local index at E0, beta = 0.24 / ln 10.
    """
    from gammapy.modeling.models import LogParabolaSpectralModel

    crab = CRAB_MAGIC_JHEAP2015
    x = np.log10((reference / crab.e_ref).to_value(u.one))
    return LogParabolaSpectralModel(
        amplitude=(source_flux_scale * crab(reference)).to(u.Unit("TeV-1 cm-2 s-1")),
        reference=reference.to(u.TeV),
        alpha=-crab.a - 2 * crab.b * x,
        beta=-crab.b / np.log(10),
    )


def make_spectral_model(
    name: str, reference: u.Quantity, initial: dict | None = None, frozen: list | None = None
):
    """
    A gammapy spectral model by its short name (``pl``, ``lp``, ``ecpl``).

    Parameters
    ----------
    name : str
        Key of `SPECTRAL_MODELS`.
    reference : Quantity
        Reference energy.
    initial : dict, optional
        Start values by parameter name (numbers in the parameter's default unit, or
        quantity strings such as ``"1e-11 TeV-1 cm-2 s-1"``).
    frozen : list of str, optional
        Parameters kept at their start value.
    """
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    model = SPECTRAL_MODEL_REGISTRY.get_cls(SPECTRAL_MODELS[name])()
    model.reference.quantity = reference
    if name == "ecpl":  # gammapy's default cut-off (10 TeV) sits where SST-1M's statistics end
        model.lambda_.quantity = 1 / (30 * u.TeV)
    for key, value in (initial or {}).items():
        parameter = model.parameters[key]
        quantity = u.Quantity(value)  # "1e-11 TeV-1 cm-2 s-1", or a number (also as text)
        if quantity.unit == u.one:
            parameter.value = quantity.value
        else:
            parameter.quantity = quantity
    for key in frozen or []:
        model.parameters[key].frozen = True
    return model


def aeff_threshold(exposure, percent: float) -> u.Quantity:
    """Lowest true energy where the exposure exceeds ``percent`` % of its maximum."""
    values = np.nan_to_num(exposure.data.reshape(exposure.data.shape[0], -1).sum(axis=1))
    axis = exposure.geom.axes["energy_true"]
    above = np.nonzero(values > percent / 100 * values.max())[0] if values.max() > 0 else []
    return axis.edges[above[0]] if len(above) else axis.edges[-1]


def scale_to_excess(datasets, model) -> None:
    """
    Start the amplitude where the model predicts the observed excess (at least one
    event): fits and the norm scans of gammapy's estimators (which start at norm 1)
    converge slowly or not at all from orders of magnitude away.
    """
    npred = sum(float(ds.npred_signal().data[ds.mask.data].sum()) for ds in datasets)
    excess = sum(float(ds.excess.data[ds.mask.data].sum()) for ds in datasets)
    if npred > 0:
        model.amplitude.value *= max(excess, 1.0) / npred


@dataclass
class SpectralFit:
    """Result of the forward-folded fit."""

    model_name: str
    model: object
    success: bool
    message: str
    energy_range: tuple[u.Quantity, u.Quantity]

    def parameters(self) -> dict[str, dict]:
        """``{name: {value, error, unit, frozen}}`` (gammapy names)."""
        return {p.name: {"value": float(p.value), "error": float(p.error),
                         "unit": p.unit.to_string(), "frozen": bool(p.frozen)}
                for p in self.model.parameters}  # fmt: skip


class SpectrumAnalysis(Component):
    """ON/OFF spectrum with reflected regions, spectral fit and flux points (gammapy)."""

    theta_cut = BoundedQuantity(
        default_value=0.2 * u.deg, physical_type=u.physical.angle,
        min=0 * u.deg, exclusive_min=True,
        help="ON-region radius for full-enclosure IRFs (point-like IRFs use their RAD_MAX)",
    ).tag(config=True)  # fmt: skip
    n_off_regions = Int(
        1, min=1, help="Wobble OFF regions (same offset as the target; overlapping ones dropped)"
    ).tag(config=True)
    energy_min = BoundedQuantity(
        default_value=1.0 * u.TeV, physical_type=u.physical.energy,
        min=0 * u.TeV, exclusive_min=True,
        help="Lower edge of the fit (and ON/OFF statistics) range, reconstructed energy",
    ).tag(config=True)  # fmt: skip
    energy_max = BoundedQuantity(
        default_value=100.0 * u.TeV, physical_type=u.physical.energy,
        min=0 * u.TeV, exclusive_min=True,
        help="Upper edge of the fit (and ON/OFF statistics) range, reconstructed energy",
    ).tag(config=True)  # fmt: skip
    bins_per_decade = Int(5, min=1, help="Reconstructed-energy bins per decade").tag(config=True)
    true_energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV, physical_type=u.physical.energy,
        min=0 * u.TeV, exclusive_min=True,
        help="Lower edge of the true-energy axis (NaN effective area outside the IRF: 0)",
    ).tag(config=True)  # fmt: skip
    true_energy_max = BoundedQuantity(
        default_value=300.0 * u.TeV, physical_type=u.physical.energy,
        min=0 * u.TeV, exclusive_min=True, help="Upper edge of the true-energy axis",
    ).tag(config=True)  # fmt: skip
    aeff_percent = Float(
        10.0, min=0, max=100,
        help="Safe energy range: where the effective area exceeds this % of its maximum",
    ).tag(config=True)  # fmt: skip
    offset_max = BoundedQuantity(
        default_value=2.5 * u.deg, physical_type=u.physical.angle,
        min=0 * u.deg, exclusive_min=True,
        help="Safe range: largest offset of the ON region from the pointing",
    ).tag(config=True)  # fmt: skip
    spectral_model = CaselessStrEnum(
        list(SPECTRAL_MODELS), default_value="pl",
        help="pl: power law, lp: log-parabola, ecpl: power law with exponential cut-off",
    ).tag(config=True)  # fmt: skip
    reference_energy = BoundedQuantity(
        default_value=3.0 * u.TeV, physical_type=u.physical.energy,
        min=0 * u.TeV, exclusive_min=True, help="Reference energy of the spectral model (fixed)",
    ).tag(config=True)  # fmt: skip
    initial_parameters = Dict(
        default_value={}, help="Start values by gammapy parameter name, e.g. {'index': 2.5}"
    ).tag(config=True)
    frozen_parameters = List(
        Unicode(), default_value=[], help="Parameters fixed at their start value, e.g. ['beta']"
    ).tag(config=True)
    n_flux_points = Int(6, min=1, help="Flux points (SED) over the fit range").tag(config=True)
    sqrt_ts_threshold_ul = Float(
        2.0, help="Flux points and light-curve bins below this sqrt(TS) are upper limits"
    ).tag(config=True)
    containment_correction = Bool(
        True, help="Full-enclosure: correct the exposure for the PSF containment in the ON region"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_ordered(self, [("energy_min", "energy_max"), ("true_energy_min", "true_energy_max")])

    def _axes(self):
        from gammapy.maps import MapAxis

        energy = MapAxis.from_energy_bounds(self.true_energy_min, self.true_energy_max,
                                            nbin=self.bins_per_decade, per_decade=True,
                                            name="energy")  # fmt: skip
        true = MapAxis.from_energy_bounds(self.true_energy_min, self.true_energy_max,
                                          nbin=2 * self.bins_per_decade, per_decade=True,
                                          name="energy_true")  # fmt: skip
        return energy, true

    def _makers(self, irf_type: str):
        from gammapy.makers import (
            ReflectedRegionsBackgroundMaker,
            SafeMaskMaker,
            SpectrumDatasetMaker,
            WobbleRegionsFinder,
        )

        point_like = irf_type == "point-like"
        maker = SpectrumDatasetMaker(
            containment_correction=self.containment_correction and not point_like,
            selection=["counts", "exposure", "edisp"], use_region_center=True,
        )  # fmt: skip
        finder = WobbleRegionsFinder(n_off_regions=self.n_off_regions)
        background = ReflectedRegionsBackgroundMaker(region_finder=finder)
        # the aeff-max threshold is `aeff_threshold`: gammapy's inverts the effective area
        # curve and finds the falling edge when it drops to 0 above the simulated range
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=self.offset_max)
        return maker, background, safe

    def on_region(self, position: SkyCoord, irf_type: str):
        """Point (point-like IRFs: RAD_MAX) or circle of ``theta_cut`` (full enclosure)."""
        from regions import CircleSkyRegion, PointSkyRegion

        if irf_type == "point-like":
            return PointSkyRegion(position)
        return CircleSkyRegion(position, radius=self.theta_cut)

    def _regions_overlap(self, obs, position: SkyCoord) -> bool:
        """
        Whether circles of `theta_cut` on the wobble circle overlap (full enclosure).

        gammapy checks this only for point-like ON regions (RAD_MAX); an OFF region
        overlapping the ON region would count signal as background.
        """
        offset = obs.get_pointing_icrs(obs.tmid).separation(position)
        spacing = 2 * offset * np.sin(np.pi / (self.n_off_regions + 1))
        return bool(spacing < 2 * self.theta_cut)

    def datasets(self, observations, position: SkyCoord, irf_type: str):
        """
        One ``SpectrumDatasetOnOff`` per run (joint likelihood, no stacking: runs with no
        OFF count would give NaN in a stacked alpha), safe mask and fit range set.
        """
        from gammapy.datasets import Datasets, SpectrumDataset
        from gammapy.maps import RegionGeom

        energy_axis, true_axis = self._axes()
        geom = RegionGeom.create(region=self.on_region(position, irf_type), axes=[energy_axis])
        empty = SpectrumDataset.create(geom=geom, energy_axis_true=true_axis)
        maker, background, safe = self._makers(irf_type)
        datasets = Datasets()
        for obs in observations:
            if irf_type != "point-like" and self._regions_overlap(obs, position):
                self.log.warning("run %d: ON and OFF regions of %s overlap at this wobble "
                                 "offset: run left out", obs.obs_id, self.theta_cut)  # fmt: skip
                continue
            dataset = maker.run(empty.copy(name=f"obs{obs.obs_id}"), obs)
            # NaN effective area / migration outside the simulated range: no exposure there
            dataset.exposure.data = np.nan_to_num(dataset.exposure.data)
            dataset.edisp.edisp_map.data = np.nan_to_num(dataset.edisp.edisp_map.data)
            dataset.edisp.exposure_map.data = np.nan_to_num(dataset.edisp.exposure_map.data)
            on_off = safe.run(background.run(dataset, obs), obs)
            if on_off.counts_off is None:
                # gammapy found no OFF region (it warns): the run cannot be used ON/OFF
                self.log.warning("run %d: no OFF region outside the ON region (theta cut or "
                            "RAD_MAX too large for the wobble offset?): run left out",
                            obs.obs_id)  # fmt: skip
                continue
            threshold = aeff_threshold(on_off.exposure, self.aeff_percent)
            on_off.mask_safe.data &= on_off.counts.geom.energy_mask(energy_min=threshold).data
            on_off.mask_fit = on_off.counts.geom.energy_mask(
                energy_min=self.energy_min, energy_max=self.energy_max
            )
            datasets.append(on_off)
        return datasets

    def energy_range(self, datasets) -> tuple[u.Quantity, u.Quantity]:
        """Reconstructed-energy edges of the bins inside the safe and fit masks of any run."""
        axis = datasets[0].counts.geom.axes["energy"]
        used = np.zeros(axis.nbin, dtype=bool)
        for ds in datasets:
            used |= ds.mask.data.reshape(axis.nbin, -1).any(axis=1)
        if not used.any():
            return np.nan * u.TeV, np.nan * u.TeV
        return axis.edges[:-1][used].min(), axis.edges[1:][used].max()

    def fit(self, datasets, source_name: str) -> SpectralFit:
        """Forward-folded WStat fit of the chosen model to all runs jointly."""
        from gammapy.modeling import Fit
        from gammapy.modeling.models import SkyModel

        initial, frozen = dict(self.initial_parameters), list(self.frozen_parameters)
        model = make_spectral_model(self.spectral_model, self.reference_energy, initial, frozen)
        datasets.models = [SkyModel(spectral_model=model, name=source_name)]
        if "amplitude" not in self.initial_parameters:
            scale_to_excess(datasets, model)
        try:
            result = Fit().run(datasets)
            success, message = bool(result.success), str(result.message)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
            success, message = False, f"fit failed: {err}"
        return SpectralFit(self.spectral_model, model, success, message,
                           self.energy_range(datasets))  # fmt: skip

    def flux_points(self, datasets, source_name: str, n_sigma_ul: float):
        """gammapy ``FluxPoints`` in `n_flux_points` bins over the safe fit range."""
        from gammapy.estimators import FluxPointsEstimator

        e_min, e_max = self.energy_range(datasets)
        if not np.isfinite(e_min):
            return None
        n = max(1, min(self.n_flux_points, self._n_bins(datasets, e_min, e_max)))
        edges = np.geomspace(e_min.to_value(u.TeV), e_max.to_value(u.TeV), n + 1) * u.TeV
        estimator = FluxPointsEstimator(
            energy_edges=edges, source=source_name, selection_optional=["ul"], n_sigma_ul=n_sigma_ul
        )
        points = estimator.run(datasets)
        points.sqrt_ts_threshold_ul = self.sqrt_ts_threshold_ul
        return points

    @staticmethod
    def _n_bins(datasets, e_min, e_max) -> int:
        edges = datasets[0].counts.geom.axes["energy"].edges
        return int(np.sum((edges[:-1] >= e_min * 0.999) & (edges[1:] <= e_max * 1.001)))
