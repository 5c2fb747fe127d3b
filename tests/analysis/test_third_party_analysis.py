"""
iactpipe-analysis with DEFAULT settings on third-party DL3 (third_party.py: CTAO prod5
IRFs, gammapy-sampled Crab-like log-parabola, four 3 min runs at 0.5 and 0.7 deg wobble):
the injected spectrum is recovered within 2 sigma, the ON/OFF counts, alpha and fitted
parameters equal those of a plain gammapy script written here on the same files
(within 0.3 sigma), and every IRF kind of the matrix gives a summary and a report.
"""

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from ctapipe.core import run_tool

from iactpipe.tools.analysis import AnalysisTool

from .third_party import CRAB_LP, SOURCE, crab_lp

REFERENCE = 3 * u.TeV  # iactpipe's default reference energy


def _analysis(dl3, out, *argv):
    args = [f"--input={dl3}", f"--output={out}", "--target=Crab", *argv]
    assert run_tool(AnalysisTool(), argv=args) == 0
    return json.loads((out / "summary.json").read_text())


def _injected_at(reference):
    """The injected log-parabola with its reference moved to ``reference``."""
    x = np.log((reference / CRAB_LP["reference"]).to_value(u.one))
    return {
        "amplitude": crab_lp()(reference).to_value("TeV-1 cm-2 s-1"),
        "alpha": CRAB_LP["alpha"] + 2 * CRAB_LP["beta"] * x,
        "beta": CRAB_LP["beta"],
    }


@pytest.fixture(scope="module")
def crab_default(third_party_crab, tmp_path_factory):
    out = tmp_path_factory.mktemp("third_party_default") / "out"
    return _analysis(third_party_crab, out, "--spectral-model=lp")


def test_default_recovers_injected_log_parabola(crab_default):
    s = crab_default
    fit = s["spectral_fit"]
    assert fit["success"] and s["detected"]
    truth = _injected_at(REFERENCE)
    for name, value in truth.items():
        p = fit["parameters"][name]
        assert 0 < p["error"] < 0.7 * abs(p["value"]), (name, p)
        assert abs(p["value"] - value) < 2 * p["error"], (name, p, value)
    # values chosen from the data, per run: safe threshold, ON radius from the PSF, OFF regions
    assert s["method"]["on_radius_deg"] == pytest.approx(0.12, abs=0.03)
    for run in s["runs"]:
        assert 0.05 < run["safe_threshold_TeV"] < 0.5
        assert run["n_off_regions"] >= 5
        assert run["offset_deg"] == pytest.approx(0.5 if run["obs_id"] < 102 else 0.7)
    assert s["energy_range_TeV"][0] < 0.5  # not the 1 TeV of the old default
    assert sum(r["n_on"] for r in s["runs"]) == s["n_on"]
    assert not s["notes"]


def _gammapy_reference(dl3):
    """The plain gammapy recipe: per-run safe threshold (aeff-max 10 %, edisp-bias 10 %),
    ON circle = PSF 68 % containment at the threshold (largest over the runs, rounded up
    to 0.01 deg), reflected regions outside a 0.3 deg exclusion circle around the
    target, joint WStat fit of a log-parabola."""
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapy.maps import MapAxis, RegionGeom, WcsGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import LogParabolaSpectralModel, SkyModel
    from regions import CircleSkyRegion

    observations = DataStore.from_dir(dl3).get_observations()
    energy = MapAxis.from_energy_bounds(0.01, 1000, 5, per_decade=True, unit="TeV")
    true = MapAxis.from_energy_bounds(
        0.01, 1000, 10, per_decade=True, unit="TeV", name="energy_true"
    )
    safe = SafeMaskMaker(
        methods=["aeff-max", "edisp-bias", "offset-max"],
        position=SOURCE,
        irfs="DL3",
        offset_max="2.5 deg",
    )
    radii = []
    for obs in observations:
        empty = SpectrumDataset.create(
            RegionGeom.create(CircleSkyRegion(SOURCE, 0.1 * u.deg), axes=[energy])
        )
        mask = (
            safe.make_mask_energy_aeff_max(empty, obs)
            & safe.make_mask_energy_edisp_bias(empty, obs)
        ).data.ravel()
        threshold = energy.edges[:-1][mask].min()
        offset = obs.get_pointing_icrs(obs.tmid).separation(SOURCE)
        radii.append(obs.psf.containment_radius(0.68, energy_true=threshold, offset=offset))
    radius = np.ceil(u.Quantity(radii).to_value(u.deg).max() * 100 - 1e-6) / 100 * u.deg
    geom = RegionGeom.create(CircleSkyRegion(SOURCE, radius), axes=[energy])
    exclusion_geom = WcsGeom.create(skydir=SOURCE, width=5 * u.deg, binsz=0.01, frame="icrs")
    exclusion = ~exclusion_geom.region_mask([CircleSkyRegion(SOURCE, 0.3 * u.deg)])
    background = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    maker = SpectrumDatasetMaker(
        containment_correction=True,
        use_region_center=True,
        selection=["counts", "exposure", "edisp"],
    )
    datasets = Datasets()
    for obs in observations:
        dataset = maker.run(
            SpectrumDataset.create(geom, energy_axis_true=true, name=f"obs{obs.obs_id}"), obs
        )
        datasets.append(safe.run(background.run(dataset, obs), obs))
    model = LogParabolaSpectralModel(reference=REFERENCE, amplitude="2e-12 TeV-1 cm-2 s-1")
    datasets.models = [SkyModel(spectral_model=model, name="crab")]
    assert Fit().run(datasets).success
    return datasets, model, radius


