"""The toy simulator observes showers from the site height of `iactpipe.instrument`."""

import astropy.units as u
import numpy as np
import pytest
from traitlets.config import Config

from iactpipe.instrument import ONDREJOV_HEIGHT_M, ONDREJOV_LOCATION
from iactpipe.simulation import ToySimulationSource


def _heights_and_pe(height_m=None):
    """Heights the renderer is given, total true p.e. and ``prod_site_alt`` of 20 showers."""
    generator = {"n_showers": 20, "max_scatter_radius": 150 * u.m, "energy_min": 3 * u.TeV}
    if height_m is not None:
        generator["observatory_height_m"] = height_m
    source = ToySimulationSource(config=Config({"ShowerGenerator": generator}), seed=3)
    render, heights, pe = source.image_model, [], []

    class Spy:
        def __call__(self, rng, batch, i, positions, obs_height_m, min_pe, setup=None):
            heights.append(obs_height_m)
            images = render(rng, batch, i, positions, obs_height_m, min_pe, setup)
            pe.append(images.pe.sum())
            return images

        def cascade_setup(self, batch, positions, obs_height_m):
            heights.append(obs_height_m)
            return render.cascade_setup(batch, positions, obs_height_m)

        def may_render(self, batch, positions, obs_height_m, min_pe):
            heights.append(obs_height_m)
            return render.may_render(batch, positions, obs_height_m, min_pe)

    source.image_model = Spy()
    list(source)
    alt = source.simulation_config[source.obs_id].prod_site_alt
    return set(heights), np.array(pe), alt


def test_simulator_uses_site_height_and_its_override():
    site = ONDREJOV_HEIGHT_M
    assert ONDREJOV_LOCATION.height.to_value(u.m) == pytest.approx(site, abs=1e-6)
    heights, pe_site, alt = _heights_and_pe()
    assert heights == {site} and site == pytest.approx(511.195)
    assert alt.to_value(u.m) == pytest.approx(site)
    heights, pe_high, alt = _heights_and_pe(2200.0)
    assert heights == {2200.0} and alt.to_value(u.m) == 2200.0
    # the same showers seen 1.7 km higher (closer to the maximum) give other images
    assert pe_high.shape == pe_site.shape and not np.allclose(pe_high, pe_site)
