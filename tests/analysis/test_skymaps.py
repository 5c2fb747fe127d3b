"""
Sky maps of an extended source (a Gaussian of sigma 0.2 deg with the Crab's spectrum)
in third-party DL3 (two 6 min runs at 0.7 deg wobble sampled by gammapy from the prod5
IRFs, tests/analysis/third_party.py): iactpipe's FoV-background maps against a gammapy
reference script written here (same exclusion, FoVBackgroundMaker, ExcessMapEstimator);
the point-like variant of the same events (no background IRF) gets the acceptance
model made from the runs automatically.
"""

import astropy.units as u
import numpy as np
import pytest
from regions import CircleSkyRegion

from iactpipe.analysis import SkyMapAnalysis, map_width

from .third_party import SOURCE

OFFSETS = (0.7 * u.deg,) * 2
LIVETIME = 6 * u.min  # two long runs cost half the sampling of four short ones
ENERGY_RANGE = (0.3 * u.TeV, 100 * u.TeV)
EXCLUSION_RADIUS = 0.7 * u.deg  # 3.5 sigma of the Gaussian
BIN_SIZE = 0.04 * u.deg  # 4 times fewer pixels than the default: a faster test


def _observations(directory):
    from gammapy.data import DataStore

    store = DataStore.from_dir(directory)
    return list(store.get_observations(required_irf="all-optional"))


@pytest.fixture(scope="module")
def extended(third_party_dl3):
    full = third_party_dl3(source="gaussian", offsets=OFFSETS, livetime=LIVETIME)
    point_like = third_party_dl3(
        source="gaussian", offsets=OFFSETS, livetime=LIVETIME, kind="point-like"
    )
    full = _observations(full)
    return full, _observations(point_like), gammapy_reference(full)


def _geom_and_exclusion(observations):
    analysis = SkyMapAnalysis(bin_size=BIN_SIZE)
    geom = analysis.geom(SOURCE, ENERGY_RANGE, map_width(observations, SOURCE, 2 * u.deg))
    return geom, ~geom.to_image().region_mask([CircleSkyRegion(SOURCE, EXCLUSION_RADIUS)])


def gammapy_reference(observations) -> float:
    """Peak significance of a plain gammapy FoV-background analysis of the runs."""
    from gammapy.datasets import MapDataset
    from gammapy.estimators import ExcessMapEstimator
    from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker

    geom, exclusion = _geom_and_exclusion(observations)
    stacked = MapDataset.create(geom=geom)
    maker = MapDatasetMaker(selection=["counts", "background"])
    safe = SafeMaskMaker(methods=["offset-max"], offset_max=2 * u.deg)
    fov = FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)
    for obs in observations:
        cutout = stacked.cutout(obs.get_pointing_icrs(obs.tmid), width=4 * u.deg)
        stacked.stack(fov.run(safe.run(maker.run(cutout, obs), obs)))
    result = ExcessMapEstimator(correlation_radius=0.1 * u.deg, selection_optional=[]).run(stacked)
    return float(np.nanmax(result["sqrt_ts"].data))


def _profile(maps) -> np.ndarray:
    """Mean significance in 0.1 deg annuli around the source (0-0.1, ..., 0.5-0.6 deg)."""
    geom = maps.significance.geom
    r = geom.get_coord().skycoord.separation(SOURCE).deg
    return np.array(
        [
            np.nanmean(maps.significance.data[(r >= a) & (r < a + 0.1)])
            for a in np.arange(0, 0.6, 0.1)
        ]
    )


def test_extended_source_skymap_matches_gammapy(extended):
    """
    Peak significance within 10 % of the reference; the source is a filled blob: the
    significance at its centre is at least 80 % of the peak and the annular profile
    falls from the centre outwards (a ring artefact would make it hollow).
    """
    full, _, reference = extended
    _, exclusion = _geom_and_exclusion(full)
    maps = SkyMapAnalysis(background_model="irf", bin_size=BIN_SIZE)(
        full, SOURCE, ENERGY_RANGE, exclusion
    )
    peak = maps.peak()["significance"]
    assert reference > 5
    assert abs(peak / reference - 1) < 0.10, (peak, reference)
    profile = _profile(maps)
    assert profile[0] > 0.8 * peak, profile
    assert np.all(np.diff(profile) < 0.5), profile
    assert profile[0] > profile[3] + 1, profile
    assert maps.ts is not None and np.nanmax(maps.ts.data) > 0.8 * peak
    assert maps.info()["method"] == "fov" and maps.background_model == "irf"


def test_point_like_without_background_uses_acceptance_from_runs(extended):
    """
    Point-like runs without BKG: the acceptance is made from the runs (auto) and the
    sky map matches the reference on the full-enclosure IRF background within 10 %.
    """
    _, point_like, reference = extended
    assert all(obs.bkg is None for obs in point_like)
    _, exclusion = _geom_and_exclusion(point_like)
    maps = SkyMapAnalysis(bin_size=BIN_SIZE, ts_map=False)(
        point_like, SOURCE, ENERGY_RANGE, exclusion
    )
    assert maps.background_model == "data"
    peak = maps.peak()["significance"]
    assert abs(peak / reference - 1) < 0.10, (peak, reference)
    assert _profile(maps)[0] > 0.8 * peak


def test_ring_background_on_acceptance_from_runs(extended):
    """The ring method runs on the data-driven acceptance too; no TS map, said once."""
    _, point_like, reference = extended
    _, exclusion = _geom_and_exclusion(point_like)
    analysis = SkyMapAnalysis(method="ring", background_model="data", bin_size=BIN_SIZE)
    maps = analysis(point_like, SOURCE, ENERGY_RANGE, exclusion)
    assert maps.ts is None and any("TS map" in note for note in maps.notes)
    assert maps.peak()["significance"] > 0.5 * reference
    assert maps.info()["method"] == "ring" and maps.info()["background_model"] == "data"