def test_default_matches_plain_gammapy(crab_default, third_party_crab):
    s = crab_default
    datasets, model, radius = _gammapy_reference(third_party_crab)
    assert s["method"]["on_radius_deg"] == pytest.approx(radius.to_value(u.deg))
    by_run = {r["obs_id"]: r for r in s["runs"]}
    for ds in datasets:
        run = by_run[int(ds.name[3:])]
        mask = ds.mask_safe.data
        assert run["n_on"] == int(ds.counts.data[mask].sum())
        assert run["n_off"] == int(ds.counts_off.data[mask].sum())
        assert run["alpha"] == pytest.approx(float(ds.alpha.data[mask].mean()))
        threshold = ds.counts.geom.axes["energy"].edges[:-1][mask.ravel()].min()
        assert run["safe_threshold_TeV"] <= threshold.to_value(u.TeV)
        assert run["first_bin_TeV"] == pytest.approx(threshold.to_value(u.TeV))
    for name in ("amplitude", "alpha", "beta"):
        p = s["spectral_fit"]["parameters"][name]
        ref = model.parameters[name]
        assert abs(p["value"] - ref.value) < 0.3 * ref.error, (name, p, ref.value, ref.error)


def test_point_like_without_background_irf(third_party_point_like, tmp_path):
    """Point-like DL3 without BKG (what pyirf, lstchain and MAGIC write): no crash; the
    sky maps' flat acceptance is one line in the notes and the report; the spectrum is
    recovered within 2 sigma with the OFF regions that fit beside RAD_MAX."""
    out = tmp_path / "out"
    cheap = ["--SpectrumAnalysis.n_flux_points=2", "--LightCurveAnalysis.time_bins=night"]
    s = _analysis(third_party_point_like, out, "--spectral-model=lp", *cheap)
    assert s["irf_type"] == "point-like"
    assert len(s["notes"]) == 1 and "no background IRF" in s["notes"][0]
    assert s["notes"][0] in (out / "report.html").read_text()
    truth = _injected_at(REFERENCE)
    for name in ("amplitude", "alpha"):
        p = s["spectral_fit"]["parameters"][name]
        assert abs(p["value"] - truth[name]) < 2 * p["error"], (name, p, truth[name])
    assert all(r["n_off_regions"] >= 2 for r in s["runs"])
    assert s["skymap_peak"]["significance"] > 5
    peak = SkyCoord(s["skymap_peak"]["ra_deg"], s["skymap_peak"]["dec_deg"], unit="deg")
    assert peak.separation(SOURCE) < 0.15 * u.deg


MATRIX = {
    "point-like, energy-dependent RAD_MAX, no BKG, 1 run": {"kind": "point-like"},
    "point-like, fixed RAD_MAX keyword, no BKG, 1 run": {"kind": "point-like", "rad_max": "fixed"},
    "point-like, RAD_MAX_2D, BKG_3D, mixed offsets": {
        "kind": "point-like",
        "bkg": "3d",
        "offsets": (0.5, 0.7),
    },
    "point-like, fixed RAD_MAX, BKG_2D, mixed offsets": {
        "kind": "point-like",
        "bkg": "2d",
        "rad_max": "fixed",
        "offsets": (0.5, 0.7),
    },
    "full-enclosure, multi-Gauss PSF, BKG_3D, 1 run": {},
    "full-enclosure, PSF_TABLE, BKG_2D, mixed offsets": {
        "psf": "table",
        "bkg": "2d",
        "offsets": (0.5, 0.7),
    },
}


@pytest.mark.parametrize("case", list(MATRIX))
def test_irf_kind_matrix(third_party_dl3, tmp_path, case):
    """Every IRF kind completes with a summary and a report (sky maps, flux points and
    light-curve bins cut down but in the first case, to keep the matrix cheap)."""
    kwargs = dict(MATRIX[case])
    offsets = tuple(o * u.deg for o in kwargs.pop("offsets", (0.5,)))
    dl3 = third_party_dl3(offsets=offsets, **kwargs)
    out = tmp_path / "out"
    skymaps = [] if case.startswith("point-like, energy-dependent") else ["--no-skymaps"]
    cheap = ["--SpectrumAnalysis.n_flux_points=2", "--LightCurveAnalysis.time_bins=night"]
    s = _analysis(dl3, out, *skymaps, *cheap)
    assert (out / "report.html").is_file()
    assert s["irf_type"] == kwargs.get("kind", "full-enclosure")
    assert len(s["runs"]) == len(offsets)
    assert s["n_on"] > 20 and s["detected"]
    no_bkg = kwargs.get("bkg", "3d" if "kind" not in kwargs else None) is None
    assert any("no background IRF" in n for n in s["notes"]) == (no_bkg and not skymaps)
    assert any("sky maps not made" in n for n in s["notes"]) == bool(skymaps)
