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
    "n_reflected_that_fit",
    "safe_thresholds",
    "injected_crab_model",
    "make_spectral_model",
    "scale_to_excess",
]

#: --spectral-model choice -> gammapy model tag
SPECTRAL_MODELS = {
    "pl": "PowerLawSpectralModel",
    "lp": "LogParabolaSpectralModel",
    "ecpl": "ExpCutoffPowerLawSpectralModel",
}


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
        return {
            p.name: {
                "value": float(p.value),
                "error": float(p.error),
                "unit": p.unit.to_string(),
                "frozen": bool(p.frozen),
            }
            for p in self.model.parameters
        }


def safe_thresholds(
    observation, position: SkyCoord, methods, aeff_percent: float, bias_percent: float
) -> dict[str, u.Quantity]:
    """
    Lower safe energy of one run by each method, from its DL3 IRFs at the target's
    offset, exactly as gammapy's ``SafeMaskMaker(methods, position=position, irfs="DL3")``:
    ``aeff-max``, the lowest true-energy edge of the effective area above
    ``aeff_percent`` % of its maximum; ``edisp-bias``, the energy above which the
    energy-dispersion bias stays below ``bias_percent`` %. NaN where an IRF gives none.
    """
    offset = observation.get_pointing_icrs(observation.tmid).separation(position)
    out = {}
    if "aeff-max" in methods:
        edges = observation.aeff.axes["energy_true"].edges
        values = np.nan_to_num(
            u.Quantity(observation.aeff.evaluate(offset=offset, energy_true=edges)).value
        )
        valid = edges[values > aeff_percent * values.max() / 100] if values.max() > 0 else []
        out["aeff-max"] = valid.min() if len(valid) else np.nan * u.TeV
    if "edisp-bias" in methods:
        try:
            kernel = observation.edisp.to_edisp_kernel(offset)
            out["edisp-bias"] = u.Quantity(kernel.get_bias_energy(bias_percent / 100)[0], u.TeV)
        except (ValueError, IndexError):
            out["edisp-bias"] = np.nan * u.TeV
    return out


def n_reflected_that_fit(offset: u.Quantity, radius: u.Quantity) -> int:
    """OFF circles of ``radius`` that fit on the wobble circle beside the ON circle."""
    ratio = (radius / offset).to_value(u.one)
    if ratio >= 1:
        return 0
    return max(0, int(np.floor(np.pi / np.arcsin(ratio) * (1 - 1e-9))) - 1)


