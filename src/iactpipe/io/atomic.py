"""Atomic output files: written under a temporary name, renamed when complete."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OutputExistsError

__all__ = ["AtomicOutputFile", "check_output_path"]


def check_output_path(path: Path | str, overwrite: bool) -> Path:
    """
    Refuse to replace an existing output unless ``overwrite`` is given.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: output file exists, use --overwrite to replace it")
    if not path.parent.is_dir():
        raise OutputExistsError(f"{path}: output directory {path.parent} does not exist")
    return path


class AtomicOutputFile:
    """
    A final output path and the temporary path that is written in its place.

    The temporary file lives in the same directory (so the rename is atomic on
    POSIX file systems) and carries the process id, so two runs never share it.
    Call `commit` when the file is complete; `discard` (safe to call at any time,
    also after `commit`) removes a partial file.

    Parameters
    ----------
    path : Path or str
        The final output path.
    overwrite : bool
        Whether an existing file at ``path`` may be replaced.
    """

    def __init__(self, path: Path | str, overwrite: bool = False):
        self.path = check_output_path(path, overwrite)
        self.overwrite = overwrite
        self.temporary_path = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self.committed = False

    def commit(self) -> Path:
        """Move the complete temporary file to its final name and return that name."""
        # checked again: another process may have created the output meanwhile
        check_output_path(self.path, self.overwrite)
        os.replace(self.temporary_path, self.path)
        self.committed = True
        return self.path

    def discard(self) -> None:
        """Remove the temporary file if it is still there (nothing was committed)."""
        if not self.committed:
            self.temporary_path.unlink(missing_ok=True)

    def __enter__(self) -> AtomicOutputFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.temporary_path.exists() and not self.committed:
            self.commit()
        self.discard()
