"""
IRFs averaged over a run's zenith track (``--irf-choice track``).

Synthetic nodes in memory (zenith 20 and 40 deg, known effective area, Gaussian
migration PDFs, RAD_MAX) for the analytic cases; the two-node library of
test_irf_interpolation (the ``dl3_chain`` IRFs at zenith 20 and 35 deg, area halved at
35 deg) for the selector and the tool.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from ctapipe.core import run_tool

from iactpipe.dl3.irf_choice import IRFSelector, load_irf
from iactpipe.dl3.irf_file import IRFFile
from iactpipe.dl3.irf_interpolation import interpolate_irf_files
from iactpipe.dl3.irf_track import PointingTrack, average_irfs, track_slices
from iactpipe.tools.dl2_dl3 import DL2DL3Tool

from .conftest import OBS_ID
from .test_irf_interpolation import ZD_HIGH, ZD_LOW, two_node_library  # noqa: F401

E_TRUE = np.geomspace(0.3, 100, 31)  # TeV
E_RECO = np.geomspace(0.3, 100, 16)
MIGRA = np.linspace(0.2, 3.0, 41)
AREA = 2e4 * (1 - np.exp(-np.sqrt(E_TRUE[:-1] * E_TRUE[1:]) / 2))  # m2, at zenith 20 deg


def _hdu(name: str, columns: dict) -> fits.BinTableHDU:
    hdu = fits.table_to_hdu(
        QTable({k: [np.asarray(v, dtype=np.float32)] for k, v in columns.items()})
    )
    hdu.name = name
    return hdu


def _cuts(values) -> QTable:
    centre = np.sqrt(E_RECO[:-1] * E_RECO[1:])
    return QTable(
        {
            "low": E_RECO[:-1] * u.TeV,
            "high": E_RECO[1:] * u.TeV,
            "center": centre * u.TeV,
            "n_events": np.zeros(len(centre), dtype=int),
            "cut": values,
        }
    )


def _node(area_scale: float, sigma: float, rad_max: float, name: str) -> IRFFile:
    """A point-like IRF: area ``area_scale`` x AREA, Gaussian migration of width sigma."""
    migra = (MIGRA[:-1] + MIGRA[1:]) / 2
    pdf = np.exp(-0.5 * ((migra - 1) / sigma) ** 2)
    pdf /= np.sum(pdf * np.diff(MIGRA))
    matrix = np.repeat(pdf[:, None], len(E_TRUE) - 1, axis=1)[None]  # (offset, migra, E)
    theta = {"THETA_LO": [0.0], "THETA_HI": [1.0]}
    true = {"ENERG_LO": E_TRUE[:-1], "ENERG_HI": E_TRUE[1:]}
    hdus = [
        _hdu("EFFECTIVE AREA", {**true, **theta, "EFFAREA": area_scale * AREA[None]}),
        _hdu(
            "ENERGY DISPERSION",
            {**true, "MIGRA_LO": MIGRA[:-1], "MIGRA_HI": MIGRA[1:], **theta, "MATRIX": matrix},
        ),
        _hdu(
            "RAD_MAX",
            {
                "ENERG_LO": E_RECO[:-1],
                "ENERG_HI": E_RECO[1:],
                **theta,
                "RAD_MAX": np.full((1, len(E_RECO) - 1), rad_max),
            },
        ),
    ]
    gh = np.full(len(E_RECO) - 1, 0.5 + rad_max)
    gh[0] = 1.0  # no cut in the first bin
    return IRFFile(
        Path(f"{name}.fits.gz"),
        hdus,
        _cuts(gh),
        _cuts(np.full(len(E_RECO) - 1, rad_max) * u.deg),
        "fingerprint",
        {},
        "point-like",
        fits.Header(),
    )


def _column(irf: IRFFile, name: str, column: str) -> np.ndarray:
    hdu = next(h for h in irf.hdus if h.name == name)
    return np.asarray(hdu.data[column][0], dtype=np.float64)


def _cos(zenith_deg):
    return np.cos(np.deg2rad(zenith_deg))


def test_two_slices_average_is_the_weighted_mixture():
    """AEFF by live time; EDISP, RAD_MAX and cuts by live time x area; rows normalised."""
    a, b = _node(1.0, 0.15, 0.2, "a"), _node(0.4, 0.30, 0.3, "b")
    live = np.array([1000.0, 3000.0])
    mean = average_irfs([a, b], live * u.s)
    area_a, area_b = (
        _column(a, "EFFECTIVE AREA", "EFFAREA"),
        _column(b, "EFFECTIVE AREA", "EFFAREA"),
    )
    np.testing.assert_allclose(
        _column(mean, "EFFECTIVE AREA", "EFFAREA"),
        (1000 * area_a + 3000 * area_b) / 4000,
        rtol=1e-6,
    )
    w_a, w_b = 1000 * area_a, 3000 * area_b  # per true energy
    expected = (
        w_a * _column(a, "ENERGY DISPERSION", "MATRIX")
        + w_b * _column(b, "ENERGY DISPERSION", "MATRIX")
    ) / (w_a + w_b)
    matrix = _column(mean, "ENERGY DISPERSION", "MATRIX")
    np.testing.assert_allclose(matrix, expected, rtol=1e-6)
    np.testing.assert_allclose(np.sum(matrix[0] * np.diff(MIGRA)[:, None], axis=0), 1, rtol=1e-5)
    # RAD_MAX and theta cut: area-weighted between 0.2 and 0.3 deg, nearer 0.2 where the
    # area of a (weight 1000 x 1) exceeds that of b (3000 x 0.4)
    rad_max = _column(mean, "RAD_MAX", "RAD_MAX")[0]
    assert np.all((rad_max > 0.2) & (rad_max < 0.3))
    np.testing.assert_allclose(rad_max, 0.2 * 1000 / 2200 + 0.3 * 1200 / 2200, rtol=1e-5)
    np.testing.assert_allclose(mean.theta_cuts["cut"].to_value(u.deg), rad_max, rtol=1e-5)
    gh = np.asarray(mean.gh_cuts["cut"])
    assert gh[0] == 1.0  # no cut at one slice: none in the average
    np.testing.assert_allclose(gh[1:], rad_max[1:] + 0.5, rtol=1e-5)


def test_track_area_is_the_time_average_along_the_track():
    """A run drifting 22 -> 38 deg at a constant zenith rate between nodes at 20 and 40 deg."""
    nodes, cos_nodes = (
        [_node(1.0, 0.15, 0.2, "zd20"), _node(0.3, 0.25, 0.3, "zd40")],
        [
            _cos(20.0),
            _cos(40.0),
        ],
    )
    duration = 6000.0
    time = np.linspace(0, duration, 601)
    track = PointingTrack(
        time * u.s,
        (22 + 16 * time / duration) * u.deg,
        np.full(len(time), 250.0) * u.deg,
        [0.0] * u.s,
        [duration] * u.s,
    )
    slices = track_slices(track, 0.5 * u.deg)
    assert len(slices.zenith) == 32
    np.testing.assert_allclose(slices.live_time.to_value(u.s), duration / 32)
    irfs = [
        interpolate_irf_files(nodes, cos_nodes, _cos(zd.to_value(u.deg))) for zd in slices.zenith
    ]
    area = _column(average_irfs(irfs, slices.live_time), "EFFECTIVE AREA", "EFFAREA")
    # truth: the area interpolated log-linearly in cos zd (pyirf), averaged over time
    t = np.linspace(0, duration, 200_001)
    w = (_cos(22 + 16 * t / duration) - cos_nodes[0]) / (cos_nodes[1] - cos_nodes[0])
    truth = np.trapezoid(0.3**w, t) / duration * _column(nodes[0], "EFFECTIVE AREA", "EFFAREA")
    np.testing.assert_allclose(area, truth, rtol=2e-4)
    # the mean-zenith interpolation (what --irf-choice interpolate does) is 10x farther
    middle = _column(
        interpolate_irf_files(nodes, cos_nodes, _cos(30.0)), "EFFECTIVE AREA", "EFFAREA"
    )
    assert np.all(np.abs(middle / truth - 1) > 10 * np.abs(area / truth - 1))


def test_slices_follow_the_gtis():
    """A gap in the GTIs: slices lose the time outside them; the zenith is at their GTI time."""
    time = np.linspace(0, 1000, 101)
    track = PointingTrack(
        time * u.s,
        (30 + time / 500) * u.deg,
        np.full(101, 359.0) * u.deg,
        [0, 600] * u.s,
        [250, 1000] * u.s,
    )
    slices = track_slices(track, 1.0 * u.deg)  # 2 deg of drift: 2 slices of 500 s
    np.testing.assert_allclose(slices.live_time.to_value(u.s), [250, 400])
    np.testing.assert_allclose(slices.zenith.to_value(u.deg), [30 + 125 / 500, 30 + 800 / 500])
    with pytest.raises(ValueError, match="GTIs"):
        track_slices(PointingTrack(time * u.s, track.zenith, track.azimuth, [0] * u.s, [0] * u.s))


def test_constant_zenith_track_is_the_interpolation(two_node_library):  # noqa: F811
    """One slice: the IRFs are the interpolate choice's bit for bit; the header records it."""
    time = np.linspace(0, 600, 61) * u.s
    track = PointingTrack(
        time, np.full(61, 27.5) * u.deg, np.full(61, 180.0) * u.deg, [0] * u.s, [600] * u.s
    )
    kwargs = {"max_cos_zenith_distance": 0.2}
    choice = IRFSelector(method="track", **kwargs)(
        two_node_library, 27.5 * u.deg, 180 * u.deg, track
    )
    reference = IRFSelector(method="interpolate", **kwargs)(
        two_node_library, 27.5 * u.deg, 180 * u.deg
    )
    tracked, interpolated = load_irf(choice), load_irf(reference)
    for a, b in zip(tracked.hdus, interpolated.hdus, strict=True):
        for column in a.columns.names:
            np.testing.assert_array_equal(a.data[column], b.data[column])
    np.testing.assert_array_equal(tracked.gh_cuts["cut"], interpolated.gh_cuts["cut"])
    cards = {k: v for k, v, _ in choice.header_cards()}
    assert cards["IRF_METH"] == "track" and cards["IRF_NSL"] == 1
    assert cards["IRF_ZMIN"] == cards["IRF_ZMAX"] == pytest.approx(27.5)
    weights = {cards["IRF_ZD1"]: cards["IRF_WT1"], cards["IRF_ZD2"]: cards["IRF_WT2"]}
    expected = {zd: w for _, zd, _, w in reference.nodes}
    assert weights == pytest.approx({zd.to_value(u.deg): w for zd, w in expected.items()})
    with pytest.raises(ValueError, match="pointing track"):
        IRFSelector(method="track")(two_node_library, 27.5 * u.deg, 180 * u.deg)


def test_dl2_dl3_track_reproducible(dl3_chain, two_node_library, tmp_path):  # noqa: F811
    """The tool writes the track choice; the same inputs give the same bytes."""
    paths = []
    for name in ("a", "b"):
        argv = [
            f"--input={dl3_chain['observation_dl2']}",
            f"--irfs={two_node_library}",
            f"--output={tmp_path / name}",
            "--irf-choice=track",
            "--IRFSelector.max_cos_zenith_distance=0.2",
        ]
        assert run_tool(DL2DL3Tool(), argv=argv) == 0
        paths.append(tmp_path / name / f"dl3_obs{OBS_ID:08d}.fits.gz")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with fits.open(paths[0]) as hdul:
        header = hdul["EVENTS"].header
    assert header["IRF_METH"] == "track" and header["IRF_NSL"] >= 1
    assert {header["IRF_ZD1"], header["IRF_ZD2"]} == {ZD_LOW, ZD_HIGH}
    assert header["IRF_WT1"] + header["IRF_WT2"] == pytest.approx(1)
    assert not header["IRF_ND1"].startswith("/")  # relative to the library
