"""iactpipe-dl1-stereo through run_tool: merging, TableLoader, geometry vs ctapipe, errors."""

import shutil

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.core import run_tool
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import TableLoader
from ctapipe.tools.process import ProcessorTool

from iactpipe.io import FINGERPRINT_ATTRIBUTE, read_provenance
from iactpipe.tools.dl1_stereo import DL1StereoTool
from iactpipe.tools.r0_dl1 import R0DL1Tool

PAIR = (17, 21)  # the prod4 telescope pair that sees the most showers together (4)
#: a pair with two showers passing the stereo quality criteria of ctapipe-process
GEOMETRY_PAIR = (21, 39)
PREFIX = "HillasReconstructor"


@pytest.fixture(scope="module")
def per_telescope_dl1(prod4_sst1m_path, tmp_path_factory):
    """iactpipe-r0-dl1 on each telescope of the pair separately (two one-telescope files)."""
    tmp = tmp_path_factory.mktemp("dl1_stereo")
    paths = []
    for tel_id in PAIR:
        path = tmp / f"tel{tel_id}.dl1.h5"
        argv = [f"--input={prod4_sst1m_path}", f"--output={path}", f"--allowed-tels={tel_id}"]
        assert run_tool(R0DL1Tool(), argv=[*argv, "--write-images"]) == 0
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def merged(per_telescope_dl1):
    output = per_telescope_dl1[0].with_name("stereo.h5")
    argv = [
        f"--input-1={per_telescope_dl1[0]}",
        f"--input-2={per_telescope_dl1[1]}",
        f"--output={output}",
        "--keep-mono",
    ]
    assert run_tool(DL1StereoTool(), argv=argv) == 0
    return output


def test_help_all():
    assert run_tool(DL1StereoTool(), ["--help-all"]) == 0


def test_merge_readable_by_tableloader(per_telescope_dl1, merged):
    with TableLoader(merged) as loader:
        events = loader.read_subarray_events(dl2=True, simulated=True)
        tel = loader.read_telescope_events_by_id(
            list(PAIR), dl1_parameters=True, dl1_images=True, dl2=True, simulated=True
        )
    n = {
        t: len(TableLoader(p).read_subarray_events())
        for t, p in zip(PAIR, per_telescope_dl1, strict=True)
    }
    assert len(tel[PAIR[0]]) == n[PAIR[0]] and len(tel[PAIR[1]]) == n[PAIR[1]]
    assert len(np.unique(events["event_id"])) == len(events)
    stereo = events["tels_with_trigger"].all(axis=1)
    assert stereo.sum() >= 3  # the pair sees 4 showers together
    # same shower truth on both sides of every stereo event
    for t in PAIR:
        assert (
            "true_energy" in tel[t].colnames and f"{PREFIX}_tel_impact_distance" in tel[t].colnames
        )
    assert f"{PREFIX}_alt" in events.colnames
    assert not events[f"{PREFIX}_is_valid"][~stereo].any()
    with tables.open_file(merged) as h5:
        original = h5.root.dl1.event.telescope.original_ids.tel_017.read()
        assert len(original) == n[PAIR[0]]
        assert "/dl1/service/coincidence/summary" in h5
    assert SubarrayDescription.from_hdf(merged).tel_ids.tolist() == list(PAIR)
    fingerprint = read_provenance(per_telescope_dl1[0])[FINGERPRINT_ATTRIBUTE]
    assert read_provenance(merged)[FINGERPRINT_ATTRIBUTE] == fingerprint
    assert merged.with_name("stereo.coincidence.png").stat().st_size > 1000


def test_geometry_equals_ctapipe_process(prod4_sst1m_path, tmp_path):
    """ctapipe-process restricted to the pair, then our tool on its DL1: same geometry."""
    processed = tmp_path / "process.h5"
    argv = [
        f"--input={prod4_sst1m_path}",
        f"--output={processed}",
        "--write-showers",
        "--write-parameters",
        *[f"--EventSource.allowed_tels={t}" for t in GEOMETRY_PAIR],
    ]
    assert run_tool(ProcessorTool(), argv=argv) == 0
    output = tmp_path / "stereo.h5"
    assert run_tool(DL1StereoTool(), [f"--input={processed}", f"--output={output}"]) == 0
    with TableLoader(processed) as loader:
        theirs = loader.read_subarray_events(dl2=True, simulated=True)
    with TableLoader(output) as loader:
        ours = loader.read_subarray_events(dl2=True, simulated=True)
    theirs = theirs[theirs[f"{PREFIX}_is_valid"]]
    ours = ours[ours[f"{PREFIX}_is_valid"]]
    assert len(theirs) == 2 and len(ours) == len(theirs)
    np.testing.assert_array_equal(ours["true_energy"], theirs["true_energy"])
    for name, tol in (
        ("alt", 1e-9 * u.deg),
        ("az", 1e-9 * u.deg),
        ("core_x", 1e-3 * u.m),
        ("core_y", 1e-3 * u.m),
        ("h_max", 1e-3 * u.m),
    ):
        a, b = u.Quantity(ours[f"{PREFIX}_{name}"]), u.Quantity(theirs[f"{PREFIX}_{name}"])
        assert u.allclose(a, b, atol=tol, rtol=0), name


def _fails(argv, capsys, *words):
    assert run_tool(DL1StereoTool(), argv, raises=False) != 0
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err


def test_same_telescope_twice(per_telescope_dl1, tmp_path, capsys):
    output = tmp_path / "out.h5"
    copy = tmp_path / "copy.h5"
    shutil.copy(per_telescope_dl1[0], copy)
    _fails(
        [f"--input-1={per_telescope_dl1[0]}", f"--input-2={copy}", f"--output={output}"],
        capsys,
        "same telescope",
        str(copy),
    )
    assert not output.exists()


def test_no_time_overlap(per_telescope_dl1, tmp_path, capsys):
    shifted = tmp_path / "shifted.h5"
    shutil.copy(per_telescope_dl1[1], shifted)
    with tables.open_file(shifted, mode="a") as h5:
        trigger = h5.root.dl1.event.telescope.trigger
        times = trigger.col("time")
        times[:, 0] += 86400
        trigger.modify_column(colname="time", column=times)
    output = tmp_path / "out.h5"
    _fails(
        [
            f"--input-1={per_telescope_dl1[0]}",
            f"--input-2={shifted}",
            f"--output={output}",
            "--matcher=WhiteRabbitClosestMatcher",
        ],
        capsys,
        "no time overlap",
        str(shifted),
    )
    assert not output.exists()


def test_different_subarrays(per_telescope_dl1, tmp_path, capsys):
    moved = tmp_path / "moved.h5"
    shutil.copy(per_telescope_dl1[1], moved)
    subarray = SubarrayDescription.from_hdf(moved)
    other = SubarrayDescription(
        name=subarray.name,
        tel_positions=subarray.positions,
        tel_descriptions=subarray.tel,
        reference_location=subarray.reference_location.__class__.from_geodetic(
            lon=14.78 * u.deg, lat=49.91 * u.deg, height=500 * u.m
        ),
    )
    other.to_hdf(moved, overwrite=True)
    output = tmp_path / "out.h5"
    _fails(
        [f"--input-1={per_telescope_dl1[0]}", f"--input-2={moved}", f"--output={output}"],
        capsys,
        "different subarrays",
        str(moved),
    )
    assert not output.exists()
