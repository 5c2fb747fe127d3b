"""The third-party DL3 sampler (third_party.py) holds what it promises: gammapy reads
every IRF kind with the HDUs the index names, point-like IRFs carry RAD_MAX as a table
or as a header keyword, and the events are the same for every kind."""

import astropy.units as u
import numpy as np
import pytest


@pytest.mark.parametrize(
    ("kwargs", "hdus"),
    [
        ({}, {"events", "gti", "aeff", "edisp", "psf", "bkg"}),
        ({"kind": "point-like"}, {"events", "gti", "aeff", "edisp", "rad_max"}),
        (
            {"kind": "point-like", "rad_max": "fixed", "bkg": "2d"},
            {"events", "gti", "aeff", "edisp", "bkg"},
        ),
        ({"psf": "table", "bkg": "2d"}, {"events", "gti", "aeff", "edisp", "psf", "bkg"}),
    ],
)
def test_kinds_read_by_gammapy(third_party_dl3, kwargs, hdus):
    from gammapy.data import DataStore

    store = DataStore.from_dir(third_party_dl3(offsets=(0.5 * u.deg,), **kwargs))
    assert set(store.hdu_table["HDU_TYPE"]) == hdus
    obs = store.obs(100, required_irf=list(hdus - {"events", "gti"}))
    point_like = kwargs.get("kind") == "point-like"
    assert obs.aeff.is_pointlike == point_like
    assert (obs.rad_max is not None) == point_like
    for name in hdus - {"events", "gti", "rad_max"}:
        assert getattr(obs, name) is not None, name
    if kwargs.get("rad_max") == "fixed":
        assert obs.rad_max.is_fixed_rad_max
        assert obs.rad_max.quantity.to_value(u.deg).ravel()[0] == pytest.approx(0.12)
    if point_like:  # point-like area = full area x PSF containment < full area
        full = DataStore.from_dir(third_party_dl3(offsets=(0.5 * u.deg,))).obs(100).aeff
        ratio = (
            obs.aeff.evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg)
            / full.evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg)
        ).to_value(u.one)
        assert 0.6 < ratio < 0.999
    events = obs.events
    assert len(events.table) > 500
    pointing = obs.get_pointing_icrs(obs.tmid)
    assert pointing.separation(obs.events.radec).max() < 2.9 * u.deg
    # the events do not depend on the IRF kind
    first = DataStore.from_dir(third_party_dl3(offsets=(0.5 * u.deg,))).obs(100).events
    assert np.array_equal(first.energy, events.energy)
