"""Run selection from the run-quality table written by ``iactpipe-dqm``.

The table (``OUT_DIR/run_quality.ecsv``) has one row per (run, telescope). A run is
selected when every telescope row of it is good; this is the contract the chain
(``iactpipe-chain``) and analysers rely on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from ..io.errors import InputFileError

__all__ = [
    "RUN_QUALITY_COLUMNS",
    "RUN_QUALITY_FILENAME",
    "bad_runs",
    "good_runs",
    "read_run_quality",
    "run_quality_table",
]

#: Name of the run-quality table inside the ``iactpipe-dqm`` output directory.
RUN_QUALITY_FILENAME = "run_quality.ecsv"

#: Column name -> (numpy kind letters accepted, unit or None). ``nsb_level`` is the
#: camera median of the per-pixel interleaved-pedestal charge standard deviation, in
#: p.e. (astropy has no p.e. unit, so the column is dimensionless and its description
#: says "p.e."); it grows with the NSB rate (variance: NSB rate x const + noise floor).
RUN_QUALITY_COLUMNS = {
    "obs_id": ("iu", None),
    "tel_id": ("iu", None),
    "good": ("b", None),
    "reasons": ("UO", None),
    "nsb_level": ("f", None),
    "zenith": ("f", "deg"),
    "livetime": ("f", "s"),
    "night": ("UO", None),
    "source": ("UO", None),
    "file": ("UO", None),
}


def run_quality_table(rows: list[dict]) -> Table:
    """
    Build a run-quality table from one dict per (run, telescope).

    Parameters
    ----------
    rows : list of dict
        Keys: the names of `RUN_QUALITY_COLUMNS`; ``reasons`` may be a list of str
        (joined with ``"; "``).

    Returns
    -------
    astropy.table.Table
        Sorted by (obs_id, tel_id), with units and descriptions.
    """
    columns = {name: [] for name in RUN_QUALITY_COLUMNS}
    for row in rows:
        for name in RUN_QUALITY_COLUMNS:
            value = row[name]
            if name == "reasons" and not isinstance(value, str):
                value = "; ".join(value)
            columns[name].append(value)
    table = Table(
        {
            "obs_id": np.array(columns["obs_id"], dtype=np.int64),
            "tel_id": np.array(columns["tel_id"], dtype=np.int64),
            "good": np.array(columns["good"], dtype=bool),
            "reasons": np.array(columns["reasons"], dtype=str),
            "nsb_level": np.array(columns["nsb_level"], dtype=np.float64),
            "zenith": np.array(columns["zenith"], dtype=np.float64),
            "livetime": np.array(columns["livetime"], dtype=np.float64),
            "night": np.array(columns["night"], dtype=str),
            "source": np.array(columns["source"], dtype=str),
            "file": np.array(columns["file"], dtype=str),
        }
    )
    for name, (_kinds, unit) in RUN_QUALITY_COLUMNS.items():
        table[name].unit = unit
    table["nsb_level"].description = "camera median of the interleaved-pedestal std (p.e.)"
    table["reasons"].description = "why the row is bad ('; '-joined), empty when good"
    table["livetime"].description = "dead-time corrected live time"
    table["night"].description = "date of the evening the night starts (local solar time)"
    if len(table):
        table.sort(["obs_id", "tel_id"])
    return table


def read_run_quality(path: Path | str) -> Table:
    """
    Read and validate a run-quality table.

    Parameters
    ----------
    path : Path or str
        An ECSV file written by ``iactpipe-dqm`` (``run_quality.ecsv``).

    Returns
    -------
    astropy.table.Table
        One row per (obs_id, tel_id) with the columns of `RUN_QUALITY_COLUMNS`.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, lacks a column or has a column of the
        wrong type; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: run-quality table does not exist")
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as err:  # any parse failure is a bad input file
        raise InputFileError(f"{path}: not a readable ECSV run-quality table ({err})") from err
    for name in ("reasons", "night", "source", "file"):
        # ECSV reads empty strings ("" = a good row's reasons) back as masked entries
        if name in table.colnames and getattr(table[name], "mask", None) is not None:
            table[name] = table[name].filled("")
    missing = [name for name in RUN_QUALITY_COLUMNS if name not in table.colnames]
    if missing:
        raise InputFileError(f"{path}: run-quality table lacks column(s) {', '.join(missing)}")
    for name, (kinds, _unit) in RUN_QUALITY_COLUMNS.items():
        kind = np.asarray(table[name]).dtype.kind
        if len(table) > 0 and kind not in kinds:
            raise InputFileError(
                f"{path}: run-quality column {name!r} has dtype kind {kind!r}, "
                f"expected one of {kinds!r}"
            )
    return table


def good_runs(table: Table) -> set[int]:
    """
    Runs whose every telescope row is good.

    Parameters
    ----------
    table : astropy.table.Table
        A run-quality table (see `read_run_quality`).

    Returns
    -------
    set of int
        The ``obs_id`` of every run with no bad telescope row.
    """
    all_runs = {int(obs_id) for obs_id in table["obs_id"]}
    return all_runs - set(bad_runs(table))


def bad_runs(table: Table) -> dict[int, str]:
    """
    Runs with at least one bad telescope row, and why.

    Parameters
    ----------
    table : astropy.table.Table
        A run-quality table (see `read_run_quality`).

    Returns
    -------
    dict of int to str
        ``obs_id`` -> reasons, each prefixed by its telescope (``"tel 21: ..."``) and
        joined with ``"; "``.
    """
    bad: dict[int, list[str]] = {}
    for row in table:
        if bool(row["good"]):
            continue
        reasons = str(row["reasons"]) or "flagged bad (no reason recorded)"
        bad.setdefault(int(row["obs_id"]), []).append(f"tel {int(row['tel_id'])}: {reasons}")
    return {obs_id: "; ".join(parts) for obs_id, parts in bad.items()}
