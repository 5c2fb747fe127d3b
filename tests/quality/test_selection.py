"""The run-quality table contract used by iactpipe-chain for run selection."""

import astropy.units as u
import pytest

from iactpipe.io.errors import InputFileError
from iactpipe.quality import bad_runs, good_runs, read_run_quality
from iactpipe.quality.selection import run_quality_table


def _row(obs_id, tel_id, reasons=()):
    return dict(
        obs_id=obs_id,
        tel_id=tel_id,
        good=not reasons,
        reasons=list(reasons),
        nsb_level=1.0,
        zenith=20.0,
        livetime=600.0,
        night="2024-01-10",
        source="Crab Nebula",
        file=f"run{obs_id}_tel{tel_id}.dl1.h5",
    )


@pytest.fixture
def table_path(tmp_path):
    rows = [
        _row(2, 22, ["rate dropped", "NSB"]),
        _row(1, 21),
        _row(1, 22),
        _row(2, 21),
        _row(3, 21),
        _row(3, 22, ["dead pixels"]),
    ]
    path = tmp_path / "run_quality.ecsv"
    run_quality_table(rows).write(path)
    return path


def test_round_trip_and_selection(table_path):
    table = read_run_quality(table_path)
    assert list(table["obs_id"]) == [1, 1, 2, 2, 3, 3]  # sorted by run and telescope
    assert table["zenith"].unit == u.deg and table["livetime"].unit == u.s
    assert list(table["reasons"][:2]) == ["", ""]  # empty, not masked, when good
    # a run is good only when every telescope row is good
    assert good_runs(table) == {1}
    assert bad_runs(table) == {2: "tel 22: rate dropped; NSB", 3: "tel 22: dead pixels"}


def test_all_good_table(tmp_path):
    path = tmp_path / "good.ecsv"
    run_quality_table([_row(5, 21), _row(5, 22)]).write(path)
    table = read_run_quality(path)
    assert good_runs(table) == {5} and bad_runs(table) == {}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.remove_column("good"), r"lacks column\(s\) good"),
        (lambda t: t.replace_column("obs_id", [str(x) for x in t["obs_id"]]), "'obs_id'"),
    ],
)
def test_bad_tables_name_the_file(table_path, edit, message):
    table = read_run_quality(table_path)
    edit(table)
    table.write(table_path, overwrite=True)
    with pytest.raises(InputFileError, match=message) as err:
        read_run_quality(table_path)
    assert str(table_path) in str(err.value)


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_run_quality(tmp_path / "nope.ecsv")
    garbage = tmp_path / "garbage.ecsv"
    garbage.write_text("# %ECSV 1.0\n# ---\n# datatype: [\n")
    with pytest.raises(InputFileError, match="garbage.ecsv"):
        read_run_quality(garbage)
