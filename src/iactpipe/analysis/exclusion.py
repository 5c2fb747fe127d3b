"""
Exclusion regions: sky regions that may hold gamma rays and so must not give background,
used alike by the reflected OFF regions, the ring background of the sky maps and the
background acceptance model made from the runs.

- the target: a circle of ``target_radius`` plus the target's extension (its size when
  extended: ``target_extension``);
- the known sources of the offline catalogue (`iactpipe.analysis.targets.CATALOGUE`)
  inside the field of view, circles of ``source_radius``;
- the regions of a file in any format the ``regions`` package reads (DS9 ``.reg``,
  CRTF, FITS region tables), in sky coordinates.

A mask follows gammapy's convention: True where a pixel may be used for background.
"""

from __future__ import annotations

import astropy.units as u
from astropy.coordinates import SkyCoord
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity, Bool, Path

from .targets import CATALOGUE, Target

__all__ = ["ExclusionRegions", "exclusion_mask", "read_regions"]


def read_regions(path) -> list:
    """
    Sky regions of a region file (``regions.Regions.read``; format from the suffix).

    Raises
    ------
    ValueError
        The file cannot be read, or holds pixel regions (which have no sky position).
    """
    from regions import Regions, SkyRegion

    try:
        regions = Regions.read(str(path))
    except Exception as err:  # the regions package raises many kinds for a bad file
        raise ValueError(f"{path}: not a region file the regions package reads ({err})") from err
    pixel = [r for r in regions if not isinstance(r, SkyRegion)]
    if pixel:
        raise ValueError(f"{path}: {len(pixel)} regions in pixel coordinates; give sky regions")
    return list(regions)


def exclusion_mask(geom, regions: list):
    """gammapy boolean map of ``geom`` (image only): False inside any of ``regions``."""
    from gammapy.maps import Map

    image = geom.to_image()
    if not regions:
        return Map.from_geom(image, data=True, dtype=bool)
    return image.region_mask(regions, inside=False)


class ExclusionRegions(Component):
    """The target, catalogue sources in the field and the regions of a file."""

    target_radius = AstroQuantity(
        default_value=0.3 * u.deg,
        physical_type=u.physical.angle,
        help="Radius excluded around the target, on top of its extension",
    ).tag(config=True)
    target_extension = AstroQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        help="Size (radius) of an extended target, added to target_radius",
    ).tag(config=True)
    use_catalogue = Bool(
        True, help="Exclude the known sources of the offline catalogue inside the field"
    ).tag(config=True)
    source_radius = AstroQuantity(
        default_value=0.3 * u.deg,
        physical_type=u.physical.angle,
        help="Radius excluded around each catalogue source in the field",
    ).tag(config=True)
    regions_file = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="Extra exclusion regions: a file of sky regions (DS9, CRTF or FITS, "
        "the regions package's formats)",
    ).tag(config=True)

    def target_region(self, target: Target):
        """Circle of ``target_radius + target_extension`` around the target."""
        from regions import CircleSkyRegion

        return CircleSkyRegion(target.position, radius=self.target_radius + self.target_extension)

    def regions(self, target: Target, center: SkyCoord, radius: u.Quantity) -> list:
        """
        Exclusion regions within ``radius`` of ``center`` (catalogue sources by their
        position; file regions by their centre, or all when they have none).
        """
        from regions import CircleSkyRegion

        out = [self.target_region(target)]
        if self.use_catalogue:
            seen = {target.name}
            for source in CATALOGUE.values():
                near = source.position.separation(center) < radius + self.source_radius
                same = source.position.separation(target.position) < 1e-3 * u.deg
                if source.name not in seen and near and not same:
                    seen.add(source.name)
                    out.append(CircleSkyRegion(source.position, radius=self.source_radius))
        if self.regions_file is not None:
            for region in read_regions(self.regions_file):
                centre = getattr(region, "center", None)
                if centre is None or centre.separation(center) < radius + 5 * u.deg:
                    out.append(region)
        return out

    def mask(self, geom, target: Target):
        """Exclusion mask (True: usable for background) of a gammapy geometry."""
        image = geom.to_image()
        radius = max(image.width.max() / 2, 0.1 * u.deg) * 1.5
        return exclusion_mask(image, self.regions(target, image.center_skydir, radius))

    def names(self, target: Target, center: SkyCoord, radius: u.Quantity) -> list[str]:
        """Readable description of each region (for the summary and the report)."""
        out = []
        for region in self.regions(target, center, radius):
            pos = getattr(region, "center", None)
            size = getattr(region, "radius", None)
            where = "" if pos is None else f"RA {pos.icrs.ra.deg:.3f} Dec {pos.icrs.dec.deg:+.3f}"
            r = "" if size is None else f", r = {size.to_value(u.deg):.2f} deg"
            out.append(f"{type(region).__name__} {where}{r}")
        return out
