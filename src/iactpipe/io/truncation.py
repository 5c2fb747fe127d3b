"""
Truncated simulation files: detected while reading, refused for MC unless allowed, and
marked in the files made from them so that the IRF step refuses them.

A sim_telarray file cut short (a job killed at its time limit, a copy interrupted) reads
without error up to the cut: eventio only warns ("File seems to be truncated") and the
histograms, written at the end of the file, are missing. The simulated-event statistics
of the IRFs come from those histograms, so a truncated MC file must not reach them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

from .dataformat import TRUNCATED_ATTRIBUTE
from .errors import InputFileError

__all__ = [
    "TRUNCATED_ATTRIBUTE",
    "TruncationMonitor",
    "copy_truncation_mark",
    "mark_truncated",
    "refuse_truncated",
    "truncation_of",
]

#: the warnings of eventio and ctapipe's SimTelEventSource when a file ends early
TRUNCATION_WARNINGS = ("File seems to be truncated", "Might be truncated")


class TruncationMonitor:
    """
    Watches an event source for truncation while its events are read: enter `watching`
    before the event loop (it records eventio's truncation warning; other warnings are
    shown when it exits), then `problem` says why the input is incomplete (or None).
    """

    def __init__(self, source):
        self.source = source
        self._caught: list = []

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Record eventio's truncation warnings while entered."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                for text in TRUNCATION_WARNINGS:
                    warnings.filterwarnings("always", message=f".*{text}")
                self._caught = caught
                yield
        finally:
            # the others as they would have been; shown after the recording ended (inside
            # it, showwarning appends to the very list being shown: an endless loop)
            for w in list(self._caught):
                if not self._is_truncation(w):
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)

    @staticmethod
    def _is_truncation(w) -> bool:
        return any(text in str(w.message) for text in TRUNCATION_WARNINGS)

    @property
    def eof_warning(self) -> bool:
        """eventio reported the end of the file in the middle of an object."""
        return any(self._is_truncation(w) for w in self._caught)

    @property
    def problem(self) -> str | None:
        """Why the input is incomplete: the file ends early, or its histograms are missing."""
        source = self.source
        if not getattr(source, "is_simulation", False):
            return None
        if self.eof_warning:
            return "the file ends in the middle of an event (truncated)"
        file_ = getattr(source, "file_", None)
        if (
            file_ is not None
            and hasattr(file_, "histograms")
            and source.max_events is None
            and file_.histograms is None
        ):
            return "no simulation histograms at its end (truncated)"
        return None


def mark_truncated(path: Path | str, reason: str) -> None:
    """Set the `TRUNCATED_ATTRIBUTE` root attribute of the HDF5 file ``path``."""
    import tables

    with tables.open_file(path, mode="a") as h5:
        h5.root._v_attrs[TRUNCATED_ATTRIBUTE] = reason


def truncation_of(path: Path | str) -> str | None:
    """The truncation mark of an HDF5 file (the reason), or None."""
    import tables

    try:
        with tables.open_file(path, mode="r") as h5:
            attrs = h5.root._v_attrs
            value = (
                attrs[TRUNCATED_ATTRIBUTE] if TRUNCATED_ATTRIBUTE in attrs._v_attrnames else None
            )
    except (OSError, tables.HDF5ExtError):
        return None  # unreadable files are reported by the readers
    return None if value is None else str(value)


def copy_truncation_mark(sources, path: Path | str) -> str | None:
    """Mark ``path`` if any of the ``sources`` is marked; returns the reason copied."""
    for source in sources:
        reason = truncation_of(source)
        if reason is not None:
            mark_truncated(path, f"{source}: {reason}")
            return reason
    return None


def refuse_truncated(path: Path | str) -> None:
    """
    Raises
    ------
    InputFileError
        If ``path`` was made from a truncated simulation file (``--allow-truncated``).
    """
    reason = truncation_of(path)
    if reason is not None:
        raise InputFileError(
            f"{path}: made from a truncated simulation file ({reason}); its simulated-event "
            "statistics are incomplete, so it cannot be used for IRFs"
        )
