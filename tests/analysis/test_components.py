"""Unit tests of the analysis components against analytic values and hand computations."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time

from iactpipe.analysis import (
    SUMMARY_KEYS,
    crab_integral_flux,
    li_ma_significance,
    make_spectral_model,
    n_sigma_for_confidence,
    night_intervals,
    render_html,
    resolve_target,
    select_observations,
)


@pytest.mark.parametrize(
    ("name", "ra", "dec"),
    [
        ("Crab", 83.63308, 22.0145),
        ("crab nebula", 83.63308, 22.0145),
        ("MRK 421", 166.113808, 38.208833),
        ("mrk501", 253.467569, 39.760169),
        ("1es 1959+650", 299.999384, 65.148514),
    ],
)
def test_catalogue_case_insensitive(name, ra, dec):
    target = resolve_target(name)
    assert target.position.ra.deg == pytest.approx(ra)
    assert target.position.dec.deg == pytest.approx(dec)


def test_resolve_coordinates_and_errors():
    target = resolve_target(None, 10 * u.deg, -5 * u.deg)
    assert target.to_dict() == {"name": "RA 10.000 Dec -5.000", "ra_deg": 10.0, "dec_deg": -5.0}
    assert resolve_target("GRB 240101A", 10 * u.deg, -5 * u.deg).name == "GRB 240101A"
    with pytest.raises(ValueError, match="unknown target"):
        resolve_target("Vega")
    with pytest.raises(ValueError, match="both"):
        resolve_target(None, 10 * u.deg, None)


def test_select_observations():
    crab = resolve_target("Crab").position
    pointings = [crab.directional_offset_by(0 * u.deg, d * u.deg) for d in (0.4, 0.4, 0.4, 3)]
    table = Table(
        {
            "OBS_ID": [1, 2, 3, 4],
            "RA_PNT": [p.ra.deg for p in pointings] * u.deg,
            "DEC_PNT": [p.dec.deg for p in pointings] * u.deg,
            "ZEN_PNT": [20, 65, 30, 20] * u.deg,
            "DATE-OBS": [
                "2024-01-10T21:00:00",
                "2024-01-10T22:00:00",
                "2024-01-11T21:00:00",
                "2024-01-10T21:00:00",
            ],
            "DATE-END": [
                "2024-01-10T21:20:00",
                "2024-01-10T22:20:00",
                "2024-01-11T21:20:00",
                "2024-01-10T21:20:00",
            ],
        }
    )
    assert list(select_observations(table, crab, 2 * u.deg)) == [1, 2, 3]
    assert list(select_observations(table, crab, 2 * u.deg, max_zenith=60 * u.deg)) == [1, 3]
    assert list(select_observations(table, crab, 2 * u.deg, obs_ids=[2, 3, 4])) == [2, 3]
    night = (Time("2024-01-10T12:00:00"), Time("2024-01-11T12:00:00"))
    assert list(select_observations(table, crab, 5 * u.deg, time_range=night)) == [1, 2, 4]


@pytest.mark.parametrize(
    ("n_on", "n_off", "alpha"), [(30, 50, 0.2), (120, 300, 1 / 3), (5, 40, 0.1), (0, 10, 0.5)]
)
def test_li_ma_equation_17(n_on, n_off, alpha):
    """Li & Ma (1983) eq. 17, written out, signed by the excess."""
    a, n = alpha, n_on + n_off
    term_on = n_on * np.log((1 + a) / a * n_on / n) if n_on > 0 else 0.0
    term_off = n_off * np.log((1 + a) * n_off / n)
    expected = np.sign(n_on - a * n_off) * np.sqrt(2 * (term_on + term_off))
    assert li_ma_significance(n_on, n_off, alpha) == pytest.approx(expected, rel=1e-9)
    assert li_ma_significance(0, 0, 1.0) == 0.0


def test_confidence_level_to_sigma():
    assert n_sigma_for_confidence(0.95) == pytest.approx(1.95996, rel=1e-5)
    assert n_sigma_for_confidence(0.6827) == pytest.approx(1.0, rel=1e-3)


def test_crab_integral_flux_analytic():
    """Against the closed form of a power law when the curvature term is small."""
    flux = crab_integral_flux(1 * u.TeV, 1000 * u.TeV).to_value("cm-2 s-1")
    assert 1.5e-11 < flux < 2.5e-11  # MAGIC 2015: about 2.0e-11 above 1 TeV


def test_light_curve_bins():
    """Run, night and custom bins from the runs' GTIs."""
    from types import SimpleNamespace

    from traitlets.config import Config

    from iactpipe.analysis import LightCurveAnalysis

    starts = Time(["2024-01-11T02:00:00", "2024-01-10T20:00:00", "2024-01-11T20:00:00"])
    gtis = [SimpleNamespace(time_start=Time([t]), time_stop=Time([t + 20 * u.min])) for t in starts]
    runs = [SimpleNamespace(gti=gti) for gti in gtis]
    by_run = LightCurveAnalysis().intervals(runs)
    assert [t[0].isot[:16] for t in by_run] == [
        "2024-01-10T20:00",
        "2024-01-11T02:00",
        "2024-01-11T20:00",
    ]
    assert len(LightCurveAnalysis(time_bins="night").intervals(runs)) == 2
    edges = [60319.5, 60320.0, 60321.0]
    config = Config({"LightCurveAnalysis": {"time_bins": "custom", "custom_edges_mjd": edges}})
    custom = LightCurveAnalysis(config=config).intervals(runs)
    assert [(a.mjd, b.mjd) for a, b in custom] == [(60319.5, 60320.0), (60320.0, 60321.0)]
    with pytest.raises(ValueError, match="at least two"):
        LightCurveAnalysis(time_bins="custom").intervals(runs)


