"""CORSIKA photons through the SST-1M optics: geometry against ctapipe's camera frame, true
images against sim_telarray's for the same showers (CTA prod4 run 102), the
``--input-corsika`` mode of ``iactpipe-simulate``."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from ctapipe.coordinates import CameraFrame, TelescopeFrame
from ctapipe.core import run_tool
from ctapipe.io import SimTelEventSource, TableLoader, read_table

from iactpipe.simulation.corsika import CorsikaPhotonImager, read_corsika_events
from iactpipe.simulation.optics import DaviesCottonOptics, telescope_basis
from iactpipe.tools.simulate import SimulateTool

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
CORSIKA = SHARED_DATA / "corsika" / "run102_gamma_za20deg_azm0deg-paranal-sst.corsika.zst"
#: sim_telarray's effective focal length of the SST-1M (EFFECTIVE_FOCAL_LENGTH 569.705 cm)
EFFECTIVE_FOCAL_LENGTH = 5.69705 * u.m


@pytest.fixture(scope="module")
def corsika_path() -> Path:
    """The CORSIKA IACT file of CTA prod4 run 102 (input of the sim_telarray file)."""
    if not CORSIKA.exists():
        pytest.skip(f"{CORSIKA} not present: real external test data lives in ../shared/data")
    return CORSIKA


def _parallel_beam(lon_deg, lat_deg, alt, az, n=40000, seed=0):
    """Photons of a point source at (fov_lon, fov_lat) filling the dish, in the horizontal
    plane through the dish centre (ground frame)."""
    basis = telescope_basis(alt, az)
    source = basis[2] + np.deg2rad(lon_deg) * basis[0] + np.deg2rad(lat_deg) * basis[1]
    travel = -source / np.linalg.norm(source)
    xy = np.random.default_rng(seed).uniform(-2.5, 2.5, (n, 2))
    start = xy[:, :1] * basis[0] + xy[:, 1:] * basis[1]
    start -= (start[:, 2] / travel[2])[:, np.newaxis] * travel
    return start[:, 0], start[:, 1], np.full(n, travel[0]), np.full(n, travel[1])


@pytest.mark.parametrize(("lon", "lat"), [(0.0, 0.0), (1.5, 0.0), (0.0, -2.0), (2.5, 2.5)])
def test_point_source_lands_where_ctapipe_expects(lon, lat):
    """A parallel beam focuses with its centroid at ctapipe's CameraFrame position of its
    direction (with sim_telarray's effective focal length) within 1 mm (0.01 deg), into a
    spot of r.m.s. below half a pixel (23 mm flat-to-flat); the 18 facets less the camera
    shadow collect 9.0-9.5 m^2 (sim_telarray: mirror area 9.42 m^2 before shadowing)."""
    optics = DaviesCottonOptics()
    alt, az = np.deg2rad(70.0), 0.0
    x_m, y_m, cx, cy = _parallel_beam(lon, lat, alt, az)
    x, y, t, status = optics(x_m, y_m, cx, cy, np.zeros(len(x_m)), alt, az)
    expected = SkyCoord(
        fov_lon=lon * u.deg, fov_lat=lat * u.deg, frame=TelescopeFrame()
    ).transform_to(CameraFrame(focal_length=EFFECTIVE_FOCAL_LENGTH))
    ok = status == 0
    assert abs(np.mean(x[ok]) - expected.x.to_value(u.m)) < 1e-3
    assert abs(np.mean(y[ok]) - expected.y.to_value(u.m)) < 1e-3
    assert np.std(x[ok]) < 0.0117 and np.std(y[ok]) < 0.0117  # half a pixel
    assert 9.0 < ok.mean() * 25.0 < 9.5
    assert optics.n_facets == 18
    # isochronous Davies-Cotton spread of arrival times: about 1 ns r.m.s.
    assert 0.5 < np.std(t[ok]) < 2.0


def _moments(geometry, image):
    """Hillas cog x, y, width, length (m): the weighted centre and the square roots of the
    eigenvalues of the weighted covariance of the pixel positions (as
    ``ctapipe.image.hillas_parameters``, 100 times faster)."""
    x, y = geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m)
    cov = np.cov(x, y, aweights=image, ddof=0)
    width, length = np.sqrt(np.linalg.eigvalsh(cov))
    return np.array([np.average(x, weights=image), np.average(y, weights=image), width, length])


def _simtel_images(path, last_event_id):
    images = {}
    with SimTelEventSource(path, focal_length_choice="EQUIVALENT") as source:
        geometry = source.subarray.tel[1].camera.geometry
        for event in source:
            if event.index.event_id > last_event_id:
                break
            for tel_id, tel in event.simulation.tel.items():
                if tel.true_image is not None and tel.true_image.sum() > 0:
                    images[(event.index.event_id, tel_id)] = tel.true_image.astype(float)
    return images, geometry


def test_true_images_agree_with_sim_telarray(corsika_path, prod4_sst1m_path):
    """Showers 1-13 of run 102 (107 telescope images): iactpipe's true images from the
    same photons vs sim_telarray's, images of at least 50 true p.e. in sim_telarray.
    The issue's requirement: median ratios of size, width and length within 10 % of 1
    (measured: see docs/simulate.rst); centroids within a third of a pixel in median."""
    images, geometry = _simtel_images(prod4_sst1m_path, last_event_id=1399)
    imager = CorsikaPhotonImager(geometry)
    rng = np.random.default_rng(0)
    ratios = []
    for event in read_corsika_events(corsika_path, max_showers=13):
        for (event_id, tel_id), ref in images.items():
            if event_id != event.event_id:
                continue
            ours = imager(rng, event.bunches[tel_id - 1], event.alt_rad, event.az_rad, 2150.0)
            if ref.sum() < 50:
                continue
            h_ref, h_ours = _moments(geometry, ref), _moments(geometry, ours.n_pe)
            cog = np.hypot(h_ours[0] - h_ref[0], h_ours[1] - h_ref[1])
            ratios.append((ours.n_pe.sum() / ref.sum(), *(h_ours[2:] / h_ref[2:]), cog))
    ratios = np.array(ratios)
    assert len(ratios) > 80
    size, width, length, cog = np.median(ratios, axis=0)
    assert abs(size - 1) < 0.10
    assert abs(width - 1) < 0.10
    assert abs(length - 1) < 0.10
    assert cog < 0.008


def test_simulate_input_corsika(corsika_path, tmp_path):
    """``iactpipe-simulate --input-corsika``: the telescopes sim_telarray triggered in
    showers 1-3 (event 301: tel 29, 37; event 303: tel 24, 32) trigger here too, and the
    file carries the triggers and shower truth ctapipe's TableLoader reads."""
    out = tmp_path / "corsika.h5"
    argv = [
        "--input-corsika",
        str(corsika_path),
        "--max-showers",
        "3",
        "--CorsikaSimulationSource.allowed_tels=[24, 29, 32, 37]",
        "-o",
        str(out),
    ]
    assert run_tool(SimulateTool(), argv, cwd=tmp_path) == 0
    with TableLoader(out) as loader:
        events = loader.read_telescope_events(
            simulated=True, true_images=True, true_parameters=False
        )
    pairs = zip(events["event_id"], events["tel_id"], strict=True)
    triggered = {(int(e), int(t)) for e, t in pairs}
    assert {(301, 29), (301, 37), (303, 24), (303, 32)} <= triggered
    assert np.all(events["true_image_sum"] > 20)
    assert np.allclose(events["true_energy"][events["event_id"] == 301], 0.3644, rtol=1e-4)
    run = read_table(out, "/configuration/simulation/run")
    assert run["n_showers"][0] == 3 and run["shower_reuse"][0] == 10
    assert run["prod_site_alt"].quantity[0] == 2150 * u.m
    block = read_table(out, "/configuration/observation/observation_block")
    assert np.isclose(block["subarray_pointing_lat"].quantity[0], 70 * u.deg)
    assert np.cos(block["subarray_pointing_lon"].quantity[0]) > 1 - 1e-9  # azimuth 0


def test_input_corsika_observation_mode_is_a_config_error(corsika_path, tmp_path):
    """CORSIKA input makes MC productions only: ``--mode observation`` exits 2, no file."""
    out = tmp_path / "run.h5"
    argv = ["--input-corsika", str(corsika_path), "--mode", "observation", "-o", str(out)]
    assert run_tool(SimulateTool(), argv, cwd=tmp_path, raises=False) == 2
    assert not list(tmp_path.glob("run*.h5"))


def test_input_corsika_not_a_corsika_file(prod4_sst1m_path, tmp_path):
    """A sim_telarray file given as CORSIKA input: one ERROR line, exit 2, no file."""
    out = tmp_path / "bad.h5"
    argv = ["--input-corsika", str(prod4_sst1m_path), "-o", str(out)]
    assert run_tool(SimulateTool(), argv, cwd=tmp_path, raises=False) == 2
    assert not out.exists()


def test_toy_source_options_stay_on_the_toy_source():
    """``--mode``, ``--seed``, ... set `ToySimulationSource` (and so the CORSIKA source, its
    subclass), not the subclass alone, which would leave the toy runs in MC mode."""
    from iactpipe.tools.simulate import SimulateTool

    tool = SimulateTool()
    tool.parse_command_line(["-o", "x.h5", "--mode", "observation", "--seed", "3"])
    assert tool.config.ToySimulationSource.mode == "observation"
    assert tool.config.ToySimulationSource.seed == 3
    assert "CorsikaSimulationSource" not in tool.config
