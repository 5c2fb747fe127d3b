"""Monitor elements of a simulated run compared with the simulator's truth, and the
stereo matched fraction from an ``iactpipe-dl1-stereo`` file."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, SkyCoord
from astropy.time import Time
from ctapipe.core import run_tool
from ctapipe.io import read_table

from iactpipe.instrument import ONDREJOV_LOCATION
from iactpipe.quality.checks import StereoFractionCheck
from iactpipe.quality.elements import MonitorElementsMaker
from iactpipe.tools.dl1_stereo import DL1StereoTool


@pytest.fixture(scope="module")
def clean_elements(dqm_runs):
    maker = MonitorElementsMaker(rate_bin_s=1.0)
    return {tel_id: maker(path)[0] for tel_id, path in dqm_runs["clean"].items()}


def test_run_properties_match_simulation(clean_elements, dqm_runs):
    """Zenith: the simulated wobble pointing (0.4 deg north of the Crab) seen from
    Ondřejov in the middle of the run, within 0.05 deg (the run is 8 s long)."""
    for tel_id, e in clean_elements.items():
        assert (e.obs_id, e.tel_id) == (3001, tel_id)
        assert e.source == "Crab Nebula" and e.night == "2024-01-10"
        crab = SkyCoord(ra=83.63308 * u.deg, dec=22.0145 * u.deg)
        pointing = crab.directional_offset_by(0 * u.deg, 0.4 * u.deg)
        middle = Time("2024-01-10T22:01:00") + 4 * u.s
        alt = pointing.transform_to(AltAz(obstime=middle, location=ONDREJOV_LOCATION)).alt
        assert e.zenith_deg == pytest.approx(90 - alt.to_value(u.deg), abs=0.05)
        assert sum(e.trigger_counts) == e.n_events
        assert e.duration_s == pytest.approx(8.0, abs=0.5)
        # 20 us dead time at about 40 Hz: live time within 0.5 % of the elapsed time
        assert e.livetime_s == pytest.approx(e.duration_s, rel=0.005)
        assert len(e.pedestal_std_pe) == 1296 and e.n_pedestal_rows >= 1
        assert np.isnan(e.stereo_matched_fraction)  # mono file


def test_stereo_matched_fraction(dqm_runs, clean_elements, tmp_path):
    files = dqm_runs["clean"]
    stereo = tmp_path / "clean.stereo.h5"
    argv = [f"--input-1={files[21]}", f"--input-2={files[22]}", f"--output={stereo}", "--keep-mono"]
    assert run_tool(DL1StereoTool(), argv=argv, cwd=tmp_path) == 0
    summary = read_table(stereo, "/dl1/service/coincidence/summary")[0]
    elements = {e.tel_id: e for e in MonitorElementsMaker(rate_bin_s=1.0)(stereo)}
    for k in (1, 2):
        e = elements[int(summary[f"tel_id_{k}"])]
        assert e.stereo_matched_fraction == pytest.approx(summary["n_pairs"] / summary[f"n_{k}"])
        assert 0 < e.stereo_matched_fraction < 1
        # the per-telescope elements are those of the mono file
        assert e.n_events == clean_elements[e.tel_id].n_events
        assert e.nsb_level_pe == pytest.approx(clean_elements[e.tel_id].nsb_level_pe)
        assert StereoFractionCheck()(e) == []
        assert StereoFractionCheck(min_matched_fraction=0.99)(e)
