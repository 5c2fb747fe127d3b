"""
1D (ON/OFF) spectral fit with gammapy on iactpipe DL3 files, and the spectrum injected
by the simulator, to check the chain end to end.

`injected_crab_model` (now in `iactpipe.analysis.spectrum`, re-exported here) gives the
simulator's source spectrum, the MAGIC Crab log-parabola, as a gammapy model. The
general analysis (any model, full-enclosure IRFs, flux points, light curves, upper
limits, several runs) is `iactpipe.analysis` and ``iactpipe-analysis``; this function is
the fixed-configuration check of the DL3 chain used by tests/dl3 and
benchmarks/dl3_crab_fit.py.

`fit_point_source_spectrum` is gammapy's analysis for point-like IRFs with an
energy-dependent theta cut: the ON region is a point whose radius is ``RAD_MAX``
(``SpectrumDatasetMaker(containment_correction=False)``, ``WobbleRegionsFinder`` OFF
regions of the same radius, ``WStat``), fitted with a log-parabola whose curvature is
fixed to the injected one (free amplitude and alpha) or free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ..analysis.spectrum import injected_crab_model

__all__ = ["SpectralFitResult", "fit_point_source_spectrum", "injected_crab_model"]


@dataclass
class SpectralFitResult:
    """Fitted vs injected parameters and the statistics of the ON/OFF dataset."""

    fitted: dict[str, tuple[float, float]]
    injected: dict[str, float]
    n_on: int
    n_off: float
    alpha_off: float
    excess: float
    live_time: u.Quantity
    energy_range: tuple[u.Quantity, u.Quantity]
    success: bool
    pulls: dict[str, float] = field(default_factory=dict)
    datasets: object = None

    def summary(self) -> str:
        """Human-readable table of injected vs fitted values."""
        lines = [
            f"live time {self.live_time.to_value(u.s):.1f} s, fit range "
            f"{self.energy_range[0].to_value(u.TeV):.2f}-{self.energy_range[1].to_value(u.TeV):.1f}"
            f" TeV (reco), N_on {self.n_on}, N_off {self.n_off:.0f} (alpha "
            f"{self.alpha_off:.3f}), excess {self.excess:.1f}, fit success {self.success}",
        ]
        for name, (value, error) in self.fitted.items():
            lines.append(f"  {name:10s} injected {self.injected[name]:.4g}  fitted {value:.4g} "
                         f"+- {error:.2g}  pull {self.pulls[name]:+.2f} sigma")  # fmt: skip
        return "\n".join(lines)


def fit_point_source_spectrum(
    dl3_dir: Path | str,
    source: SkyCoord,
    source_flux_scale: float,
    reference: u.Quantity = 5 * u.TeV,
    energy_range: tuple[u.Quantity, u.Quantity] = (3 * u.TeV, 60 * u.TeV),
    true_energy_range: tuple[u.Quantity, u.Quantity] = (1 * u.TeV, 100 * u.TeV),
    free_beta: bool = False,
    n_off_regions: int = 1,
) -> SpectralFitResult:
    """
    ON/OFF log-parabola fit on the point-like DL3 files of ``dl3_dir``.

    Parameters
    ----------
    dl3_dir : Path or str
        Directory with DL3 files and the index files (``iactpipe-index``).
    source : SkyCoord
        Source position (centre of the ON region).
    source_flux_scale : float
        Injected flux in MAGIC Crab units (``ObservationRun.source_flux_scale``).
    reference : Quantity
        Reference energy of the fitted and injected models.
    energy_range : tuple of Quantity
        Reconstructed-energy range of the fit (the IRFs' valid range, above the
        threshold and inside the gammaness-cut range).
    true_energy_range : tuple of Quantity
        True-energy axis of the dataset (NaN effective area outside the simulated
        range counts as 0).
    free_beta : bool
        Fit the curvature too (default: fixed to the injected one).
    n_off_regions : int
        OFF regions of ``WobbleRegionsFinder``.

    Returns
    -------
    SpectralFitResult
    """
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        WobbleRegionsFinder,
    )
    from gammapy.maps import MapAxis, RegionGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import SkyModel
    from regions import PointSkyRegion

    store = DataStore.from_dir(dl3_dir)
    observations = store.get_observations(required_irf="point-like")
    lo, hi = (e.to(u.TeV) for e in energy_range)
    energy_axis = MapAxis.from_energy_bounds(0.5 * u.TeV, 200 * u.TeV, nbin=5,
                                             per_decade=True, name="energy")  # fmt: skip
    true_axis = MapAxis.from_energy_bounds(*true_energy_range, nbin=10, per_decade=True,
                                           name="energy_true")  # fmt: skip
    geom = RegionGeom.create(region=PointSkyRegion(source), axes=[energy_axis])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=true_axis)
    maker = SpectrumDatasetMaker(containment_correction=False,
                                 selection=["counts", "exposure", "edisp"])  # fmt: skip
    background = ReflectedRegionsBackgroundMaker(
        region_finder=WobbleRegionsFinder(n_off_regions=n_off_regions)
    )
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=1)
    datasets, live = Datasets(), 0 * u.s
    for obs in observations:
        dataset = maker.run(empty.copy(name=f"obs{obs.obs_id}"), obs)
        dataset.exposure.data = np.nan_to_num(dataset.exposure.data)
        dataset.edisp.edisp_map.data = np.nan_to_num(dataset.edisp.edisp_map.data)
        dataset.edisp.exposure_map.data = np.nan_to_num(dataset.edisp.exposure_map.data)
        on_off = background.run(dataset, obs)
        on_off = safe.run(on_off, obs)
        on_off.mask_fit = on_off.counts.geom.energy_mask(energy_min=lo, energy_max=hi)
        datasets.append(on_off)
        live += obs.observation_live_time_duration
    model = injected_crab_model(source_flux_scale, reference)
    injected = {"amplitude": model.amplitude.value, "alpha": model.alpha.value,
                "beta": model.beta.value}  # fmt: skip
    fit_model = model.copy()
    fit_model.amplitude.value *= 0.7  # start away from the truth
    fit_model.alpha.value += 0.3
    fit_model.beta.frozen = not free_beta
    datasets.models = [SkyModel(spectral_model=fit_model, name="source")]
    result = Fit().run(datasets)
    names = ["amplitude", "alpha"] + (["beta"] if free_beta else [])
    fitted = {n: (fit_model.parameters[n].value, fit_model.parameters[n].error) for n in names}
    pulls = {n: (v - injected[n]) / e if e > 0 else np.inf for n, (v, e) in fitted.items()}
    n_on = n_off = excess = 0.0
    alphas = []
    for ds in datasets:  # sums over the fit bins (no stacking: 0 OFF counts make NaN)
        mask = ds.mask.data
        n_on += float(ds.counts.data[mask].sum())
        n_off += float(ds.counts_off.data[mask].sum())
        excess += float(ds.excess.data[mask].sum())
        alphas.extend(ds.alpha.data[mask].ravel())
    alpha_off = float(np.nanmean(alphas)) if alphas else np.nan
    return SpectralFitResult(fitted, {n: injected[n] for n in names}, int(n_on), n_off, alpha_off,
                             excess, live.to(u.s), (lo, hi), bool(result.success), pulls,
                             datasets)  # fmt: skip
