"""
Truncated simulation files: iactpipe-r0-dl1 refuses a truncated sim_telarray file (one
line, exit 2, nothing written), processes it with --allow-truncated and marks the DL1
file, which iactpipe-irf then refuses; the mark survives dl1-stereo (copied).
"""

import warnings
from types import SimpleNamespace

import pytest
import tables
from ctapipe.core import run_tool

from iactpipe.io import InputFileError
from iactpipe.io.truncation import (
    TRUNCATED_ATTRIBUTE,
    TruncationMonitor,
    copy_truncation_mark,
    mark_truncated,
    refuse_truncated,
    truncation_of,
)
from iactpipe.tools.irf import IRFTool
from iactpipe.tools.r0_dl1 import R0DL1Tool

#: bytes kept of the prod4 file: its header (70 telescopes) and 5 events, cut in the 6th
CUT_BYTES = 2_000_000


@pytest.fixture(scope="module")
def truncated_simtel(prod4_sst1m_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("truncated") / "gamma_truncated.simtel.zst"
    with open(prod4_sst1m_path, "rb") as f:
        path.write_bytes(f.read(CUT_BYTES))
    return path


def _errors(text):
    lines = [line for line in text.splitlines() if "ERROR" in line]
    return [line for line in lines if "Use --help" not in line]


def test_truncated_mc_allowed_marked_and_refused_by_irf(truncated_simtel, tmp_path, capsys):
    out = tmp_path / "gamma.dl1.h5"
    argv = [f"--input={truncated_simtel}", f"--output={out}", "--provenance-log=/dev/null"]
    assert run_tool(R0DL1Tool(), argv=[*argv, "--allow-truncated"], cwd=tmp_path) == 0
    assert "truncated" in capsys.readouterr().err
    assert "truncated" in truncation_of(out)
    with tables.open_file(out) as h5:
        assert h5.root.dl1.event.subarray.trigger.nrows == 5

    irf = [f"--gammas={out}", f"--output={tmp_path / 'irfs'}", "--provenance-log=/dev/null"]
    assert run_tool(IRFTool(), argv=irf, cwd=tmp_path, raises=False) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "made from a truncated simulation file" in errors[0]
    assert not (tmp_path / "irfs").exists()


@pytest.mark.parametrize(
    ("histograms", "eof_warning", "max_events", "problem"),
    [
        (None, True, None, "ends in the middle of an event"),
        (None, False, None, "no simulation histograms"),
        ([{}], False, None, None),
        (None, False, 10, None),  # --max-events: histograms never read
    ],
)
def test_truncation_detected(histograms, eof_warning, max_events, problem):
    source = SimpleNamespace(
        is_simulation=True, max_events=max_events, file_=SimpleNamespace(histograms=histograms)
    )
    monitor = TruncationMonitor(source)
    with monitor.watching():
        if eof_warning:
            warnings.warn("File seems to be truncated", UserWarning, stacklevel=1)
    assert (monitor.problem is None) == (problem is None)
    if problem is not None:
        assert problem in monitor.problem


def test_truncated_mc_refused(truncated_simtel, tmp_path, capsys):
    """The default: one line, exit 2, nothing written (the refusal happens after the
    events are read, before anything is committed)."""
    out = tmp_path / "gamma.dl1.h5"
    argv = [f"--input={truncated_simtel}", f"--output={out}", "--provenance-log=/dev/null"]
    assert run_tool(R0DL1Tool(), argv=argv, cwd=tmp_path, raises=False) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1
    assert "truncated" in errors[0] and "--allow-truncated" in errors[0]
    assert list(tmp_path.iterdir()) == []


def test_mark_copied_and_refused(tmp_path):
    clean, marked, stereo = (tmp_path / f"{n}.h5" for n in ("clean", "marked", "stereo"))
    for path in (clean, marked, stereo):
        tables.open_file(path, mode="w").close()
    mark_truncated(marked, "no simulation histograms at its end (truncated)")
    assert truncation_of(clean) is None
    refuse_truncated(clean)
    with pytest.raises(InputFileError, match="marked.h5: made from a truncated"):
        refuse_truncated(marked)
    assert copy_truncation_mark([clean, marked], stereo) is not None
    with tables.open_file(stereo) as h5:
        assert str(marked) in h5.root._v_attrs[TRUNCATED_ATTRIBUTE]
