"""
Sky maps around the target: counts, background, excess and Li & Ma significance maps
and a TS map, with a field-of-view background (gammapy ``FoVBackgroundMaker``: the
acceptance template of each run scaled to its counts outside the exclusion regions) or
a ring background (``RingBackgroundMaker``), then ``ExcessMapEstimator`` and
``TSMapEstimator``.

The acceptance template is the background IRF of the runs (``background_model="irf"``)
or a model made from the runs' own events (``"data"``,
`iactpipe.analysis.acceptance`); ``"auto"`` takes the IRF where every run has one and
the data otherwise (point-like DL3 of pyirf, lstchain, MAGIC carry no background). An
IRF background with empty (0 or NaN) bins in the map (small simulated productions) is
replaced by a flat acceptance. The maps are in one reconstructed-energy bin over the
spectral analysis's range; their size is set by the runs' field of view unless given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from ctapipe.core import Component
from ctapipe.core.traits import Bool, CaselessStrEnum, ComponentName

from ..io.traits import BoundedQuantity
from .acceptance import BackgroundAcceptanceModel

__all__ = ["SkyMapAnalysis", "SkyMaps", "map_width"]


@dataclass
class SkyMaps:
    """gammapy maps (2D after reducing the energy axis), exclusion mask and what was done."""

    counts: object
    background: object
    excess: object
    significance: object
    exclusion: object
    ts: object = None
    method: str = "fov"
    background_model: str = "irf"
    notes: list = field(default_factory=list)

    def peak(self) -> dict:
        """Position and value of the highest significance (for the summary)."""
        data = np.where(np.isfinite(self.significance.data), self.significance.data, -np.inf)
        idx = np.unravel_index(np.argmax(data), data.shape)
        coord = self.significance.geom.pix_to_coord(idx[::-1])
        pos = SkyCoord(coord[0], coord[1], unit="deg", frame="icrs")
        return {
            "ra_deg": float(pos.ra.deg),
            "dec_deg": float(pos.dec.deg),
            "significance": float(data[idx]),
        }

    def info(self) -> dict:
        """Method, acceptance, map size, TS-map peak and notes (for the summary)."""
        geom = self.significance.geom
        ts_max = None
        if self.ts is not None and np.any(np.isfinite(self.ts.data)):
            ts_max = float(np.nanmax(self.ts.data))
        return {
            "method": self.method,
            "background_model": self.background_model,
            "width_deg": float(geom.width[0][0].to_value(u.deg)),
            "sqrt_ts_max": ts_max,
            "notes": list(self.notes),
        }


def map_width(observations, position: SkyCoord, offset_max: u.Quantity) -> u.Quantity:
    """Width covering every run's field of view (``offset_max`` around each pointing)."""
    offsets = [obs.get_pointing_icrs(obs.tmid).separation(position) for obs in observations]
    return 2 * (max(offsets, default=0 * u.deg) + offset_max).to(u.deg)