class SpectrumAnalysis(Component):
    """ON/OFF spectrum with reflected regions, spectral fit and flux points (gammapy)."""

    theta_cut = BoundedQuantity(
        default_value=None,
        allow_none=True,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="ON-region radius for full-enclosure IRFs (point-like IRFs use their RAD_MAX); "
        "default: the runs' PSF containment radius (psf_containment) at the lower edge of "
        "their first energy bin above the safe threshold, the largest over the runs, "
        "rounded up to 0.01 deg",
    ).tag(config=True)
    psf_containment = Float(
        0.68, min=0.1, max=0.99, help="PSF containment of the default full-enclosure ON radius"
    ).tag(config=True)
    n_off_regions = Int(
        0,
        min=0,
        help="OFF regions per run; 0: as many as fit at the run's offset without "
        "overlapping the ON region or an exclusion region (gammapy's reflected-regions "
        "finder); N: N regions spaced evenly on the wobble circle (gammapy's "
        "WobbleRegionsFinder), those on an exclusion region dropped",
    ).tag(config=True)
    energy_min = BoundedQuantity(
        default_value=None,
        allow_none=True,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Lower edge of the fit (and ON/OFF statistics) range, reconstructed energy; "
        "default: each run's safe threshold (safe_methods)",
    ).tag(config=True)
    energy_max = BoundedQuantity(
        default_value=100.0 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Upper edge of the fit (and ON/OFF statistics) range, reconstructed energy",
    ).tag(config=True)
    bins_per_decade = Int(5, min=1, help="Reconstructed-energy bins per decade").tag(config=True)
    true_energy_min = BoundedQuantity(
        default_value=None,
        allow_none=True,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Lower edge of the energy axes; default: the first run's effective-area range "
        "rounded down to a decade (NaN effective area outside the IRF: 0)",
    ).tag(config=True)
    true_energy_max = BoundedQuantity(
        default_value=None,
        allow_none=True,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Upper edge of the energy axes; default: the first run's effective-area range "
        "rounded up to a decade",
    ).tag(config=True)
    safe_methods = List(
        CaselessStrEnum(["aeff-max", "edisp-bias"]),
        default_value=["aeff-max", "edisp-bias"],
        help="Safe lower energy of each run, the highest of these gammapy SafeMaskMaker "
        "methods (DL3 IRFs at the target's offset): aeff-max (aeff_percent of the "
        "maximum effective area), edisp-bias (bias below bias_percent)",
    ).tag(config=True)
    aeff_percent = Float(
        10.0,
        min=0,
        max=100,
        help="Safe energy range: where the effective area exceeds this % of its maximum",
    ).tag(config=True)
    bias_percent = Float(
        10.0, min=0, help="Safe energy range: where the energy bias is below this %"
    ).tag(config=True)
    offset_max = BoundedQuantity(
        default_value=2.5 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Safe range: largest offset of the ON region from the pointing",
    ).tag(config=True)
    spectral_model = CaselessStrEnum(
        list(SPECTRAL_MODELS),
        default_value="pl",
        help="pl: power law, lp: log-parabola, ecpl: power law with exponential cut-off",
    ).tag(config=True)
    reference_energy = BoundedQuantity(
        default_value=3.0 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Reference energy of the spectral model (fixed)",
    ).tag(config=True)
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

    def __init__(self, config=None, parent=None, **kwargs):
        super().__init__(config=config, parent=parent, **kwargs)
        check_ordered(self, [("energy_min", "energy_max"), ("true_energy_min", "true_energy_max")])
        #: per OBS_ID, the values chosen from the data by the last `datasets` call
        self.choices: dict[int, dict] = {}
        #: the full-enclosure ON radius used by the last `datasets` call
        self.on_radius: u.Quantity | None = None

    def axes(self, observations):
        """Reconstructed and true energy axes (decade-aligned edges)."""
        from gammapy.maps import MapAxis

        e_min, e_max = self.true_energy_min, self.true_energy_max
        if e_min is None or e_max is None:
            edges = observations[0].aeff.axes["energy_true"].edges.to_value(u.TeV)
            e_min = e_min if e_min is not None else 10 ** np.floor(np.log10(edges[0])) * u.TeV
            e_max = e_max if e_max is not None else 10 ** np.ceil(np.log10(edges[-1])) * u.TeV
        energy = MapAxis.from_energy_bounds(
            e_min, e_max, nbin=self.bins_per_decade, per_decade=True, name="energy"
        )
        true = MapAxis.from_energy_bounds(
            e_min, e_max, nbin=2 * self.bins_per_decade, per_decade=True, name="energy_true"
        )
        return energy, true

    def threshold(self, observation, position: SkyCoord) -> tuple[u.Quantity, dict]:
        """Safe lower energy of a run (the highest of `safe_methods`) and each method's."""
        values = safe_thresholds(
            observation, position, self.safe_methods, self.aeff_percent, self.bias_percent
        )
        finite = [v.to_value(u.TeV) for v in values.values() if np.isfinite(v)]
        return (max(finite) if finite else 0.0) * u.TeV, values

    def psf_radius(self, observation, position: SkyCoord, energy: u.Quantity) -> u.Quantity:
        """PSF `psf_containment` radius of a run at the target's offset and ``energy``."""
        offset = observation.get_pointing_icrs(observation.tmid).separation(position)
        edges = observation.psf.axes["energy_true"].edges
        energy = np.clip(energy, edges[0], edges[-1])
        radius = observation.psf.containment_radius(
            self.psf_containment, energy_true=energy, offset=offset
        )
        return u.Quantity(radius).to(u.deg).ravel()[0]

    def _on_radius(self, observations, position, energies) -> u.Quantity:
        """`theta_cut`, or the PSF radius at ``energies[obs_id]`` (largest over the runs)."""
        if self.theta_cut is not None:
            return self.theta_cut
        radii = [self.psf_radius(obs, position, energies[obs.obs_id]) for obs in observations]
        for obs, radius in zip(observations, radii, strict=True):
            self.choices[obs.obs_id]["psf_radius_deg"] = float(radius.to_value(u.deg))
        return np.ceil(max(r.to_value(u.deg) for r in radii) * 100 - 1e-6) / 100 * u.deg

    def _finder(self, obs, position: SkyCoord, irf_type: str, energy_axis, exclusion):
        """Regions finder and exclusion mask of one run (see `n_off_regions`)."""
        from gammapy.makers import ReflectedRegionsFinder, WobbleRegionsFinder

        offset = obs.get_pointing_icrs(obs.tmid).separation(position)
        if irf_type != "point-like":
            if self.n_off_regions == 0:
                return ReflectedRegionsFinder(), exclusion
            return WobbleRegionsFinder(self.n_off_regions), exclusion
        # point ON region: the OFF points must keep RAD_MAX from each other and from the
        # exclusion regions (gammapy checks RAD_MAX over the whole energy axis)
        edges = energy_axis.edges
        rad_max = (
            u.Quantity(obs.rad_max.evaluate(energy=np.sqrt(edges[:-1] * edges[1:]), offset=offset))
            .to(u.deg)
            .max()
        )
        n = self.n_off_regions or max(1, n_reflected_that_fit(offset, rad_max))
        if exclusion is not None:
            exclusion = exclusion.binary_erode(width=rad_max, use_fft=False)
        return WobbleRegionsFinder(n), exclusion

    def datasets(self, observations, position: SkyCoord, irf_type: str, exclusion=None):
        """
        One ``SpectrumDatasetOnOff`` per run (joint likelihood, no stacking: runs with no
        OFF count would give NaN in a stacked alpha), safe mask and fit range set; the
        values chosen per run are in `choices`.

        Parameters
        ----------
        observations : list of gammapy.data.Observation
        position : SkyCoord
            Target position (centre of the ON region).
        irf_type : {"point-like", "full-enclosure"}
        exclusion : gammapy.maps.WcsNDMap, optional
            Exclusion mask (True: usable) for the OFF regions.
        """
        from gammapy.datasets import Datasets, SpectrumDataset
        from gammapy.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker
        from gammapy.maps import RegionGeom

        energy_axis, true_axis = self.axes(observations)
        thresholds, starts = {}, {}
        self.choices = {}
        for obs in observations:
            thresholds[obs.obs_id], methods = self.threshold(obs, position)
            # the first reconstructed-energy bin inside the safe range starts here
            lower = energy_axis.edges[:-1]
            above = lower[lower >= thresholds[obs.obs_id]]  # as gammapy's energy_mask
            starts[obs.obs_id] = above.min() if len(above) else energy_axis.edges[-1]
            self.choices[obs.obs_id] = {
                "safe_threshold_TeV": float(thresholds[obs.obs_id].to_value(u.TeV)),
                **{f"threshold_{k}_TeV": float(v.to_value(u.TeV)) for k, v in methods.items()},
                "first_bin_TeV": float(starts[obs.obs_id].to_value(u.TeV)),
            }
        radius = None
        if irf_type != "point-like":
            radius = self._on_radius(observations, position, starts)
        self.on_radius = radius
        geom = RegionGeom.create(
            region=self.on_region(position, irf_type, radius), axes=[energy_axis]
        )
        empty = SpectrumDataset.create(geom=geom, energy_axis_true=true_axis)
        maker = self._maker(irf_type)
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=self.offset_max)
        datasets = Datasets()
        for obs in observations:
            if irf_type != "point-like" and self._regions_overlap(obs, position, radius):
                self.log.warning(
                    "run %d: ON and OFF regions of %s overlap at this wobble offset: run left out",
                    obs.obs_id,
                    radius,
                )
                self.choices[obs.obs_id]["left_out"] = "no OFF region"
                continue
            finder, mask = self._finder(obs, position, irf_type, energy_axis, exclusion)
            dataset = maker.run(empty.copy(name=f"obs{obs.obs_id}"), obs)
            # NaN effective area / migration outside the simulated range: no exposure there
            dataset.exposure.data = np.nan_to_num(dataset.exposure.data)
            dataset.edisp.edisp_map.data = np.nan_to_num(dataset.edisp.edisp_map.data)
            dataset.edisp.exposure_map.data = np.nan_to_num(dataset.edisp.exposure_map.data)
            background = ReflectedRegionsBackgroundMaker(region_finder=finder, exclusion_mask=mask)
            on_off = safe.run(background.run(dataset, obs), obs)
            if on_off.counts_off is None:
                # gammapy found no OFF region (it warns): the run cannot be used ON/OFF
                self.log.warning(
                    "run %d: no OFF region outside the ON region and the "
                    "exclusion regions: run left out",
                    obs.obs_id,
                )
                self.choices[obs.obs_id]["left_out"] = "no OFF region"
                continue
            self.choices[obs.obs_id]["n_off_regions"] = int(
                np.nanmax(on_off.acceptance_off.data / on_off.acceptance.data)
            )
            on_off.mask_safe.data &= on_off.counts.geom.energy_mask(
                energy_min=thresholds[obs.obs_id]
            ).data
            on_off.mask_fit = on_off.counts.geom.energy_mask(
                energy_min=self.energy_min, energy_max=self.energy_max
            )
            datasets.append(on_off)
        return datasets

    def _regions_overlap(self, obs, position: SkyCoord, radius: u.Quantity) -> bool:
        """Whether N (`n_off_regions` > 0) circles of ``radius`` on the wobble circle
        overlap the ON circle (gammapy checks this only for point-like ON regions)."""
        if self.n_off_regions == 0:
            return False  # the reflected-regions finder keeps them apart
        offset = obs.get_pointing_icrs(obs.tmid).separation(position)
        spacing = 2 * offset * np.sin(np.pi / (self.n_off_regions + 1))
        return bool(spacing < 2 * radius)

    def _maker(self, irf_type: str):
        from gammapy.makers import SpectrumDatasetMaker

        return SpectrumDatasetMaker(
            containment_correction=self.containment_correction and irf_type != "point-like",
            selection=["counts", "exposure", "edisp"],
            use_region_center=True,
        )

    def on_region(self, position: SkyCoord, irf_type: str, radius: u.Quantity | None = None):
        """Point (point-like IRFs: RAD_MAX) or circle of ``radius`` (full enclosure)."""
        from regions import CircleSkyRegion, PointSkyRegion

        if irf_type == "point-like":
            return PointSkyRegion(position)
        return CircleSkyRegion(position, radius=radius if radius is not None else self.theta_cut)

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
        return SpectralFit(
            self.spectral_model, model, success, message, self.energy_range(datasets)
        )

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
