"""
iactpipe-analysis end to end on iactpipe DL3 made from simulated runs (statistics in
conftest.py): the spectral fit recovers the injected spectrum, the significance is the
Li & Ma value of counts taken independently from the DL3 files, a run without source
gives no detection and an upper limit, point-like (RAD_MAX) and full-enclosure IRFs
both work, and the report is self-contained with every summary field.
"""

import json
import re

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from ctapipe.core import run_tool

from iactpipe.analysis import SUMMARY_KEYS, crab_integral_flux, injected_crab_model
from iactpipe.tools.analysis import AnalysisTool

from .conftest import CRAB_FIT_FLUX_SCALE as FLUX_SCALE

CRAB = SkyCoord(83.63308, 22.0145, unit="deg")
#: log-parabola with the injected curvature fixed (free amplitude at 5 TeV and alpha, the
#: local index there), fitted where the point-like IRFs are well sampled (4.8-42 TeV
#: reco: below, the 2 TeV lower end of the simulated gammas biases the first bin)
CRAB_CONFIG = {
    "SpectrumAnalysis": {
        "spectral_model": "lp",
        "reference_energy": "5 TeV",
        "energy_min": "4.5 TeV",
        "energy_max": "60 TeV",
        "true_energy_min": "2 TeV",
        "true_energy_max": "100 TeV",
        "aeff_percent": 1.0,
        "initial_parameters": {"beta": 0.24 / np.log(10)},
        "frozen_parameters": ["beta"],
        "n_off_regions": 1,
        "safe_methods": ["aeff-max"],
    },
}


#: the no-source run with the settings of the SST-1M toy (1 TeV, effective-area threshold)
NO_SOURCE_SPECTRUM = {
    "safe_methods": ["aeff-max"],
    "energy_min": 1 * u.TeV,
    "n_off_regions": 1,
    "true_energy_min": 0.3 * u.TeV,
    "true_energy_max": 300 * u.TeV,
}


