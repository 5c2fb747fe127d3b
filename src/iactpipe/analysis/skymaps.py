"""
Sky maps around the target: counts, excess and Li & Ma significance with a ring
background (gammapy ``RingBackgroundMaker`` + ``ExcessMapEstimator``), with an
exclusion mask around the target.

The ring background needs only the relative acceptance across the field of view,
which the background IRF gives; runs without a background IRF, or whose background
IRF has empty (0 or NaN) bins in the map (small simulated productions), get a flat
acceptance, which is a fair approximation within about 1 deg of the
centre of a wide camera. The maps are in one reconstructed-energy bin over the
spectral analysis's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity

__all__ = ["SkyMapAnalysis", "SkyMaps"]


@dataclass
class SkyMaps:
    """gammapy maps (2D after reducing the energy axis) and the exclusion mask."""

    counts: object
    background: object
    excess: object
    significance: object
    exclusion: object

    def peak(self) -> dict:
        """Position and value of the highest significance (for the summary)."""
        data = np.where(np.isfinite(self.significance.data), self.significance.data, -np.inf)
        idx = np.unravel_index(np.argmax(data), data.shape)
        coord = self.significance.geom.pix_to_coord(idx[::-1])
        pos = SkyCoord(coord[0], coord[1], unit="deg", frame="icrs")
        return {"ra_deg": float(pos.ra.deg), "dec_deg": float(pos.dec.deg),
                "significance": float(data[idx])}  # fmt: skip


class SkyMapAnalysis(Component):
    """Ring-background counts, excess and significance maps."""

    width = AstroQuantity(
        default_value=2.5 * u.deg, physical_type=u.physical.angle,
        help="Width (and height) of the map centred on the target",
    ).tag(config=True)  # fmt: skip
    bin_size = AstroQuantity(
        default_value=0.02 * u.deg, physical_type=u.physical.angle, help="Pixel size"
    ).tag(config=True)
    ring_inner_radius = AstroQuantity(
        default_value=0.5 * u.deg, physical_type=u.physical.angle,
        help="Inner radius of the background ring",
    ).tag(config=True)  # fmt: skip
    ring_width = AstroQuantity(
        default_value=0.3 * u.deg, physical_type=u.physical.angle,
        help="Width of the background ring",
    ).tag(config=True)  # fmt: skip
    exclusion_radius = AstroQuantity(
        default_value=0.3 * u.deg, physical_type=u.physical.angle,
        help="Radius of the region around the target excluded from the background ring",
    ).tag(config=True)  # fmt: skip
    correlation_radius = AstroQuantity(
        default_value=0.1 * u.deg, physical_type=u.physical.angle,
        help="Top-hat correlation radius of the excess and significance maps",
    ).tag(config=True)  # fmt: skip
    offset_max = AstroQuantity(
        default_value=2.0 * u.deg, physical_type=u.physical.angle,
        help="Pixels farther than this from a run's pointing are not used for that run",
    ).tag(config=True)  # fmt: skip

    def geom(self, position: SkyCoord, energy_range):
        """One-energy-bin WCS geometry centred on ``position``."""
        from gammapy.maps import MapAxis, WcsGeom

        axis = MapAxis.from_energy_edges(u.Quantity(energy_range), name="energy")
        return WcsGeom.create(skydir=position, width=self.width, binsz=self.bin_size,
                              frame="icrs", axes=[axis])  # fmt: skip

    def exclusion_mask(self, geom, position: SkyCoord):
        """True where the ring may take background (outside the target's circle)."""
        from regions import CircleSkyRegion

        return ~geom.region_mask([CircleSkyRegion(position, radius=self.exclusion_radius)])

    def __call__(self, observations, position: SkyCoord, energy_range, exclusion=None):
        """
        Stacked counts and acceptance of all runs, then ring background and estimator;
        ``exclusion``: a function of a geometry giving the exclusion mask (default: the
        circle of `exclusion_radius` around ``position``).
        """
        from gammapy.datasets import MapDataset
        from gammapy.estimators import ExcessMapEstimator
        from gammapy.makers import MapDatasetMaker, RingBackgroundMaker, SafeMaskMaker

        geom = self.geom(position, energy_range)
        if exclusion is None:
            exclusion = self.exclusion_mask(geom, position)
        else:
            exclusion = exclusion(geom)
        stacked = MapDataset.create(geom=geom, name="stacked")
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=self.offset_max)
        for obs in observations:
            selection = ["counts", "background"] if obs.bkg is not None else ["counts"]
            cutout = stacked.cutout(obs.get_pointing_icrs(obs.tmid), width=2 * self.offset_max)
            dataset = MapDatasetMaker(selection=selection).run(cutout, obs)
            bkg = dataset.background
            usable = bkg is not None and np.all(np.isfinite(bkg.data)) and np.all(bkg.data > 0)
            if not usable:
                self.log.info("obs %d: no usable background IRF, flat acceptance", obs.obs_id)
                dataset.background = dataset.counts.copy(data=np.ones(dataset.counts.data.shape))
            stacked.stack(safe.run(dataset, obs))
        ring = RingBackgroundMaker(r_in=self.ring_inner_radius, width=self.ring_width,
                                   exclusion_mask=exclusion)  # fmt: skip
        on_off = ring.run(stacked.to_image())
        estimator = ExcessMapEstimator(correlation_radius=self.correlation_radius,
                                       selection_optional=[])  # fmt: skip
        result = estimator.run(on_off)
        significance = result["sqrt_ts"].sum_over_axes(keepdims=False)
        # pixels at the map edge without ring acceptance give inf: no information there
        significance.data[~np.isfinite(significance.data)] = np.nan
        return SkyMaps(counts=stacked.counts.sum_over_axes(keepdims=False),
                       background=on_off.background.sum_over_axes(keepdims=False),
                       excess=result["npred_excess"].sum_over_axes(keepdims=False),
                       significance=significance,
                       exclusion=exclusion.sum_over_axes(keepdims=False))  # fmt: skip
