"""
IRF interpolation in cos(zenith) (``--irf-choice interpolate``).

The two-node library is made from the ``dl3_chain`` node (MC at zenith 27.5 deg): node
"low" is that file indexed at zenith 20 deg, node "high" the same file with effective
area, RAD_MAX and background scaled by 0.5 (and the gammaness cuts raised by 0.05)
indexed at zenith 35 deg. The nodes are synthetic (one MC production, not two at
different zeniths: a second production would add about 20 s to the suite), which makes
the expected interpolation exact: log-linear in the area between the nodes.
"""

import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from ctapipe.core import run_tool

from iactpipe.dl3.irf_choice import IRFSelector, read_irf_file
from iactpipe.dl3.irf_interpolation import interpolate_irf_files
from iactpipe.io import InputFileError
from iactpipe.tools.dl2_dl3 import DL2DL3Tool

from .conftest import OBS_ID

ZD_LOW, ZD_HIGH = 20.0, 35.0
SCALED = {"EFFECTIVE AREA": "EFFAREA", "RAD_MAX": "RAD_MAX", "BACKGROUND": "BKG"}


def _scale_file(path: Path) -> None:
    with fits.open(path, mode="update") as hdul:
        for name, column in SCALED.items():
            if name in hdul:
                hdul[name].data[column][0] *= 0.5
        cuts = hdul["GH_CUTS"].data["cut"]
        hdul["GH_CUTS"].data["cut"] = np.where(cuts < 1, np.minimum(cuts + 0.05, 0.99), cuts)


@pytest.fixture(scope="module")
def two_node_library(dl3_chain, tmp_path_factory) -> Path:
    source = dl3_chain["library"]
    index = Table.read(source / "irf_index.ecsv", format="ascii.ecsv")
    library = tmp_path_factory.mktemp("irfs_two_nodes")
    rows = []
    for zenith, tag in ((ZD_LOW, "low"), (ZD_HIGH, "high")):
        for row in index:
            new = dict(zip(row.colnames, row, strict=True))
            relative = Path(f"zd{zenith:02.0f}_{tag}") / Path(row["path"]).name
            (library / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / row["path"], library / relative)
            if tag == "high":
                _scale_file(library / relative)
            new.update(zenith=zenith, path=str(relative))
            rows.append(new)
    Table(rows=rows).write(library / "irf_index.ecsv", format="ascii.ecsv")
    return library


def _cos(zd):
    return float(np.cos(np.deg2rad(zd)))


def _area(irf):
    hdu = next(h for h in irf.hdus if h.name == "EFFECTIVE AREA")
    return np.asarray(hdu.data["EFFAREA"][0], dtype=float)


def test_interpolated_area_between_nodes_and_equal_at_nodes(two_node_library):
    files = [
        read_irf_file(next(two_node_library.glob(f"zd{zd:02.0f}_*/irf_point_like.fits.gz")))
        for zd in (ZD_LOW, ZD_HIGH)
    ]
    cos_nodes = [_cos(ZD_LOW), _cos(ZD_HIGH)]
    low, high = _area(files[0]), _area(files[1])
    positive = np.isfinite(low) & (low > 1)
    assert positive.sum() > 5
    middle = interpolate_irf_files(files, cos_nodes, _cos(27.5))
    area = _area(middle)
    assert np.all(area[positive] < low[positive])
    assert np.all(area[positive] > high[positive])
    w = (_cos(27.5) - cos_nodes[0]) / (cos_nodes[1] - cos_nodes[0])
    np.testing.assert_allclose(area[positive], low[positive] * 0.5**w, rtol=1e-6)
    assert np.all(np.isnan(area[~np.isfinite(low)]))
    # cuts and RAD_MAX also lie between the nodes
    gh = np.asarray(middle.gh_cuts["cut"])
    gh_low, gh_high = np.asarray(files[0].gh_cuts["cut"]), np.asarray(files[1].gh_cuts["cut"])
    defined = gh_low < 1
    assert np.all((gh[defined] > gh_low[defined]) & (gh[defined] < gh_high[defined]))
    # at a node: that node
    for irf, cos_node in zip(files, cos_nodes, strict=True):
        at_node = interpolate_irf_files(files, cos_nodes, cos_node)
        np.testing.assert_array_equal(_area(at_node), _area(irf))
        for a, b in zip(at_node.hdus, irf.hdus, strict=True):
            for column in a.columns.names:
                np.testing.assert_array_equal(a.data[column], b.data[column])


def test_selector_brackets_and_falls_back(two_node_library):
    selector = IRFSelector(method="interpolate", max_cos_zenith_distance=0.2)
    choice = selector(two_node_library, 27.5 * u.deg, 180 * u.deg)
    assert choice.method == "interpolate"
    assert [n[1].to_value(u.deg) for n in choice.nodes] == [ZD_HIGH, ZD_LOW]
    assert sum(n[3] for n in choice.nodes) == pytest.approx(1)
    cards = {k: v for k, v, _ in choice.header_cards()}
    assert cards["IRF_METH"] == "interpolate"
    assert {cards["IRF_ZD1"], cards["IRF_ZD2"]} == {ZD_LOW, ZD_HIGH}
    for zenith in (ZD_LOW, 10.0):  # at a node, outside the range: nearest node
        choice = selector(two_node_library, zenith * u.deg, 180 * u.deg)
        assert choice.method == "nearest" and not choice.nodes
    # half way, farther than max_cos_zenith_distance (0.05) from both nodes (0.053 and
    # 0.068): interpolated; the nearest node alone is refused
    assert IRFSelector(method="interpolate")(two_node_library, 27.5 * u.deg, 180 * u.deg).nodes
    with pytest.raises(InputFileError, match="no IRF node within range"):
        IRFSelector(method="nearest")(two_node_library, 27.5 * u.deg, 180 * u.deg)


@pytest.mark.parametrize("irf_type", ["point-like", "full-enclosure"])
def test_dl2_dl3_interpolate(dl3_chain, two_node_library, tmp_path, irf_type):
    """The tool writes the interpolated IRF and records both nodes; gammapy reads it."""
    argv = [
        f"--input={dl3_chain['observation_dl2']}",
        f"--irfs={two_node_library}",
        f"--output={tmp_path}",
        "--irf-choice=interpolate",
        f"--irf-type={irf_type}",
        "--IRFSelector.max_cos_zenith_distance=0.2",
    ]
    assert run_tool(DL2DL3Tool(), argv=argv) == 0
    path = tmp_path / f"dl3_obs{OBS_ID:08d}.fits.gz"
    with fits.open(path) as hdul:
        header = hdul["EVENTS"].header
        area = np.asarray(hdul["EFFECTIVE AREA"].data["EFFAREA"][0], dtype=float)
    assert header["IRF_METH"] == "interpolate"
    assert {header["IRF_ZD1"], header["IRF_ZD2"]} == {ZD_LOW, ZD_HIGH}
    assert header["IRF_WT1"] + header["IRF_WT2"] == pytest.approx(1)
    name = f"irf_{irf_type.replace('-', '_')}.fits.gz"
    low = _area(read_irf_file(two_node_library / f"zd{ZD_LOW:02.0f}_low" / name))
    positive = np.isfinite(low) & (low > 1)
    assert np.all((area[positive] < low[positive]) & (area[positive] > 0.5 * low[positive]))

    from gammapy.irf import load_irf_dict_from_file

    irfs = load_irf_dict_from_file(path)
    assert "aeff" in irfs and "edisp" in irfs
