"""Atomic output files: nothing half-written, nothing replaced without consent."""

import pytest

from iactpipe.io import AtomicOutputFile, OutputExistsError, check_output_path


def test_commit_renames_complete_file(tmp_path):
    target = tmp_path / "out.h5"
    out = AtomicOutputFile(target)
    out.temporary_path.write_text("complete")
    assert not target.exists()
    assert out.temporary_path.parent == target.parent
    out.commit()
    assert target.read_text() == "complete"
    assert not out.temporary_path.exists()


def test_failure_inside_context_leaves_nothing(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError), AtomicOutputFile(target) as out:
        out.temporary_path.write_text("half")
        raise RuntimeError("processing failed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_protected(tmp_path):
    target = tmp_path / "out.h5"
    target.write_text("old")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        AtomicOutputFile(target)
    with AtomicOutputFile(target, overwrite=True) as out:
        out.temporary_path.write_text("new")
    assert target.read_text() == "new"


def test_output_created_meanwhile_not_replaced(tmp_path):
    target = tmp_path / "out.h5"
    out = AtomicOutputFile(target)
    out.temporary_path.write_text("mine")
    target.write_text("someone else's")
    with pytest.raises(OutputExistsError):
        out.commit()
    out.discard()
    assert target.read_text() == "someone else's"
    assert not out.temporary_path.exists()


def test_missing_directory(tmp_path):
    with pytest.raises(OutputExistsError, match="does not exist"):
        check_output_path(tmp_path / "nodir" / "out.h5", overwrite=False)
