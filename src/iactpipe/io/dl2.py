"""
The one reader of DL2 subarray events with the event selection applied.

`DL2EventReader` reads a ctapipe/iactpipe DL2 file chunk by chunk with ctapipe's
`~ctapipe.io.TableLoader` and keeps the events that pass a DL2 event selection
(`iactpipe.irf.DL2EventSelection`, or any object with its three members, see
`EventSelection`): per event, the telescopes that count are those used by all three
reconstructions whose image passes the selection's intensity and leakage cuts; the
event passes `EventSelection.event_mask` given that multiplicity. The IRF step
(simulated events) and the DL3 step (observed runs) both read their events here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from astropy.table import QTable, Table
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import TableLoader, read_table
from tables import NoSuchNodeError

from .dataformat import DL1_TEL_PARAMETERS_GROUP, tel_node
from .errors import InputFileError

__all__ = ["DL2EventReader", "EventSelection", "SelectedEvents", "event_keys"]

#: the DL2 column of each prefix (energy, classifier, geometry) an event needs
REQUIRED_COLUMNS = ("energy", "prediction", "alt")


class EventSelection(Protocol):
    """What `DL2EventReader` needs of an event selection (`iactpipe.irf.DL2EventSelection`)."""

    @property
    def prefixes(self) -> tuple[str, str, str]:
        """The (energy, classifier, geometry) prefixes."""

    def telescope_mask(self, intensity: np.ndarray, leakage: np.ndarray) -> np.ndarray:
        """Which telescope images pass."""

    def event_mask(self, events: Table, multiplicity: np.ndarray) -> np.ndarray:
        """Which events pass, given the number of telescopes that count per event."""


@dataclass
class SelectedEvents:
    """
    The events of one chunk that pass the selection.

    Attributes
    ----------
    events : Table
        The ``TableLoader`` rows (subarray events with their DL2 columns) that pass.
    multiplicity : np.ndarray
        Per passing event, the number of telescopes that count.
    """

    events: Table
    multiplicity: np.ndarray


def event_keys(table) -> np.ndarray:
    """One int64 per event: ``obs_id << 32 | event_id``."""
    return np.asarray(table["obs_id"], dtype=np.int64) << 32 | np.asarray(
        table["event_id"], dtype=np.int64
    )


class DL2EventReader:
    """
    Read the subarray events of a DL2 file that pass an event selection, in chunks.

    Use as a context manager; iterating yields one `SelectedEvents` per chunk, and
    `n_raw` counts the events read before the selection.

    Parameters
    ----------
    path : Path or str
        The DL2 HDF5 file.
    selection : EventSelection
        The quality selection (`iactpipe.irf.DL2EventSelection`).
    chunk_size : int
        Subarray events read at once.
    **loader_options
        Further `~ctapipe.io.TableLoader` options (``simulated``, ``observation_info``);
        ``dl2`` is always on.

    Raises
    ------
    InputFileError
        No such file; while iterating: DL2 columns of the selection's prefixes missing,
        or no event in the file.
    """

    def __init__(
        self,
        path: Path | str,
        selection: EventSelection,
        chunk_size: int = 100_000,
        **loader_options: bool,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputFileError(f"{self.path}: no such file")
        self.selection = selection
        self.chunk_size = chunk_size
        self.options = {"dl2": True, **loader_options}
        self.loader: TableLoader | None = None
        self.n_raw = 0

    def __enter__(self) -> DL2EventReader:
        self.loader = TableLoader(self.path, **self.options)
        self.loader.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.loader is not None:
            self.loader.__exit__(*exc)
            self.loader = None

    def __iter__(self) -> Iterator[SelectedEvents]:
        if self.loader is None:
            raise RuntimeError("DL2EventReader: iterate inside its `with` block")
        good = self.good_telescopes()
        subarray = self.loader.subarray
        self.n_raw = 0
        chunks = self.loader.read_subarray_events_chunked(self.chunk_size, **self.options)
        for _, _, chunk in chunks:
            self._check_columns(chunk)
            self.n_raw += len(chunk)
            multiplicity = self.multiplicity(chunk, good, subarray)
            mask = self.selection.event_mask(chunk, multiplicity)
            yield SelectedEvents(chunk[mask], multiplicity[mask])
        if self.n_raw == 0:
            raise InputFileError(f"{self.path}: no DL2 events")

    def _check_columns(self, chunk: Table) -> None:
        names = zip(self.selection.prefixes, REQUIRED_COLUMNS, strict=True)
        missing = [f"{p}_{c}" for p, c in names if f"{p}_{c}" not in chunk.colnames]
        if missing:
            raise InputFileError(
                f"{self.path}: DL2 columns {missing} missing (run iactpipe-dl1-dl2)"
            )

    def good_telescopes(self) -> dict[int, np.ndarray]:
        """Per telescope, the sorted keys (`event_keys`) of the events whose image passes."""
        subarray = SubarrayDescription.from_hdf(self.path)
        good = {}
        for tel_id in subarray.tel_ids:
            try:
                table = read_table(self.path, tel_node(DL1_TEL_PARAMETERS_GROUP, tel_id))
            except NoSuchNodeError:
                good[tel_id] = np.array([], dtype=np.int64)
                continue
            mask = self.selection.telescope_mask(
                np.asarray(table["hillas_intensity"]),
                np.nan_to_num(np.asarray(table["leakage_intensity_width_2"]), nan=1.0),
            )
            good[tel_id] = np.sort(event_keys(table)[mask])
        return good

    def multiplicity(
        self, chunk: Table | QTable, good: dict[int, np.ndarray], subarray: SubarrayDescription
    ) -> np.ndarray:
        """Per event of ``chunk``, the telescopes used by all reconstructions with a good image."""
        prefixes = self.selection.prefixes
        used = np.ones(chunk[f"{prefixes[0]}_telescopes"].shape, dtype=bool)
        for prefix in prefixes:
            used &= np.asarray(chunk[f"{prefix}_telescopes"], dtype=bool)
        keys = event_keys(chunk)
        for tel_id, good_keys in good.items():
            index = subarray.tel_index_array[tel_id]
            used[:, index] &= np.isin(keys, good_keys, assume_unique=False)
        return used.sum(axis=1)
