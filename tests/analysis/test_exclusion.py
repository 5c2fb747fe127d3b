"""Exclusion regions (target with its extension, catalogue sources in the field, region
files) and the number of reflected OFF regions that fit, against geometry done here."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from iactpipe.analysis import CATALOGUE, ExclusionRegions, Target
from iactpipe.analysis.spectrum import n_reflected_that_fit

MRK421 = CATALOGUE["mrk421"].position


def _geom(center, width=4):
    from gammapy.maps import WcsGeom

    return WcsGeom.create(skydir=center, width=width * u.deg, binsz=0.02, frame="icrs")


def _masked(mask, position) -> bool:
    """True where ``position`` is excluded (gammapy masks: True = usable)."""
    return not bool(mask.get_by_coord({"skycoord": position})[0])


def test_target_catalogue_and_file(tmp_path):
    target = Target("alert", MRK421.directional_offset_by(0 * u.deg, 1.2 * u.deg))
    far = MRK421.directional_offset_by(0 * u.deg, 1.2 * u.deg + 0.45 * u.deg)
    box = MRK421.directional_offset_by(180 * u.deg, 1.0 * u.deg)
    path = tmp_path / "exclude.reg"
    path.write_text(f"icrs\ncircle({box.ra.deg},{box.dec.deg},0.2)\n")
    exclusion = ExclusionRegions(target_extension=0.2 * u.deg, regions_file=path)
    mask = exclusion.mask(_geom(target.position, 5), target)
    assert _masked(mask, target.position.directional_offset_by(0 * u.deg, 0.45 * u.deg))
    assert not _masked(mask, far.directional_offset_by(0 * u.deg, 0.1 * u.deg))
    assert _masked(mask, MRK421) and _masked(mask, box)
    free = MRK421.directional_offset_by(90 * u.deg, 0.5 * u.deg)
    assert not _masked(mask, free)
    # without the catalogue, Mrk 421 is usable background
    mask = ExclusionRegions(use_catalogue=False).mask(_geom(target.position, 5), target)
    assert not _masked(mask, MRK421)


def test_bad_region_file(tmp_path):
    path = tmp_path / "bad.reg"
    path.write_text("image\ncircle(10,10,3)\n")
    with pytest.raises(ValueError, match="pixel coordinates"):
        ExclusionRegions(regions_file=path).regions(Target("x", MRK421), MRK421, 2 * u.deg)


@pytest.mark.parametrize(("offset", "radius"), [(0.5, 0.1), (0.7, 0.14), (0.4, 0.3), (0.5, 0.6)])
def test_n_reflected_that_fit(offset, radius):
    """n + 1 circles of ``radius`` on the wobble circle do not overlap (chord >= 2 r),
    n + 2 would."""
    n = n_reflected_that_fit(offset * u.deg, radius * u.deg)
    chord = lambda k: 2 * offset * np.sin(np.pi / k)  # noqa: E731
    if radius >= offset:
        assert n == 0
        return
    assert chord(n + 1) >= 2 * radius
    assert chord(n + 2) < 2 * radius * (1 + 1e-6)


def test_position_far_from_everything_is_free():
    target = Target("x", SkyCoord(10, -60, unit="deg"))
    regions = ExclusionRegions().regions(target, target.position, 3 * u.deg)
    assert len(regions) == 1  # the target only