def test_night_intervals():
    """Runs before and after midnight UTC fall in one night at Ondřejov (local noon)."""
    starts = Time(["2024-01-10T20:00:00", "2024-01-11T02:00:00", "2024-01-11T20:00:00"])
    stops = starts + 20 * u.min
    nights = night_intervals(starts, stops, 14.78 * u.deg)
    assert len(nights) == 2
    assert nights[0][0].isot.startswith("2024-01-10T20:00")
    assert nights[0][1].isot.startswith("2024-01-11T02:20")


@pytest.mark.parametrize(
    ("name", "free"),
    [
        ("pl", {"index", "amplitude"}),
        ("lp", {"alpha", "beta", "amplitude"}),
        ("ecpl", {"index", "lambda_", "amplitude"}),
    ],
)
def test_spectral_models(name, free):
    model = make_spectral_model(name, 2 * u.TeV, {"amplitude": "1e-11 TeV-1 cm-2 s-1"})
    assert {p.name for p in model.parameters.free_parameters} == free
    assert model.reference.quantity == 2 * u.TeV
    assert model.amplitude.quantity == 1e-11 * u.Unit("TeV-1 cm-2 s-1")
    fixed = make_spectral_model(name, 1 * u.TeV, {"amplitude": "3e-12"}, ["amplitude"])
    assert fixed.amplitude.frozen and fixed.amplitude.value == pytest.approx(3e-12)


def test_html_embeds_images_only():
    summary = {key: None for key in SUMMARY_KEYS}
    summary.update(
        target={"name": "<b>X</b>", "ra_deg": 1.0, "dec_deg": 2.0},
        observations=[1],
        livetime_s=10.0,
        zenith_deg={"min": 20.0, "max": 21.0},
        n_on=1,
        n_off=2,
        alpha=0.5,
        excess=0.0,
        significance=0.0,
        detected=False,
        upper_limit={},
        spectral_fit={"parameters": {}},
        iactpipe_version="x",
    )
    page = render_html(summary, {"theta2": b"\x89PNG"})
    assert "data:image/png;base64,iVBORw==" in page
    assert "<b>X</b>" not in page  # escaped
