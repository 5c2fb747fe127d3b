"""iactpipe-dl2-dl3 and iactpipe-index on a simulated observation run (see conftest.py
for the statistics): live time vs truth, gammapy DataStore, GADF keywords and columns,
bad inputs."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from ctapipe.core import run_tool

from iactpipe.dl3 import LiveTimeEstimator, physics_trigger_times, telescope_live_time
from iactpipe.dl3.gadf import REQUIRED_EVENTS_COLUMNS, REQUIRED_EVENTS_KEYWORDS
from iactpipe.dl3.livetime import dead_interval_union_ns
from iactpipe.tools.dl2_dl3 import DL2DL3Tool
from iactpipe.tools.index import IndexTool

from .conftest import DEAD_TIME_S, OBS_ID

PROD5 = sorted(
    (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "irf").glob("Prod5*.fits.gz")
)


def _recorded(times_ns, dead_ns):
    out, busy = [], -1
    for t in times_ns:
        if t >= busy:
            out.append(t)
            busy = t + dead_ns
    return np.array(out, dtype=np.int64)


def test_live_time_poisson_with_dead_time():
    """500 Hz Poisson triggers, 1 ms dead time, 100 s: N/R within 3 sigma of the truth."""
    rng = np.random.default_rng(1)
    true = np.sort(rng.uniform(0, 100e9, 50_000)).astype(np.int64)
    recorded = _recorded(true, 1_000_000)
    lt = telescope_live_time(recorded)
    truth = (recorded[-1] - recorded[0]) / 1e9 - (len(recorded) - 1) * 1e-3
    sigma = lt.live_time.to_value(u.s) / np.sqrt(len(recorded))
    assert abs(lt.live_time.to_value(u.s) - truth) < 3 * sigma
    assert lt.dead_time.to_value(u.ms) == pytest.approx(1.0, rel=0.02)


@pytest.fixture(scope="module")
def dl3_dir(dl3_chain, tmp_path_factory):
    out = tmp_path_factory.mktemp("dl3")
    argv = [
        f"--input={dl3_chain['observation_dl2']}",
        f"--irfs={dl3_chain['library']}",
        f"--output={out}",
        "--object=Crab",
    ]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    assert run_tool(IndexTool(), argv=[f"--dl3-dir={out}"]) == 0
    return out


def test_live_time_vs_truth(dl3_chain, dl3_dir):
    """Per telescope and stereo, the estimate agrees with the live time computed from the
    recorded triggers and the simulated dead time (1 ms) within 3 sigma of the rate fit."""
    times = physics_trigger_times(dl3_chain["observation_dl2"])
    total, per_tel = LiveTimeEstimator()(times)
    dead_ns = DEAD_TIME_S * 1e9
    for tel_id, t in times.items():
        truth = (t[-1] - t[0]) / 1e9 - (len(t) - 1) * DEAD_TIME_S
        est = per_tel[tel_id].live_time.to_value(u.s)
        assert abs(est - truth) < 3 * est / np.sqrt(len(t)), (tel_id, est, truth)
        assert per_tel[tel_id].dead_time.to_value(u.ms) == pytest.approx(1.0, rel=0.3)
    start = min(t.min() for t in times.values())
    stop = max(t.max() for t in times.values())
    union = dead_interval_union_ns(list(times.values()), [dead_ns, dead_ns], start, stop)
    truth = (stop - start - union) / 1e9
    n = min(len(t) for t in times.values())
    assert abs(total.live_time.to_value(u.s) - truth) < 3 * truth / np.sqrt(n)
    header = fits.getheader(dl3_dir / f"dl3_obs{OBS_ID:08d}.fits.gz", "EVENTS")
    assert header["LIVETIME"] == pytest.approx(total.live_time.to_value(u.s), rel=1e-6)
    assert header["DEADC"] < 0.99  # 1 ms dead time at about 70 Hz per telescope


def test_gammapy_data_store(dl3_dir):
    from gammapy.data import DataStore

    store = DataStore.from_dir(dl3_dir)
    assert list(store.obs_table["OBS_ID"]) == [OBS_ID]
    classes = dict(zip(store.hdu_table["HDU_TYPE"], store.hdu_table["HDU_CLASS"], strict=True))
    assert classes == {
        "events": "events",
        "gti": "gti",
        "pointing": "pointing",
        "aeff": "aeff_2d",
        "edisp": "edisp_2d",
        "rad_max": "rad_max_2d",
        "bkg": "bkg_2d",
    }
    obs = store.obs(OBS_ID, required_irf="point-like")
    assert len(obs.events.table) > 10
    assert obs.gti.time_sum.to_value(u.s) == pytest.approx(
        obs.observation_time_duration.to_value(u.s), rel=1e-6
    )
    assert obs.observation_live_time_duration < obs.observation_time_duration
    energy = [2, 5, 10] * u.TeV
    offset = 0.4 * u.deg
    assert np.all(obs.aeff.evaluate(energy_true=energy, offset=offset) > 0 * u.m**2)
    assert obs.edisp.to_edisp_kernel(offset).pdf_matrix.sum() > 0
    assert np.all(obs.rad_max.evaluate(energy=energy, offset=offset) > 0 * u.deg)
    assert obs.bkg is not None
    assert obs.pointing.fixed_icrs.separation(obs.events.pointing_radec) < 0.01 * u.deg
    # the events follow the source: most are within 0.3 deg of the Crab
    from astropy.coordinates import SkyCoord

    crab = SkyCoord(83.63308, 22.0145, unit="deg")
    near = obs.events.radec.separation(crab) < 0.3 * u.deg
    assert near.mean() > 0.5


def test_gadf_keywords_and_columns(dl3_dir):
    path = dl3_dir / f"dl3_obs{OBS_ID:08d}.fits.gz"
    with fits.open(path) as hdul:
        events = hdul["EVENTS"]
        missing = [k for k in REQUIRED_EVENTS_KEYWORDS if k not in events.header]
        assert not missing
        for column, unit in REQUIRED_EVENTS_COLUMNS.items():
            assert column in events.columns.names
            if unit is not None:
                assert u.Unit(events.columns[column].unit) == unit
        assert {"GAMMANESS", "MULTIP", "ALT", "AZ"} <= set(events.columns.names)
        assert np.all(np.diff(events.data["TIME"]) >= 0)
        t = events.data["TIME"]
        assert events.header["TSTART"] <= t.min() and t.max() <= events.header["TSTOP"]
        assert events.header["IRF_METH"] == "nearest"
        assert events.header["IRF_DCZ"] < 0.01
        for name in (
            "GTI",
            "POINTING",
            "EFFECTIVE AREA",
            "ENERGY DISPERSION",
            "RAD_MAX",
            "BACKGROUND",
        ):
            assert hdul[name].header["HDUCLASS"] == "GADF"
            assert hdul[name].header["OBS_ID"] == OBS_ID


@pytest.mark.skipif(not PROD5, reason="no Prod5 IRFs in ../shared/data/irf")
def test_irf_hdus_match_prod5(dl3_dir, dl3_full_dir):
    """Every IRF HDU has the columns (with units) and HDUCLASx of the same HDU in CTAO's
    Prod5 files."""
    ours = {}
    for directory in (dl3_dir, dl3_full_dir):
        with fits.open(directory / f"dl3_obs{OBS_ID:08d}.fits.gz") as hdul:
            ours.update({h.name: (h.header, h.columns) for h in hdul[1:]})
    with fits.open(PROD5[0]) as ref:
        for hdu in ref[1:]:
            name = {"POINT SPREAD FUNCTION": "PSF"}.get(hdu.name, hdu.name)
            if name not in ours:
                continue
            header, columns = ours[name]
            if header.get("HDUCLAS4") != hdu.header.get("HDUCLAS4"):
                # Prod5: PSF_3GAUSS and BKG_3D; ours PSF_TABLE and BKG_2D (other classes)
                assert header["HDUCLAS4"] in ("PSF_TABLE", "BKG_2D"), name
                continue
            for key in ("HDUCLAS1", "HDUCLAS2", "HDUCLAS3"):
                assert header.get(key) == hdu.header.get(key), (name, key)
            for column in hdu.columns:
                assert column.name in columns.names, (name, column.name)
                if column.unit:
                    assert u.Unit(columns[column.name].unit) == u.Unit(column.unit)


@pytest.fixture(scope="module")
def dl3_full_dir(dl3_chain, tmp_path_factory):
    out = tmp_path_factory.mktemp("dl3_full")
    argv = [
        f"--input={dl3_chain['observation_dl2']}",
        f"--irfs={dl3_chain['library']}",
        f"--output={out}",
        "--irf-type=full-enclosure",
    ]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    assert run_tool(IndexTool(), argv=[f"--dl3-dir={out}"]) == 0
    return out


def test_gammapy_check_full_enclosure(dl3_full_dir, monkeypatch):
    """gammapy's DataStore.check() (which loads full-enclosure observations) passes.

    gammapy 2.1's EventListChecker compares ``t["TIME"].unit`` although the loaded table
    holds TIME as an astropy ``Time`` (AttributeError for any file); TIME is left out of
    its column check here and its unit is checked in test_gadf_keywords_and_columns.
    """
    from gammapy.data import DataStore
    from gammapy.data.event_list import EventListChecker

    columns = [c for c in EventListChecker.columns_required if c[0] != "TIME"]
    monkeypatch.setattr(EventListChecker, "columns_required", columns)

    store = DataStore.from_dir(dl3_full_dir)
    bad = [r for r in store.check() if r.get("level") in ("error", "warning")]
    assert not bad, bad
    obs = store.obs(OBS_ID)
    assert obs.psf is not None
    assert obs.psf.containment_radius(0.68, energy_true=5 * u.TeV, offset=0.4 * u.deg) > 0 * u.deg


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--DL2EventSelection.min_intensity_pe=80"], "another event selection"),
        (["--nsb-level=moon"], "no point-like IRF"),
        (["--IRFSelector.max_cos_zenith_distance=0", "--gamma-efficiency=0.7"], None),
    ],
)
def test_bad_inputs_leave_no_file(dl3_chain, tmp_path, argv, message, capsys):
    base = [
        f"--input={dl3_chain['observation_dl2']}",
        f"--irfs={dl3_chain['library']}",
        f"--output={tmp_path}",
    ]
    code = run_tool(DL2DL3Tool(), argv=base + argv, raises=False)
    if message is None:  # a zero distance is never met exactly
        assert code == 2
    else:
        assert code == 2
        assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.fits*"))


def test_simulated_input_rejected(dl3_chain, tmp_path, capsys):
    mc = dl3_chain["library"].parent / "gamma_point.dl2.h5"
    argv = [f"--input={mc}", f"--irfs={dl3_chain['library']}", f"--output={tmp_path}"]
    assert run_tool(DL2DL3Tool(), argv=argv, raises=False) == 2
    assert "simulated file" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.fits*"))


@pytest.mark.parametrize("tool", [DL2DL3Tool, IndexTool])
def test_help_all(tool):
    assert run_tool(tool(), ["--help-all"]) == 0
