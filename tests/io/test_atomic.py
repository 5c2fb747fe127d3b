"""Atomic output files: nothing half-written, nothing replaced without consent."""

import errno
import os

import pytest

from iactpipe.io import (
    AtomicOutputFile,
    OutputExistsError,
    OutputWriteError,
    atomic,
    check_output_path,
)
from iactpipe.io.atomic import hdf5_end_of_file, write_error


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


# -- verified commits -------------------------------------------------------------------
def _hdf5(path, nrows=100):
    import numpy as np
    import tables

    with tables.open_file(path, mode="w") as h5:
        h5.create_table("/", "events", obj=np.zeros(nrows, dtype=[("x", "f8")]))


def test_commit_checks_rows_and_tables(tmp_path):
    out = AtomicOutputFile(tmp_path / "out.h5")
    _hdf5(out.temporary_path)
    out.expect("/events", 100)
    out.expect("/missing")
    with pytest.raises(OutputWriteError, match=r"out.h5: cannot write \(.*/missing missing"):
        out.commit()
    assert list(tmp_path.iterdir()) == []
    with AtomicOutputFile(tmp_path / "out.h5") as out:
        _hdf5(out.temporary_path)
        out.expect("/events", 100)
    assert (tmp_path / "out.h5").is_file()


@pytest.mark.parametrize("suffix", [".h5", ".fits", ".fits.gz"])
def test_truncated_file_not_committed(tmp_path, suffix):
    import numpy as np
    from astropy.table import Table

    out = AtomicOutputFile(tmp_path / f"out{suffix}")
    if suffix == ".h5":
        _hdf5(out.temporary_path, 10000)
    else:
        Table({"x": np.arange(10000.0)}).write(out.temporary_path, format="fits")
    data = out.temporary_path.read_bytes()
    out.temporary_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OutputWriteError, match="cannot write"):
        out.commit()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cut", [1, 4096])
def test_hdf5_shorter_than_its_superblock_not_committed(tmp_path, cut):
    """The end-of-file address HDF5 records on closing: a few bytes missing are found."""
    out = AtomicOutputFile(tmp_path / "out.h5")
    _hdf5(out.temporary_path, 10000)
    size = out.temporary_path.stat().st_size
    assert hdf5_end_of_file(out.temporary_path) == size  # closed cleanly
    with open(out.temporary_path, "r+b") as f:
        f.truncate(size - cut)
    with pytest.raises(OutputWriteError, match=f"superblock records {size}"):
        out.commit()
    assert list(tmp_path.iterdir()) == []


def test_hdf5_without_usable_superblock_read_to_the_last_rows(tmp_path, monkeypatch):
    """No usable end-of-file address: every leaf read to its last row instead."""
    monkeypatch.setattr(atomic, "hdf5_end_of_file", lambda path: None)
    with AtomicOutputFile(tmp_path / "good.h5") as out:
        _hdf5(out.temporary_path, 10000)
        out.expect("/events", 10000)
    assert (tmp_path / "good.h5").is_file()
    out = AtomicOutputFile(tmp_path / "out.h5")
    _hdf5(out.temporary_path, 10000)
    data = out.temporary_path.read_bytes()
    out.temporary_path.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(OutputWriteError, match="cannot write"):
        out.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["good.h5"]


def test_write_error_names_the_final_file(tmp_path):
    out = AtomicOutputFile(tmp_path / "out.h5")
    err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out.temporary_path))
    converted = write_error(err)
    assert str(converted) == f"{out.path}: cannot write (No space left on device)"
    assert write_error(ValueError("a bug")) is None
    out.discard()


def test_directory_output_replaces_directory(tmp_path):
    target = tmp_path / "models"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with AtomicOutputFile(target, overwrite=True) as out:
        out.temporary_path.mkdir()
        (out.temporary_path / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["models"]
