"""
Column-wise, chunked reading of DL1 (and stereo DL1) telescope events for the models.

A `DL1EventFile` reads only the requested columns of a telescope's DL1 parameter
table, in row ranges, and joins to them the columns of the other tables that carry
per-event information: shower truth (simulations), telescope pointing, the stereo
geometry (``h_max``) and the impact distance written by ``iactpipe-dl1-stereo``.
Units are restored from ctapipe's column metadata. No column is read that was not
asked for, so the memory of a chunk is ``chunk_size x n_columns`` numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.instrument import SubarrayDescription
from ctapipe.reco.disp import compute_true_disp
from ctapipe.reco.preprocessing import horizontal_to_telescope

from ..io import InputFileError
from ..io.dataformat import (
    DL0_TEL_POINTING_GROUP,
    DL1_SUBARRAY_TRIGGER_TABLE,
    DL1_TEL_PARAMETERS_GROUP,
    DL2_SUBARRAY_GEOMETRY_GROUP,
    DL2_TEL_IMPACT_GROUP,
    FIXED_POINTING_GROUP,
    SIMULATION_SHOWER_TABLE,
    SUBARRAY_EVENT_KEYS,
    TELESCOPE_EVENT_KEYS,
)
from ..stereo.files import event_keys, find_rows

__all__ = [
    "DERIVED_COLUMNS",
    "DL1EventFile",
    "HDF5_BUFFERS",
    "PARAMETERS",
    "SUBARRAY_TRIGGER",
    "column_names_in",
]

PARAMETERS = DL1_TEL_PARAMETERS_GROUP + "/tel_{:03d}"
SHOWER = SIMULATION_SHOWER_TABLE
SUBARRAY_TRIGGER = DL1_SUBARRAY_TRIGGER_TABLE
GEOMETRY = DL2_SUBARRAY_GEOMETRY_GROUP + "/{}"
IMPACT = DL2_TEL_IMPACT_GROUP + "/{}/tel_{:03d}"
FIXED_POINTING = FIXED_POINTING_GROUP + "/tel_{:03d}"
MONITORING_POINTING = DL0_TEL_POINTING_GROUP + "/tel_{:03d}"
POINTING_COLUMNS = ("telescope_pointing_altitude", "telescope_pointing_azimuth")

#: PyTables buffers of the files read and written in chunks. The defaults (16 MiB I/O
#: buffer and 16 MiB chunk cache per table read, each capped by the table's size) made
#: the peak memory grow with the file size up to about 32 MiB per table; chunked,
#: sequential reading does not need them.
HDF5_BUFFERS = {"IO_BUFFER_SIZE": 2**20, "CHUNK_CACHE_SIZE": 2**20}

#: columns computed from others (simulations): the true disp (signed, along the
#: reconstructed axis, ctapipe's definition), its camera-frame vector, the true source
#: position in the telescope frame
_TRUTH_INPUTS = (
    "true_alt",
    "true_az",
    "hillas_psi",
    "hillas_fov_lon",
    "hillas_fov_lat",
    *POINTING_COLUMNS,
)
DERIVED_COLUMNS = {
    name: _TRUTH_INPUTS
    for name in (
        "true_disp",
        "true_disp_dx",
        "true_disp_dy",
        "true_source_fov_lon",
        "true_source_fov_lat",
    )
}


def column_names_in(expressions: Iterable[str]) -> set[str]:
    """The names used in ``expressions`` (numexpr / python syntax), e.g. quality criteria."""
    import ast

    names = set()
    for expression in expressions:
        for node in ast.walk(ast.parse(expression, mode="eval")):
            if isinstance(node, ast.Name):
                names.add(node.id)
    return names


def _units(node: tables.Table) -> dict[str, u.UnitBase]:
    """Units of a ctapipe-written table's columns (``FIELD_i_NAME`` / ``CTAFIELD_i_UNIT``)."""
    attrs = node.attrs
    names = set(attrs._v_attrnames)
    units = {}
    for key in names:
        if key.startswith("FIELD_") and key.endswith("_NAME"):
            index = key[len("FIELD_") : -len("_NAME")]
            unit_key = f"CTAFIELD_{index}_UNIT"
            if unit_key in names:
                units[str(attrs[key])] = u.Unit(str(attrs[unit_key]))
    return units