class SkyMapAnalysis(Component):
    """FoV- or ring-background counts, excess, significance and TS maps."""

    method = CaselessStrEnum(
        ["fov", "ring"],
        default_value="fov",
        help="Background of the maps: fov (acceptance template scaled to each run's counts "
        "outside the exclusion regions) or ring (template-weighted ring around each pixel)",
    ).tag(config=True)
    background_model = CaselessStrEnum(
        ["auto", "irf", "data"],
        default_value="auto",
        help="Acceptance template: the background IRF, a model made from the runs' events "
        "(data), or auto (the IRF where every run has one, else data)",
    ).tag(config=True)
    acceptance_model_type = ComponentName(
        BackgroundAcceptanceModel,
        default_value="RadialBackgroundAcceptanceModel",
        help="Acceptance model made from the runs when the background model is data",
    ).tag(config=True)
    width = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=None,
        allow_none=True,
        physical_type=u.physical.angle,
        help="Width (and height) of the map centred on the target; default: the runs' "
        "field of view (offset_max around every pointing)",
    ).tag(config=True)
    bin_size = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=0.02 * u.deg,
        physical_type=u.physical.angle,
        help="Pixel size",
    ).tag(config=True)
    ring_inner_radius = BoundedQuantity(
        min=0 * u.deg,
        default_value=0.5 * u.deg,
        physical_type=u.physical.angle,
        help="Inner radius of the background ring",
    ).tag(config=True)
    ring_width = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=0.3 * u.deg,
        physical_type=u.physical.angle,
        help="Width of the background ring",
    ).tag(config=True)
    exclusion_radius = BoundedQuantity(
        min=0 * u.deg,
        default_value=0.3 * u.deg,
        physical_type=u.physical.angle,
        help="Radius of the region around the target excluded from the background (used "
        "when no exclusion mask is given)",
    ).tag(config=True)
    correlation_radius = BoundedQuantity(
        min=0 * u.deg,
        default_value=0.1 * u.deg,
        physical_type=u.physical.angle,
        help="Top-hat correlation radius of the excess and significance maps",
    ).tag(config=True)
    offset_max = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=2.0 * u.deg,
        physical_type=u.physical.angle,
        help="Pixels farther than this from a run's pointing are not used for that run",
    ).tag(config=True)
    ts_map = Bool(True, help="Compute a TS map (gammapy TSMapEstimator)").tag(config=True)
    ts_kernel_sigma = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=0.1 * u.deg,
        physical_type=u.physical.angle,
        help="Sigma of the Gaussian source kernel of the TS map",
    ).tag(config=True)

    def geom(self, position: SkyCoord, energy_range, width=None):
        """One-energy-bin WCS geometry centred on ``position``."""
        from gammapy.maps import MapAxis, WcsGeom

        axis = MapAxis.from_energy_edges(u.Quantity(energy_range), name="energy")
        width = self.width if self.width is not None else width
        width = 2.5 * u.deg if width is None else width
        # an even number of pixels: the TS map pads the map symmetrically
        npix = int(2 * np.ceil((width / self.bin_size).to_value(u.one) / 2))
        return WcsGeom.create(
            skydir=position, npix=npix, binsz=self.bin_size, frame="icrs", axes=[axis]
        )

    def exclusion_mask(self, geom, position: SkyCoord):
        """True where the background may be taken (outside the target's circle)."""
        from regions import CircleSkyRegion

        return ~geom.region_mask([CircleSkyRegion(position, radius=self.exclusion_radius)])

    def acceptance(self, observations, exclusion, notes: list):
        """The observations with the chosen acceptance template, and its name."""
        has_bkg = all(obs.bkg is not None for obs in observations)
        choice = self.background_model
        if choice == "auto":
            choice = "irf" if has_bkg else "data"
        if choice == "irf":
            if not has_bkg:
                notes.append(
                    "runs without background IRF: flat acceptance (set "
                    "background_model data for a model made from the runs)"
                )
            return observations, "irf"
        model = BackgroundAcceptanceModel.from_name(self.acceptance_model_type, parent=self)
        acceptance = model(observations, exclusion)
        notes.append(
            f"acceptance made from the runs ({self.acceptance_model_type}, "
            f"{len(acceptance.models)} zenith bins)"
        )
        return acceptance.attach(observations), "data"

    def __call__(self, observations, position: SkyCoord, energy_range, exclusion=None) -> SkyMaps:
        """
        Maps of ``observations`` around ``position`` in ``energy_range``; ``exclusion``
        (a gammapy boolean map, True where the background may be taken, or a function of
        a geometry returning one) defaults to a circle of ``exclusion_radius`` around the
        target.
        """
        from gammapy.estimators import ExcessMapEstimator

        observations = list(observations)
        geom = self.geom(position, energy_range, map_width(observations, position, self.offset_max))
        if exclusion is None:
            exclusion = self.exclusion_mask(geom, position)
        else:
            if callable(exclusion):  # a function of the geometry (analysis.exclusion)
                exclusion = exclusion(geom.to_image())
            # outside the given mask nothing is excluded
            mask = exclusion.interp_to_geom(geom.to_image(), fill_value=1, method="nearest")
            exclusion = mask > 0.5
        notes = []
        observations, background_model = self.acceptance(observations, exclusion, notes)
        stacked = self._stack(observations, geom, exclusion, notes)
        if self.method == "ring":
            from gammapy.makers import RingBackgroundMaker

            ring = RingBackgroundMaker(
                r_in=self.ring_inner_radius, width=self.ring_width, exclusion_mask=exclusion
            )
            dataset = ring.run(stacked.to_image())
        else:
            dataset = stacked
        estimator = ExcessMapEstimator(
            correlation_radius=self.correlation_radius, selection_optional=[]
        )
        result = estimator.run(dataset)
        significance = result["sqrt_ts"].sum_over_axes(keepdims=False)
        # pixels at the map edge without acceptance give inf: no information there
        significance.data[~np.isfinite(significance.data)] = np.nan
        ts = self._ts_map(stacked, notes) if self.method == "fov" else None
        if ts is None and self.ts_map and self.method == "ring":
            notes.append("no TS map with the ring background (it needs a background model)")
        for note in notes:
            self.log.info("sky maps: %s", note)
        return SkyMaps(
            counts=stacked.counts.sum_over_axes(keepdims=False),
            background=dataset.npred_background().sum_over_axes(keepdims=False),
            excess=result["npred_excess"].sum_over_axes(keepdims=False),
            significance=significance,
            exclusion=exclusion.sum_over_axes(keepdims=False) if exclusion.geom.axes else exclusion,
            ts=ts,
            method=self.method,
            background_model=background_model,
            notes=notes,
        )

    def _stack(self, observations, geom, exclusion, notes: list):
        """Counts, background (and exposure for the TS map) of all runs, stacked."""
        from gammapy.datasets import MapDataset
        from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker

        stacked = MapDataset.create(geom=geom, name="stacked")
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=self.offset_max)
        for obs in observations:
            selection = ["counts"]
            selection += ["background"] if obs.bkg is not None else []
            selection += ["exposure"] if (self.ts_map and obs.aeff is not None) else []
            pointing = obs.get_pointing_icrs(obs.tmid)
            cutout = stacked.cutout(pointing, width=2 * self.offset_max)
            try:
                dataset = MapDatasetMaker(selection=selection).run(cutout, obs)
            except (IndexError, ValueError) as err:
                if "exposure" not in selection:
                    raise
                # e.g. an effective area with one offset bin, which gammapy cannot
                # project on a map: maps without exposure, hence without TS map
                notes.append(f"obs {obs.obs_id}: no exposure map from its IRF ({err})")
                selection.remove("exposure")
                dataset = MapDatasetMaker(selection=selection).run(cutout, obs)
            background = dataset.background.data
            if not (np.all(np.isfinite(background)) and np.all(background > 0)):
                self.log.info("obs %d: no usable background template, flat acceptance", obs.obs_id)
                dataset.background.data = np.ones(background.shape)
            dataset = safe.run(dataset, obs)
            if self.method == "fov":
                mask = exclusion.cutout(pointing, width=2 * self.offset_max)
                maker = FoVBackgroundMaker(method="scale", exclusion_mask=mask)
                dataset = maker.run(dataset)
            stacked.stack(dataset)
        return stacked

    def _ts_map(self, stacked, notes: list):
        """sqrt(TS) map of a Gaussian source on the FoV background, or None (noted)."""
        from gammapy.estimators import TSMapEstimator
        from gammapy.modeling.models import (
            GaussianSpatialModel,
            PowerLawSpectralModel,
            SkyModel,
        )

        if not self.ts_map:
            return None
        if any("no exposure map" in note for note in notes):
            notes.append("no TS map: not every run has an exposure map")
            return None
        if not np.any(stacked.exposure.data > 0):
            notes.append("no TS map: the IRFs give no exposure (effective area) in the map")
            return None
        kernel = SkyModel(
            spectral_model=PowerLawSpectralModel(index=2.5),
            spatial_model=GaussianSpatialModel(sigma=self.ts_kernel_sigma),
        )
        # TS fitted on pixels of about the kernel's sigma (the cost is one fit per pixel)
        # (gammapy pads the map to a multiple of 8 pixels: a power of 2 up to 8)
        target = (self.ts_kernel_sigma / self.bin_size).to_value(u.one)
        factor = int(min(8, 2 ** max(0, int(np.floor(np.log2(max(target, 1)))))))
        estimator = TSMapEstimator(
            kernel_model=kernel,
            downsampling_factor=factor,
            selection_optional=[],
            sum_over_energy_groups=True,
        )
        # no PSF and no energy dispersion were made for the maps (their empty kernels
        # would zero the source model): the Gaussian kernel stands for the PSF-convolved
        # source and reconstructed energy for true energy in the one-bin map
        dataset = stacked.copy(name="ts")
        dataset.psf, dataset.edisp = None, None
        try:
            result = estimator.run(dataset)
        except (ValueError, RuntimeError) as err:
            notes.append(f"no TS map: {err}")
            return None
        return result["sqrt_ts"].sum_over_axes(keepdims=False)
