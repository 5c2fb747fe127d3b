"""
The outputs of one run, committed together: a Tool with several inputs writes all its
outputs or none. Each output is an `AtomicOutputFile` (written under a temporary name);
`OutputSet.commit` renames them all at the end of the run, `OutputSet.discard` removes the
temporary files and the directories the run created, so a failed run leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .atomic import AtomicOutputFile

__all__ = ["OutputSet", "new_empty_directory_cleanup"]


class OutputSet:
    """
    Outputs committed together (all or none).

    Parameters
    ----------
    overwrite : bool
        Whether existing files may be replaced.
    """

    def __init__(self, overwrite: bool = False):
        self.overwrite = overwrite
        self.files: list[AtomicOutputFile] = []
        self.created_dirs: list[Path] = []
        self.committed: list[Path] = []

    def directory(self, path: Path | str) -> Path:
        """Create the directory ``path`` (and parents) if needed; removed again by
        `discard` if the run fails and leaves it empty."""
        path = Path(path).expanduser().absolute()
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        self.created_dirs.extend(missing)  # deepest first
        return path

    def add(self, path: Path | str) -> AtomicOutputFile:
        """A new output (checked against existing files now, written under a temporary
        name, renamed by `commit`)."""
        output = AtomicOutputFile(path, overwrite=self.overwrite)
        self.files.append(output)
        return output

    def commit(self) -> list[Path]:
        """Rename every output to its final name; if one rename fails, the outputs
        already renamed by this call that did not replace a file are removed again."""
        new = []
        try:
            for output in self.files:
                existed = output.path.exists()
                self.committed.append(output.commit())
                if not existed:
                    new.append(output.path)
        except BaseException:
            for path in new:
                path.unlink(missing_ok=True)
            raise
        return list(self.committed)

    def discard(self) -> None:
        """Remove uncommitted temporary files and the directories created for the run
        that are empty (safe to call at any time, also after `commit`)."""
        for output in self.files:
            output.discard()
        for directory in self.created_dirs:
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone): kept
                pass


def new_empty_directory_cleanup(root: Path | str) -> Callable[[], None]:
    """
    A function that removes the empty directories at and under ``root`` that do not
    exist now (deepest first): registered on a Tool's exit stack before it creates
    ``root`` or directories in it, so that a failed run leaves no empty directory.
    """
    root = Path(root).expanduser().absolute()
    existing = {root, *root.parents} if root.exists() else set(root.parents)
    if root.is_dir():
        existing.update(p for p in root.rglob("*") if p.is_dir())

    def cleanup() -> None:
        if not root.is_dir():
            return
        candidates = [root, *(p for p in root.rglob("*") if p.is_dir())]
        for directory in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
            if directory not in existing:
                try:
                    directory.rmdir()
                except OSError:  # not empty: kept
                    pass
        for directory in root.parents:  # parents created for root
            if directory in existing:
                break
            try:
                directory.rmdir()
            except OSError:
                break

    return cleanup
