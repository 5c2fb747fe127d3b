"""Pointing grids of MC productions: explicit nodes and declination lines (vs astropy)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, SkyCoord
from astropy.time import Time
from traitlets.config import Config

from iactpipe.instrument import ONDREJOV_LOCATION
from iactpipe.workflow.production import PointingGrid, declination_line


def test_declination_line_matches_astropy():
    """The Crab's declination at Ondřejov: the nodes are where astropy puts the source."""
    dec = 22.0145 * u.deg
    lat = ONDREJOV_LOCATION.lat
    nodes = declination_line(dec, [30.0, 40.0] * u.deg, lat)
    assert len(nodes) == 4
    time = Time("2024-01-10T21:00:00")
    lst = time.sidereal_time("apparent", longitude=ONDREJOV_LOCATION.lon)
    frame = AltAz(obstime=time, location=ONDREJOV_LOCATION)
    for zenith, azimuth in nodes:
        cos_h = (np.cos(zenith) - np.sin(lat) * np.sin(dec)) / (np.cos(lat) * np.cos(dec))
        hour = np.arccos(cos_h.value) * u.rad * (1 if azimuth > 180 * u.deg else -1)
        source = SkyCoord(ra=lst - hour, dec=dec, frame="fk5", equinox=time)
        altaz = source.transform_to(frame)
        # no refraction; nutation, aberration and polar motion: < 0.05 deg
        assert (90 * u.deg - altaz.alt).to_value(u.deg) == pytest.approx(zenith.value, abs=0.05)
        assert altaz.az.to_value(u.deg) == pytest.approx(azimuth.value, abs=0.1)


def test_declination_line_skips_unreached_zeniths_and_culminates_once():
    lat = ONDREJOV_LOCATION.lat
    culmination = abs(lat - 22 * u.deg)
    zeniths = u.Quantity([culmination - 1 * u.deg, 70 * u.deg, 89 * u.deg])
    nodes = declination_line(22 * u.deg, zeniths, lat)
    assert all(z > culmination - 1e-6 * u.deg for z, _ in nodes)
    single = declination_line(22 * u.deg, culmination, lat)
    assert len(single) == 1 and single[0][1].to_value(u.deg) == pytest.approx(180.0)


def test_pointing_grid_nodes_and_simulation_configs():
    nodes = [[40, 0], [20, 360], [20, 0]]
    grid = PointingGrid(config=Config({"PointingGrid": {"nodes": nodes}}))
    names = list(grid.simulation_configs({"particle": "gamma"}))
    assert names == ["zd20_az000/nsb_dark", "zd40_az000/nsb_dark"]
    config = grid.simulation_configs()["zd40_az000/nsb_dark"]
    assert config == {"zenith": "40.000 deg", "azimuth": "0.000 deg"}
    line = PointingGrid(config=Config({"PointingGrid": {"declination": "22 deg"}}))
    # the Crab culminates at 28 deg at Ondřejov: the 20 deg node does not exist
    assert [z.to_value(u.deg) for z, _ in line.pointings()] == [40.0, 40.0]
    both = Config({"PointingGrid": {"declination": "22 deg", "nodes": [[20, 0]]}})
    with pytest.raises(ValueError, match="either nodes or declination"):
        PointingGrid(config=both).pointings()
