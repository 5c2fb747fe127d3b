"""IRF production: gammapy reads every HDU, cuts are stored, the library index works."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time

from iactpipe.irf import (
    DL2EventSelection,
    EventCuts,
    load_dl2_events,
    read_index,
    select_irf,
)
from iactpipe.irf.cuts import global_cut_table


def test_library_index_and_layout(irf_library):
    index = read_index(irf_library)
    assert len(index) == 4
    assert set(index["gamma_efficiency"]) == {0.6, 0.8}
    assert set(index["irf_type"]) == {"full-enclosure", "point-like"}
    for row in index:
        assert (irf_library / row["path"]).is_file()
    path = select_irf(irf_library, 22 * u.deg, 3 * u.deg, "dark", 0.8, "point-like")
    assert path.parts[-5:] == (
        "zd20_az000",
        "nsb_dark",
        "stereo",
        "geff0.80",
        "irf_point_like.fits.gz",
    )
    with pytest.raises(Exception, match="no point-like IRF"):
        select_irf(irf_library, 20 * u.deg, 0 * u.deg, "moon", 0.8)


def test_gammapy_reads_every_hdu(irf_library):
    from gammapy.irf import PSF3D, Background2D, EffectiveAreaTable2D, EnergyDispersion2D, RadMax2D

    for row in read_index(irf_library):
        path = irf_library / row["path"]
        aeff = EffectiveAreaTable2D.read(path, hdu="EFFECTIVE AREA")
        EnergyDispersion2D.read(path, hdu="ENERGY DISPERSION")
        Background2D.read(path, hdu="BACKGROUND")
        if row["irf_type"] == "point-like":
            rad_max = RadMax2D.read(path, hdu="RAD_MAX")
            assert np.all(rad_max.quantity <= 0.4 * u.deg)
            assert aeff.is_pointlike
        else:
            PSF3D.read(path, hdu="PSF")
        with fits.open(path) as hdul:
            header = hdul[0].header
            assert header["GAMMAEFF"] == row["gamma_efficiency"]
            assert len(header["SELFP"]) == 64
            gh = QTable.read(hdul["GH_CUTS"])
            assert {"low", "high", "cut"} <= set(gh.colnames)
            prov = dict(QTable.read(hdul["IACTPIPE_PROVENANCE"]).iterrows())
            assert "DL2EventSelection" in prov["selection_config"]


def test_higher_efficiency_looser_cut(irf_library):
    cuts = {}
    for row in read_index(irf_library):
        with fits.open(irf_library / row["path"]) as hdul:
            cuts[row["gamma_efficiency"]] = QTable.read(hdul["GH_CUTS"])["cut"]
    defined = (cuts[0.6] < 1) & (cuts[0.8] < 1)
    assert defined.sum() >= 2
    assert np.all(cuts[0.8][defined] <= cuts[0.6][defined])


def test_gammapy_observation(irf_library, irf_dl2):
    """A gammapy Observation from the IRFs, and a MapDataset with exposure and background."""
    from gammapy.data import FixedPointingInfo, Observation
    from gammapy.datasets import MapDataset
    from gammapy.irf import load_irf_dict_from_file
    from gammapy.makers import MapDatasetMaker
    from gammapy.maps import MapAxis, WcsGeom

    index = read_index(irf_library)
    row = index[(index["irf_type"] == "full-enclosure") & (index["gamma_efficiency"] == 0.8)][0]
    irfs = load_irf_dict_from_file(irf_library / row["path"])
    location = EarthLocation(lat=49.91 * u.deg, lon=14.78 * u.deg, height=500 * u.m)
    time = Time("2026-01-01T22:00:00")
    pointing = SkyCoord(AltAz(alt=70 * u.deg, az=0 * u.deg, obstime=time, location=location))
    obs = Observation.create(
        pointing=FixedPointingInfo(fixed_icrs=pointing.icrs),
        livetime=1 * u.h,
        irfs=irfs,
        location=location,
        tstart=0 * u.s,
        reference_time=time,
    )
    energy = MapAxis.from_energy_bounds(row["energy_min"], row["energy_max"], 3, unit="TeV")
    true_energy = MapAxis.from_energy_bounds(1, 30, 6, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=pointing.icrs, width=2 * u.deg, binsz=0.1, axes=[energy])
    empty = MapDataset.create(geom, energy_axis_true=true_energy)
    dataset = MapDatasetMaker(selection=["exposure", "background", "edisp", "psf"]).run(empty, obs)
    exposure = dataset.exposure.data
    assert np.nanmax(exposure) > 0
    assert np.isfinite(dataset.background.data).all()

    # the simulated gammas as an event list with the same IRFs
    from gammapy.data import EventList

    events = load_dl2_events(irf_dl2["gamma_point"], DL2EventSelection()).events
    table = QTable(
        {
            "ENERGY": events["reco_energy"].to(u.TeV),
            "RA": np.full(len(events), pointing.icrs.ra.deg) * u.deg,
            "DEC": np.full(len(events), pointing.icrs.dec.deg) * u.deg,
        }
    )
    mjd = time.tt.mjd + np.linspace(0, 1 / 24, len(events))
    table["TIME"] = Time(mjd, format="mjd", scale="tt")
    with_events = Observation(
        obs_id=1,
        pointing=obs.pointing,
        gti=obs.gti,
        events=EventList(table),
        location=location,
        **irfs,
    )
    assert len(with_events.events.table) == len(events) > 0
    assert with_events.aeff is irfs["aeff"]


def test_selection_and_cuts(irf_dl2):
    loose = DL2EventSelection(min_intensity_pe=0, max_leakage_intensity_width_2=1.0)
    strict = DL2EventSelection(min_intensity_pe=200)
    n_loose = len(load_dl2_events(irf_dl2["gamma_point"], loose).events)
    gammas = load_dl2_events(irf_dl2["gamma_point"], strict)
    assert 0 < len(gammas.events) < n_loose
    assert gammas.point_like
    assert np.all(gammas.events["multiplicity"] >= 2)
    cuts = EventCuts(gamma_efficiency=0.7)(gammas.events)
    defined = np.asarray(cuts.gh_cuts["cut"]) < 1
    kept = cuts.gh_mask(gammas.events)
    in_defined = np.isin(
        np.digitize(
            gammas.events["reco_energy"].to_value(u.TeV), cuts.gh_cuts["low"].to_value(u.TeV)
        )
        - 1,
        np.flatnonzero(defined),
    )
    assert kept[in_defined].mean() == pytest.approx(0.7, abs=0.1)
    # global cuts: one value everywhere
    glob = EventCuts(gh_cut_type="global", theta_cut_type="global")(gammas.events)
    assert len(np.unique(glob.gh_cuts["cut"])) == 1
    assert len(np.unique(glob.theta_cuts["cut"])) == 1
    table = global_cut_table([] * u.deg, [1, 10] * u.TeV, 68)
    assert np.isnan(table["cut"][0])


def test_bad_inputs(irf_dl2, tmp_path):
    from iactpipe.io import InputFileError

    with pytest.raises(InputFileError, match="no such file"):
        load_dl2_events(tmp_path / "missing.h5", DL2EventSelection())
    # DL1 stereo file without DL2
    with pytest.raises(InputFileError, match="DL2 columns"):
        load_dl2_events(irf_dl2["gamma_point"].with_name("gamma_point.h5"), DL2EventSelection())
    with pytest.raises(InputFileError, match="DL2 columns"):
        load_dl2_events(irf_dl2["proton"], DL2EventSelection(energy_prefix="Nope"))