def _run(dl3, out, *argv, config=None, tmp_path=None):
    args = [f"--input={dl3}", f"--output={out}", *argv]
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config, default=str))
        args.append(f"--config={path}")
    assert run_tool(AnalysisTool(), argv=args, cwd=tmp_path) == 0
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def crab(analysis_dl3, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crab_quicklook")
    out = tmp / "out"
    summary = _run(
        analysis_dl3["point_like"], out, "--target=CRAB", config=CRAB_CONFIG, tmp_path=tmp
    )
    return out, summary


def test_crab_spectrum_within_2_sigma_of_injection(crab):
    """Amplitude (5 TeV) and alpha within 2 sigma; beta reported fixed at the injection."""
    _, summary = crab
    fit = summary["spectral_fit"]
    assert fit["model"] == "lp" and fit["success"]
    injected = injected_crab_model(FLUX_SCALE, 5 * u.TeV)
    for name in ("amplitude", "alpha"):
        p = fit["parameters"][name]
        truth = injected.parameters[name].value
        assert 0 < p["error"] < 0.3 * abs(p["value"]), (name, p)
        assert abs(p["value"] - truth) < 2 * p["error"], (name, p, truth)
    assert u.Unit(fit["parameters"]["amplitude"]["unit"]) == u.Unit("TeV-1 cm-2 s-1")
    assert fit["parameters"]["beta"]["frozen"]
    assert fit["parameters"]["reference"]["value"] == pytest.approx(5.0)


def _rad_max_counts(dl3_dir, obs_ids, e_range):
    """ON (RAD_MAX around the Crab) and OFF (RAD_MAX around the position opposite the
    Crab through the pointing) counts, read with astropy only."""
    n_on = n_off = 0
    for obs_id in obs_ids:
        with fits.open(dl3_dir / f"dl3_obs{obs_id:08d}.fits.gz") as hdul:
            events, rad = hdul["EVENTS"], hdul["RAD_MAX"].data
            pointing = SkyCoord(events.header["RA_PNT"], events.header["DEC_PNT"], unit="deg")
            energy = events.data["ENERGY"]
            radec = SkyCoord(events.data["RA"], events.data["DEC"], unit="deg")
            edges = np.append(rad["ENERG_LO"][0], rad["ENERG_HI"][0][-1])
            idx = np.clip(np.digitize(energy, edges) - 1, 0, len(edges) - 2)
            rad_max = rad["RAD_MAX"][0][0][idx]  # one offset bin
        off = pointing.directional_offset_by(
            pointing.position_angle(CRAB) + 180 * u.deg, pointing.separation(CRAB)
        )
        selected = (energy >= e_range[0] * 0.9999) & (energy < e_range[1] * 1.0001)
        n_on += int(np.sum(selected & (radec.separation(CRAB).deg <= rad_max)))
        n_off += int(np.sum(selected & (radec.separation(off).deg <= rad_max)))
    return n_on, n_off


def test_significance_is_li_ma_of_independent_counts(crab, analysis_dl3):
    """N_on, N_off counted from the FITS files (energy-dependent RAD_MAX, one reflected
    OFF region, alpha 1) and Li & Ma eq. 17 written out here agree with the summary."""
    _, s = crab
    n_on, n_off = _rad_max_counts(
        analysis_dl3["point_like"], s["observations"], s["energy_range_TeV"]
    )
    assert s["n_on"] == n_on
    assert s["n_off"] == n_off
    assert s["alpha"] == pytest.approx(1.0)
    a = 1.0
    if n_off == 0:  # the limit of eq. 17 for N_off -> 0
        li_ma = np.sqrt(2 * n_on * np.log((1 + a) / a))
    else:
        li_ma = np.sqrt(
            2
            * (
                n_on * np.log((1 + a) / a * n_on / (n_on + n_off))
                + n_off * np.log((1 + a) * n_off / (n_on + n_off))
            )
        )
    assert s["significance"] == pytest.approx(li_ma, rel=1e-6)
    assert s["excess"] == pytest.approx(n_on - a * n_off)
    assert s["detected"] and s["n_on"] > 150
    assert s["observations"] == [2001, 2002, 2003]
    assert s["livetime_s"] == pytest.approx(12, rel=0.03)
    # significance grows with the live time, ending at the total
    cumulative = [row["significance"] for row in s["cumulative"]]
    assert cumulative == sorted(cumulative)
    assert cumulative[-1] == pytest.approx(s["significance"])


def test_light_curve_and_upper_limit_match_injection(crab):
    """Each run's integral flux within 3 sigma of the injected one in the same range; no
    upper limit for a detected source; the 95 % upper limit lies above the true flux."""
    _, s = crab
    e_min, e_max = (e * u.TeV for e in s["energy_range_TeV"])
    truth = (FLUX_SCALE * crab_integral_flux(e_min, e_max)).to_value("cm-2 s-1")
    assert len(s["light_curve"]) == 3
    for row in s["light_curve"]:
        assert not row["is_ul"]
        assert row["time_min"] < row["time_max"]
        assert abs(row["flux"] - truth) < 3 * row["flux_err"], (row, truth)
    ul = s["upper_limit"]
    assert ul["confidence_level"] == 0.95
    assert ul["energy_threshold_TeV"] == pytest.approx(e_min.to_value(u.TeV))
    truth_ul = (FLUX_SCALE * crab_integral_flux(e_min, e_max * 1.0001)).to_value("cm-2 s-1")
    # index 2.5 assumed for the limit against a local index of 2.8: 20 % slack
    assert ul["flux_ul_cm-2_s-1"] > 0.8 * truth_ul
    assert len(s["flux_points"]) >= 3


def test_no_source_run_gives_no_detection_and_upper_limit(analysis_dl3, tmp_path):
    """Run without source: not detected, exit 0, an upper limit above the true (zero)
    flux that would have excluded the Crab-like source of the other runs, and that
    predicts the analytic 1.92 signal counts."""
    s = _run(
        analysis_dl3["no_source"],
        tmp_path / "out",
        "--target=crab",
        config={"SpectrumAnalysis": NO_SOURCE_SPECTRUM},
        tmp_path=tmp_path,
    )
    assert s["observations"] == [3001]
    assert not s["detected"]
    assert abs(s["significance"]) < 3
    ul = s["upper_limit"]
    assert 0 < ul["flux_ul_cm-2_s-1"] < np.inf
    assert ul["flux_ul_crab"] < 0.05 * FLUX_SCALE
    assert (tmp_path / "out" / "report.html").is_file()
    # analytic: with N_on = N_off = 0 the 95 % profile-likelihood limit is
    # chi2_1(0.95) / 2 = 1.92 signal counts; fold the limit's power law with the run's
    # exposure and energy dispersion (gammapy) and count
    assert s["n_on"] == 0 and s["n_off"] == 0, "the run was meant to have no ON/OFF event"
    assert _predicted_counts(analysis_dl3["no_source"], ul) == pytest.approx(1.9207, rel=0.01)


def _predicted_counts(dl3_dir, ul) -> float:
    """Signal counts that the upper-limit flux (power law) predicts in its energy range."""
    from gammapy.data import DataStore
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    from iactpipe.analysis import SpectrumAnalysis

    observations = DataStore.from_dir(dl3_dir).get_observations(required_irf="point-like")
    datasets = SpectrumAnalysis(**NO_SOURCE_SPECTRUM).datasets(observations, CRAB, "point-like")
    e_min, e_max = ul["energy_threshold_TeV"] * u.TeV, ul["energy_max_TeV"] * u.TeV
    model = PowerLawSpectralModel(index=ul["spectral_index"], reference=e_min)
    model.amplitude.value *= ul["flux_ul_cm-2_s-1"] / model.integral(e_min, e_max).to_value(
        "cm-2 s-1"
    )
    datasets.models = [SkyModel(spectral_model=model, name="ul")]
    total = 0.0
    for ds in datasets:
        in_range = ds.counts.geom.energy_mask(energy_min=e_min, energy_max=e_max).data
        total += float(ds.npred_signal().data[in_range & ds.mask_safe.data].sum())
    return total


def test_full_enclosure(analysis_dl3, tmp_path):
    """Full-enclosure IRFs: circular ON region of --theta-cut, the same ON counts as an
    independent count of the events within 0.2 deg, detection, fit converged.

    The flux is not compared with the injection: the full-enclosure effective area of
    the test library at the 0.4 deg offset comes from 400 diffuse gammas and is ragged
    (at 20 TeV it exceeds the thrown area), so the fitted amplitude is about 4 times
    low, against 0.85-1.0 times with the point-like IRFs of 2500 point gammas.

    Safe range from the effective area only, as the other toy analyses here: since the
    toy's shower model was tuned to CORSIKA (issue 19) the edisp-bias method finds no
    safe energy on this ragged library (the range is NaN and the upper limit then fails
    inside gammapy; the tool should refuse that with a clear message, not done here)."""
    out = tmp_path / "out"
    s = _run(
        analysis_dl3["full_enclosure"],
        out,
        "--target=Crab",
        "--theta-cut=0.2 deg",
        "--n-off-regions=3",
        config={"SpectrumAnalysis": {"safe_methods": ["aeff-max"]}},
        tmp_path=tmp_path,
    )
    assert s["irf_type"] == "full-enclosure"
    n_on = 0
    for obs_id in s["observations"]:
        with fits.open(analysis_dl3["full_enclosure"] / f"dl3_obs{obs_id:08d}.fits.gz") as f:
            assert "RAD_MAX" not in f
            ev = f["EVENTS"].data
            e_lo, e_hi = s["energy_range_TeV"]
            # float32 event energies against float64 edges: a relative 1e-6 (the 1e-4 of
            # before counted an event at 2.511843 TeV, 1.7e-5 below the 2.511886 TeV edge,
            # met once the tuned toy's events changed, issue 19)
            sel = (ev["ENERGY"] >= e_lo * (1 - 1e-6)) & (ev["ENERGY"] < e_hi * (1 + 1e-6))
            sep = SkyCoord(ev["RA"], ev["DEC"], unit="deg").separation(CRAB).deg
            n_on += int(np.sum(sel & (sep < 0.2)))
    assert s["n_on"] == n_on
    assert s["alpha"] == pytest.approx(1 / 3)
    assert s["detected"] and s["spectral_fit"]["success"]


def test_report_is_self_contained_and_summary_complete(crab):
    out, s = crab
    page = (out / "report.html").read_text()
    sources = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)['"]""", page)
    assert len(sources) == 5
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "http" not in page.replace("https://", "")  # no remote resource
    assert not re.search(r"<(link|script)\b", page)
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["target"] == {
        "name": "Crab",
        "ra_deg": pytest.approx(83.63308),
        "dec_deg": pytest.approx(22.0145),
    }
    assert set(s["zenith_deg"]) == {"min", "max"} and 20 < s["zenith_deg"]["min"] < 35
    for p in s["spectral_fit"]["parameters"].values():
        assert {"value", "error", "unit"} <= set(p)
    assert {"model", "success", "energy_range_TeV", "parameters"} <= set(s["spectral_fit"])
    for row in s["light_curve"]:
        assert {"time_min", "time_max", "flux", "flux_err", "is_ul", "flux_ul"} <= set(row)
    assert {"energy_threshold_TeV", "confidence_level", "flux_ul_cm-2_s-1"} <= set(s["upper_limit"])
    assert s["config"]["SpectrumAnalysis"]["spectral_model"] == "lp"
    assert s["iactpipe_version"]
    assert {p.name for p in (out / "plots").iterdir()} == {
        "theta2.png",
        "significance.png",
        "skymaps.png",
        "sed.png",
        "light_curve.png",
    }
    # the sky map peaks at the Crab
    peak = SkyCoord(s["skymap_peak"]["ra_deg"], s["skymap_peak"]["dec_deg"], unit="deg")
    assert peak.separation(CRAB) < 0.1 * u.deg


def test_existing_output_refused_then_overwritten(crab, analysis_dl3, capsys):
    out, _ = crab
    before = (out / "summary.json").stat().st_mtime_ns
    argv = [f"--input={analysis_dl3['point_like']}", f"--output={out}", "--target=Crab"]
    assert run_tool(AnalysisTool(), argv=argv, raises=False) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "summary.json").stat().st_mtime_ns == before
    argv += [
        "--overwrite",
        "--obs-id=2002",
        "--obs-id=2003",
        "--spectral-model=pl",
        "--LightCurveAnalysis.time_bins=night",
        # as CRAB_CONFIG: the edisp-bias threshold of the small test library is noisy
        # (58.7 TeV for these runs after the NSB bank changed the simulated noise)
        '--SpectrumAnalysis.safe_methods=["aeff-max"]',
    ]
    assert run_tool(AnalysisTool(), argv=argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["observations"] == [2002, 2003]
    assert set(s["spectral_fit"]["parameters"]) == {"index", "amplitude", "reference"}
    assert len(s["light_curve"]) == 2  # two nights
    assert not list(out.parent.glob(".out.*"))  # no temporary directory left


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target=Vega"], "unknown target"),
        (["--target=Mrk 421"], "no observation of Mrk 421"),
        (["--target=Crab", "--obs-id=999"], "no observation of Crab"),
        (["--ra=83.6"], "give both --ra and --dec"),
        (["--target=Crab", "--time-min=yesterday"], "time_min 'yesterday' is not a time"),
        # a fit range above every energy bin: nothing to fit (gammapy failed inside before)
        (["--target=Crab", "--energy-min=500 TeV", "--energy-max=900 TeV"], "no energy bin"),
    ],
)
def test_bad_input_exit_2_and_no_output(analysis_dl3, tmp_path, argv, message, capsys):
    out = tmp_path / "out"
    args = [f"--input={analysis_dl3['no_source']}", f"--output={out}", *argv]
    assert run_tool(AnalysisTool(), argv=args, raises=False) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_no_off_region_is_one_line_error(analysis_dl3, tmp_path, capsys):
    """An ON region so large that its reflection overlaps it: no OFF region in any run."""
    out = tmp_path / "out"
    args = [
        f"--input={analysis_dl3['full_enclosure']}",
        f"--output={out}",
        "--target=Crab",
        "--theta-cut=0.5 deg",
        "--n-off-regions=1",
    ]
    assert run_tool(AnalysisTool(), argv=args, raises=False) == 2
    assert "no run has an OFF region" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_not_a_dl3_directory(tmp_path, capsys):
    args = [f"--input={tmp_path}", f"--output={tmp_path / 'out'}", "--target=Crab"]
    assert run_tool(AnalysisTool(), argv=args, raises=False) == 2
    assert "not a GADF DL3 directory" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_help_all():
    assert run_tool(AnalysisTool(), ["--help-all"]) == 0
