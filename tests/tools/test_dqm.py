"""iactpipe-dqm as a Tool: options, errors, outputs (on a minimal synthetic DL1 file)."""

import re
from pathlib import Path

import numpy as np
import pytest
import tables
from ctapipe.core import run_tool

from iactpipe.quality import read_run_quality
from iactpipe.quality.reference import read_elements
from iactpipe.stereo.files import ns_to_high_res
from iactpipe.tools.dqm import DQMTool

T0_NS = 1_704_924_000 * 10**9  # 2024-01-10 22:00 (TAI seconds since 1970)


def write_minimal_dl1(path, obs_id=7, tel_id=21, duplicates=0, n_events=1000, duration_s=20.0):
    """Trigger and parameter tables only: by default 50 Hz for 20 s with nothing from 10
    to 14 s (from 0.5 to 0.7 of the duration: a dead DAQ or a thick cloud),
    ``duplicates`` event ids written twice."""
    rng = np.random.default_rng(obs_id)
    times = np.sort(rng.uniform(0, duration_s, n_events))
    times = times[(times < 0.5 * duration_s) | (times >= 0.7 * duration_s)]
    n = len(times)
    event_id = np.arange(1, n + 1)
    event_id[n - duplicates :] = event_id[:duplicates] if duplicates else event_id[n:]
    trigger = np.zeros(
        n,
        dtype=[
            ("obs_id", "i4"),
            ("event_id", "i8"),
            ("tel_id", "i2"),
            ("time", "u4", (2,)),
            ("event_type", "u1"),
        ],
    )
    trigger["obs_id"], trigger["event_id"], trigger["tel_id"] = obs_id, event_id, tel_id
    trigger["time"] = ns_to_high_res(T0_NS + (times * 1e9).astype(np.int64))
    trigger["event_type"] = 32  # SUBARRAY
    names = [
        "hillas_intensity",
        "hillas_width",
        "hillas_length",
        "hillas_fov_lon",
        "hillas_fov_lat",
    ]
    params = np.zeros(
        n,
        dtype=[("obs_id", "i4"), ("event_id", "i8"), ("tel_id", "i2")]
        + [(name, "f4") for name in names],
    )
    params["obs_id"], params["event_id"], params["tel_id"] = obs_id, event_id, tel_id
    params["hillas_intensity"] = 10 ** rng.uniform(1.5, 3.5, n)
    params["hillas_width"], params["hillas_length"] = 0.1, 0.2
    with tables.open_file(path, "w") as h5:
        h5.create_table("/dl1/event/telescope", "trigger", trigger, createparents=True)
        h5.create_table(
            "/dl1/event/telescope/parameters", f"tel_{tel_id:03d}", params, createparents=True
        )
    return path


def _argv(tmp_path, *args):
    return [
        "-i",
        str(tmp_path / "*.dl1.h5"),
        "-o",
        str(tmp_path / "out"),
        "--no-progress",
        "--rate-bin",
        "1",
        *args,
    ]


def test_help_all():
    assert run_tool(DQMTool(), ["--help-all"]) == 0


def test_needs_input_and_output(tmp_path):
    assert run_tool(DQMTool(), [], raises=False) == 2
    assert run_tool(DQMTool(), ["-i", str(tmp_path / "x.h5")], raises=False) == 2


def test_bad_inputs_exit_2_without_output(tmp_path):
    out = tmp_path / "out"
    # no file matches
    assert run_tool(DQMTool(), _argv(tmp_path), raises=False) == 2
    # not a DL1 file
    (tmp_path / "broken.dl1.h5").write_text("not HDF5")
    assert run_tool(DQMTool(), _argv(tmp_path), raises=False) == 2
    assert not out.exists()  # a failed run leaves no (empty) output directory
    # every file skipped
    assert run_tool(DQMTool(), _argv(tmp_path, "--skip", "*.h5"), raises=False) == 2
    # unknown check
    (tmp_path / "broken.dl1.h5").unlink()
    write_minimal_dl1(tmp_path / "run7.dl1.h5")
    assert run_tool(DQMTool(), _argv(tmp_path, "--checks", "NoSuchCheck"), raises=False) == 2
    bad_tolerance = ["--ReferenceComparison.relative_tolerances", "rate=0.1"]
    assert run_tool(DQMTool(), _argv(tmp_path, *bad_tolerance), raises=False) == 2
    assert not out.exists()


