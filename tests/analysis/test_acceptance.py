"""
The background acceptance model made from the runs (`iactpipe.analysis.acceptance`)
against the true background: two 30 min background-only runs sampled directly from
the CTAO prod5 North background IRF (background_sampling.py), 0.5 deg wobble, plus a
fake point source of 3000 events at 1 TeV at the target inside the exclusion circle.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from iactpipe.analysis.acceptance import (
    FoV2DBackgroundAcceptanceModel,
    RadialBackgroundAcceptanceModel,
    ZenithBinnedAcceptance,
    cos_zenith_groups,
    interpolation_weights,
    write_background_files,
)

from .background_sampling import PROD5, load_prod5_bkg, sample_run, true_rate

TARGET = SkyCoord(83.63, 22.01, unit="deg")


@pytest.fixture(scope="module")
def background_runs():
    from gammapy.data import observatory_locations
    from gammapy.maps import WcsGeom
    from regions import CircleSkyRegion

    if not PROD5.exists():
        pytest.skip(f"{PROD5} not present: real external test data lives in ../shared/data")
    bkg = load_prod5_bkg()
    rng = np.random.default_rng(7)
    source = SkyCoord([TARGET.ra.deg] * 3000, [TARGET.dec.deg] * 3000, unit="deg")
    runs = [
        sample_run(
            bkg,
            1 + i,
            TARGET.directional_offset_by(180 * u.deg * i, 0.5 * u.deg),
            0.5 * u.h,
            Time("2024-01-10T23:00") + i * 35 * u.min,
            rng,
            observatory_locations["cta_north"],
            extra=source,
        )
        for i in range(2)
    ]
    geom = WcsGeom.create(skydir=TARGET, width=7 * u.deg, binsz=0.02)
    exclusion = ~geom.region_mask([CircleSkyRegion(TARGET, 0.3 * u.deg)])
    return bkg, runs, exclusion


def test_radial_acceptance_matches_true_background(background_runs):
    """
    Within 10 % of the true mean rate in every (energy, offset) bin inside 2 deg whose
    Poisson error is below 3 % (N > 1100 events, so 10 % is > 3 sigma); with the fake
    source excluded, the bins at the target's offset (0.5 deg) agree too (without the
    exclusion they are biased high, so the test can fail).
    """
    bkg, runs, exclusion = background_runs
    maker = RadialBackgroundAcceptanceModel(
        bin_size=0.25 * u.deg, energy_bins_per_decade=2, energy_min=0.1 * u.TeV
    )
    acceptance = maker(runs, exclusion)
    model = acceptance.models[0]
    truth = true_rate(model, bkg, "radial")
    counts, _ = _counts(maker, runs, exclusion)
    offset = model.axes["offset"].center.to_value(u.deg)
    good = (counts > 1100) & (offset < 2.0)[np.newaxis, :]
    assert good.sum() >= 6
    ratio = model.data[good] / truth[good]
    assert np.all(np.abs(ratio - 1) < 0.10), ratio
    # the spectrum: each energy bin averaged over the offsets < 2 deg (solid-angle weights)
    weight = np.diff(1 - np.cos(model.axes["offset"].edges.to_value(u.rad)))
    weight = np.where(offset < 2.0, weight, 0)
    rich = (counts * (offset < 2.0)).sum(axis=1) > 1100
    assert rich.sum() >= 2
    ratio = (model.data @ weight / (truth @ weight))[rich]
    assert np.all(np.abs(ratio - 1) < 0.10), ratio
    # the fake source (1 TeV, at 0.5 deg from both pointings) without the exclusion
    biased = maker(runs, None).models[0]
    assert biased.data[2, 1] / truth[2, 1] > 1.3


def _counts(maker, runs, exclusion):
    energy = maker.energy_axis()
    total = 0
    for obs in runs:
        n, _ = maker.run_histograms(obs, energy, exclusion)
        total = total + n
    return total, energy


def test_fov_acceptance_matches_true_background(background_runs):
    """
    The 2D (lon, lat) model (1 deg bins) in RA/Dec alignment (that of the prod5 IRF):
    within 10 % in the bins inside 2 deg with a Poisson error below 3 %.
    """
    bkg, runs, exclusion = background_runs
    maker = FoV2DBackgroundAcceptanceModel(
        bin_size=1.0 * u.deg,
        energy_bins_per_decade=2,
        energy_min=0.1 * u.TeV,
        fov_alignment="RADEC",
        offset_max=2.0 * u.deg,
    )
    model = maker(runs, exclusion).models[0]
    truth = true_rate(model, bkg, "fov")
    counts, _ = _counts(maker, runs, exclusion)
    centre = model.axes["fov_lon"].center.to_value(u.deg)
    inside = np.hypot(centre[:, None], centre[None, :]) < 2.0
    good = (counts > 1100) & inside[np.newaxis]
    assert good.sum() >= 8
    ratio = model.data[good] / truth[good]
    assert np.all(np.abs(ratio - 1) < 0.10), ratio


def test_altaz_model_and_gadf_files_read_by_gammapy(background_runs, tmp_path):
    """ALTAZ-aligned model: written as BKG_3D, the HDU index points gammapy at it."""
    from astropy.io import fits
    from astropy.table import Table
    from gammapy.irf import Background2D, Background3D

    bkg, runs, exclusion = background_runs
    maker = FoV2DBackgroundAcceptanceModel(
        bin_size=0.5 * u.deg,
        energy_bins_per_decade=2,
        energy_min=0.1 * u.TeV,
        offset_max=2.0 * u.deg,
    )
    acceptance = maker(runs[:1], exclusion)
    # the camera-aligned frame turns on the sky: the rate still integrates to the truth
    truth = true_rate(acceptance.models[0], bkg, "fov")
    ratio = np.nansum(acceptance.models[0].data[1:4]) / np.nansum(truth[1:4])
    assert abs(ratio - 1) < 0.05
    index = tmp_path / "hdu-index.fits.gz"
    table = Table(
        {
            "OBS_ID": [1],
            "HDU_TYPE": ["events"],
            "HDU_CLASS": ["events"],
            "FILE_DIR": ["."],
            "FILE_NAME": ["x.fits"],
            "HDU_NAME": ["EVENTS"],
        }
    )
    hdu = fits.table_to_hdu(table)
    hdu.name = "HDU_INDEX"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(index)
    (path,) = write_background_files(acceptance, runs[:1], tmp_path / "bkg", hdu_index=index)
    read = Background3D.read(path, hdu="BKG")
    assert read.fov_alignment.value == "ALTAZ"
    np.testing.assert_allclose(read.data, acceptance.for_observation(runs[0]).data, rtol=1e-6)
    rows = Table.read(index, hdu="HDU_INDEX")
    assert list(rows["HDU_CLASS"]) == ["events", "bkg_3d"]
    radial = RadialBackgroundAcceptanceModel(energy_bins_per_decade=2, energy_min=0.1 * u.TeV)
    (path2,) = write_background_files(radial(runs[:1]), runs[:1], tmp_path / "b2", index)
    assert Background2D.read(path2, hdu="BKG").axes.names == ["energy", "offset"]
    assert list(Table.read(index, hdu="HDU_INDEX")["HDU_CLASS"]) == ["events", "bkg_2d"]


def test_zenith_groups_and_interpolation():
    """Runs grouped by cos zenith until the minimum live time; linear interpolation."""
    from gammapy.irf import Background2D
    from gammapy.maps import MapAxis

    groups = cos_zenith_groups(np.array([0.9, 0.5, 0.95, 0.55]), np.array([1, 1, 1, 1]), 2)
    assert [sorted(g) for g in groups] == [[0, 2], [1, 3]]
    assert [sorted(g) for g in cos_zenith_groups(np.array([0.9, 0.5, 0.7]), np.ones(3), 2)] == [
        [0, 1, 2]
    ]
    np.testing.assert_allclose(interpolation_weights([0.5, 0.9], 0.6), [0.75, 0.25])
    np.testing.assert_allclose(interpolation_weights([0.5, 0.9], 0.95), [0, 1])
    axes = [
        MapAxis.from_energy_bounds(1, 10, 1, "TeV", name="energy"),
        MapAxis.from_bounds(0, 2, 2, unit="deg", name="offset"),
    ]
    models = [
        Background2D(axes=axes, data=np.full((1, 2), v), unit="s-1 MeV-1 sr-1") for v in (1.0, 3.0)
    ]
    acceptance = ZenithBinnedAcceptance(np.array([0.5, 0.9]), models, 2 * u.h)
    np.testing.assert_allclose(acceptance.evaluate_cos_zenith(0.7).data, 2.0)