class DL1EventFile:
    """
    One DL1 file, opened read-only, from which telescope events are read in chunks.

    Parameters
    ----------
    path : Path or str
        A DL1 file in ctapipe's data model (iactpipe-r0-dl1 or iactpipe-dl1-stereo).
    stereo_prefix : str
        Prefix of the stereo geometry and impact tables (``HillasReconstructor``).

    Raises
    ------
    InputFileError
        If the file is unreadable or holds no DL1 parameters.
    """

    def __init__(self, path: Path | str, stereo_prefix: str = "HillasReconstructor"):
        self.path = Path(path)
        self.stereo_prefix = stereo_prefix
        try:
            self.h5 = tables.open_file(self.path, mode="r", **HDF5_BUFFERS)
        except Exception as err:
            raise InputFileError(f"{self.path}: not a readable HDF5 file ({err})") from None
        try:
            group = DL1_TEL_PARAMETERS_GROUP
            if group not in self.h5:
                raise InputFileError(f"{self.path}: no DL1 parameters ({group} missing)")
            self.tel_ids = sorted(
                int(node._v_name.removeprefix("tel_"))
                for node in self.h5.get_node(group)._f_iter_nodes("Table")
            )
            if not self.tel_ids:
                raise InputFileError(f"{self.path}: no telescope in {group}")
            self.subarray = SubarrayDescription.from_hdf(self.path)
        except Exception:
            self.h5.close()
            raise
        self.is_simulation = SHOWER in self.h5
        self._keys: dict[str, np.ndarray] = {}
        self._units: dict[str, dict] = {}

    def close(self) -> None:
        """Close the file."""
        self.h5.close()

    def __enter__(self) -> DL1EventFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ structure

    def _node(self, path: str) -> tables.Table | None:
        return self.h5.get_node(path) if path in self.h5 else None

    def n_events(self, tel_id: int) -> int:
        """Number of rows in the parameter table of ``tel_id``."""
        return self.h5.get_node(PARAMETERS.format(tel_id)).nrows

    def _joined_nodes(self, tel_id: int) -> list[tables.Table]:
        nodes = [
            self._node(SHOWER),
            self._node(GEOMETRY.format(self.stereo_prefix)),
            self._node(IMPACT.format(self.stereo_prefix, tel_id)),
        ]
        return [n for n in nodes if n is not None]

    def available_columns(self, tel_id: int) -> set[str]:
        """Every column `read` can return for ``tel_id``."""
        columns = set(self.h5.get_node(PARAMETERS.format(tel_id)).colnames)
        for node in self._joined_nodes(tel_id):
            columns |= set(node.colnames)
        if self._pointing_node(tel_id) is not None:
            columns |= set(POINTING_COLUMNS)
        if self.is_simulation:
            columns |= set(DERIVED_COLUMNS)
        return columns

    def _pointing_node(self, tel_id: int) -> tables.Table | None:
        return self._node(FIXED_POINTING.format(tel_id)) or self._node(
            MONITORING_POINTING.format(tel_id)
        )

    def event_keys(self, path: str) -> np.ndarray:
        """(obs_id, event_id) keys of a table (cached; 8 bytes per row)."""
        if path not in self._keys:
            node = self.h5.get_node(path)
            self._keys[path] = event_keys(node.col("obs_id"), node.col("event_id"))
        return self._keys[path]

    def _column(self, node: tables.Table, name: str, rows) -> np.ndarray | u.Quantity:
        path = node._v_pathname
        if path not in self._units:
            self._units[path] = _units(node)
        if isinstance(rows, slice):
            values = node.read(rows.start, rows.stop, field=name)
        else:
            values = node.read_coordinates(rows, field=name)
        unit = self._units[path].get(name)
        return u.Quantity(values, unit, copy=False) if unit is not None else values

    # ------------------------------------------------------------ reading

    def read(self, tel_id: int, columns: Sequence[str], start: int, stop: int) -> Table:
        """
        Rows ``start:stop`` of the telescope events of ``tel_id``, with ``columns``.

        ``obs_id``, ``event_id`` and ``tel_id`` are always included. Joined columns of
        events absent from their table (no stereo geometry, say) are NaN (or False).

        Raises
        ------
        InputFileError
            If a column is available nowhere in the file.
        """
        params = self.h5.get_node(PARAMETERS.format(tel_id))
        wanted = list(dict.fromkeys(columns))
        missing = [c for c in wanted if c not in self.available_columns(tel_id)]
        if missing:
            raise InputFileError(
                f"{self.path}: telescope {tel_id} has no column(s) {', '.join(missing)}"
            )
        rows = slice(start, min(stop, params.nrows))
        table = Table()
        for name in SUBARRAY_EVENT_KEYS:
            table[name] = params.read(rows.start, rows.stop, field=name)
        table["tel_id"] = np.full(len(table), tel_id, np.int16)
        keys = event_keys(table["obs_id"], table["event_id"])
        derived = [c for c in wanted if c in DERIVED_COLUMNS and c not in params.colnames]
        needed = set(wanted) - set(derived)
        for name in derived:
            needed |= set(DERIVED_COLUMNS[name])
        needed -= {"obs_id", "event_id", "tel_id"}
        for name in [c for c in params.colnames if c in needed]:
            table[name] = self._column(params, name, rows)
        needed -= set(params.colnames)
        for node in self._joined_nodes(tel_id):
            here = [c for c in node.colnames if c in needed]
            if not here:
                continue
            found = find_rows(self.event_keys(node._v_pathname), keys)
            ok = found >= 0
            for name in here:
                values = self._column(node, name, np.sort(found[ok]))
                order = np.argsort(np.argsort(found[ok]))  # back to the event order
                table[name] = _fill(values[order], ok)
            needed -= set(here)
        if needed & set(POINTING_COLUMNS):
            alt, az = self._pointing(tel_id, table)
            table["telescope_pointing_altitude"] = alt
            table["telescope_pointing_azimuth"] = az
        if derived:
            self._add_derived(table, derived)
        return table[[*TELESCOPE_EVENT_KEYS, *[c for c in wanted if c in table.colnames]]]

    def iter_chunks(self, tel_id: int, columns: Sequence[str], chunk_size: int) -> Iterator[Table]:
        """`read` over the whole telescope table, ``chunk_size`` rows at a time."""
        n = self.n_events(tel_id)
        for start in range(0, n, chunk_size):
            yield self.read(tel_id, columns, start, start + chunk_size)

    def _pointing(self, tel_id: int, table: Table) -> tuple[u.Quantity, u.Quantity]:
        fixed = self._node(FIXED_POINTING.format(tel_id))
        n = len(table)
        if fixed is not None:
            p = fixed.read()
            lookup = dict(zip(p["obs_id"].tolist(), range(len(p)), strict=True))
            index = np.array([lookup.get(int(o), -1) for o in table["obs_id"]], dtype=int)
            ok = index >= 0
            alt, az = np.full(n, np.nan), np.full(n, np.nan)
            alt[ok] = p["telescope_pointing_altitude"][index[ok]]
            az[ok] = p["telescope_pointing_azimuth"][index[ok]]
            return alt * u.rad, az * u.rad
        monitoring = self.h5.get_node(MONITORING_POINTING.format(tel_id))
        p = monitoring.read()
        t_pointing = p["time"].astype(float)
        found = find_rows(
            self.event_keys(SUBARRAY_TRIGGER), event_keys(table["obs_id"], table["event_id"])
        )
        trigger = self.h5.get_node(SUBARRAY_TRIGGER)
        t_event = np.full(n, np.nan)
        ok = found >= 0
        t_event[ok] = trigger.read_coordinates(found[ok], field="time").astype(float)[..., 0]
        if t_pointing.ndim > 1:
            t_pointing = t_pointing[..., 0]
        alt = np.interp(t_event, t_pointing, p["altitude"])
        az = np.interp(t_event, t_pointing, np.unwrap(p["azimuth"]))
        return alt * u.rad, np.mod(az, 2 * np.pi) * u.rad

    @staticmethod
    def _add_derived(table: Table, derived: Sequence[str]) -> None:
        lon, lat = horizontal_to_telescope(
            alt=table["true_alt"].quantity,
            az=table["true_az"].quantity,
            pointing_alt=table["telescope_pointing_altitude"].quantity,
            pointing_az=table["telescope_pointing_azimuth"].quantity,
        )
        values = {
            "true_source_fov_lon": lon,
            "true_source_fov_lat": lat,
            "true_disp_dx": lon - table["hillas_fov_lon"].quantity,
            "true_disp_dy": lat - table["hillas_fov_lat"].quantity,
        }
        if "true_disp" in derived:
            values["true_disp"] = compute_true_disp(table, project_disp=True)
        for name in derived:
            table[name] = values[name].to(u.deg)


def _fill(values, ok: np.ndarray):
    """``values`` placed at ``ok`` in an array of ``len(ok)``, NaN / False / 0 elsewhere."""
    shape = (len(ok), *np.shape(values)[1:])
    data = np.asarray(getattr(values, "value", values))
    if data.dtype.kind == "f":
        out = np.full(shape, np.nan, dtype=data.dtype)
    else:
        out = np.zeros(shape, dtype=data.dtype)
    out[ok] = data
    if isinstance(values, u.Quantity):
        return u.Quantity(out, values.unit, copy=False)
    return out