def test_skip_bad_files(tmp_path):
    write_minimal_dl1(tmp_path / "run7.dl1.h5")
    (tmp_path / "broken.dl1.h5").write_text("not HDF5")
    assert run_tool(DQMTool(), _argv(tmp_path, "--skip-bad-files", "--no-plots")) == 0
    assert list(read_run_quality(tmp_path / "out" / "run_quality.ecsv")["obs_id"]) == [7]
    night = (tmp_path / "out" / "night_summary.html").read_text()
    assert "Files left out (1)" in night and "broken.dl1.h5" in night


def test_minimal_file_flags_gap_and_duplicates(tmp_path):
    write_minimal_dl1(tmp_path / "run7.dl1.h5", duplicates=2)
    write_minimal_dl1(tmp_path / "run8_test.dl1.h5", obs_id=8)
    assert run_tool(DQMTool(), _argv(tmp_path, "--skip", "*test*"), raises=False) == 0
    table = read_run_quality(tmp_path / "out" / "run_quality.ecsv")
    assert list(table["obs_id"]) == [7]  # run 8 skipped
    reasons = table["reasons"][0]
    # bins start at the first event (a few ms after 0): the gap's edge bins hold 1-2 events
    assert re.search(r"rate dropped to 0.0\d of the median between 10.0 s and 14.0 s", reasons)
    # the two late events re-use ids 1 and 2: duplicated, and backwards in event id
    assert "2 duplicated event ids" in reasons
    assert "2 trigger times go backwards in event id" in reasons
    assert table["source"][0] == "unknown" and np.isnan(table["nsb_level"][0])
    elements = read_elements(tmp_path / "out" / "run000007.elements.json")[(7, 21)]
    assert elements.max_gap_s == pytest.approx(4.0, abs=0.2)
    assert elements.mean_rate_hz == pytest.approx(800 / 20, rel=0.1)  # 16 s of 50 Hz in 20 s


def test_no_overwrite_then_overwrite_and_reference(tmp_path):
    write_minimal_dl1(tmp_path / "run7.dl1.h5")
    reference = tmp_path / "ref.h5"
    assert run_tool(DQMTool(), _argv(tmp_path, "--write-reference", str(reference))) == 0
    table_path = tmp_path / "out" / "run_quality.ecsv"
    before = table_path.read_bytes()
    assert run_tool(DQMTool(), _argv(tmp_path), raises=False) == 2
    assert table_path.read_bytes() == before
    assert not list((tmp_path / "out").glob(".*partial*"))
    argv = _argv(tmp_path, "--reference", str(reference), "--overwrite")
    assert run_tool(DQMTool(), argv) == 0
    # the HDF5 reference holds the same elements as the run's JSON
    from_json = read_elements(tmp_path / "out" / "run000007.elements.json")[(7, 21)]
    assert read_elements(reference)[(7, 21)].to_dict() == from_json.to_dict()
    # compared with itself nothing deviates (the gap is still flagged)
    reasons = read_run_quality(table_path)["reasons"][0]
    assert "rate dropped" in reasons and "deviates" not in reasons


def test_shipped_config_runs(tmp_path):
    """data_configs/dqm_data.yaml loads into the tool; its checks still see a gap."""
    config = Path(__file__).resolve().parents[2] / "data_configs" / "dqm_data.yaml"
    write_minimal_dl1(tmp_path / "run7.dl1.h5")
    argv = [f"--config={config}", *_argv(tmp_path, "--no-plots")]
    tool = DQMTool()
    assert run_tool(tool, argv) == 0
    assert tool.config.NSBCheck.max_nsb_level_pe == 1.6
    table = read_run_quality(tmp_path / "out" / "run_quality.ecsv")
    assert not table["good"][0] and "rate dropped" in table["reasons"][0]
