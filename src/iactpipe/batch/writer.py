"""
Chunked writing of ctapipe DL1 tables with exactly the layout of ``DataWriter``.

The parameter-table layout (column order, dtypes, ``CTAFIELD_*`` unit and
description attributes) is not restated here: ctapipe's own
`~ctapipe.io.HDF5TableWriter` makes it from ctapipe's default parameter container,
as for the first row it writes (`parameter_table_layout`). Event bookkeeping tables (triggers,
simulated showers and impacts) are copied from the input with their attributes.
"""

from __future__ import annotations

import numpy as np
import tables
from ctapipe.containers import ImageParametersContainer, TelEventIndexContainer
from ctapipe.io import HDF5TableWriter
from numpy.lib.recfunctions import repack_fields

from ..io.dataformat import DL1_TEL_PARAMETERS_GROUP
from .parameters import COLUMNS

__all__ = ["ParameterTableWriter", "TableCopier", "parameter_table_layout"]

PARAMETER_GROUP = DL1_TEL_PARAMETERS_GROUP
_RADIAN_COLUMNS = ("hillas_phi", "hillas_psi", "hillas_psi_uncertainty")
_LAYOUT_TABLE = "parameters"


def parameter_table_layout(default: ImageParametersContainer) -> tuple[np.ndarray, dict]:
    """
    Row layout of ctapipe's DL1 parameter table.

    ctapipe's `~ctapipe.io.HDF5TableWriter` makes the table's schema and metadata and
    converts the values (units, column transforms) as when it writes the first row,
    without creating a table: writing one to a scratch file cost about 11 ms of a
    run's set-up (``tests/batch/test_writer.py`` compares with that route).

    Parameters
    ----------
    default : ctapipe.containers.ImageParametersContainer
        The container written for images that fail the quality query (e.g.
        ``ImageProcessor.default_image_container``).

    Returns
    -------
    default_row : np.ndarray
        One structured row as DataWriter writes ``default`` (its dtype is the table's).
    attrs : dict
        The table's user attributes (column names, units, descriptions).
    """
    index = TelEventIndexContainer(obs_id=0, event_id=0, tel_id=np.int16(0))
    containers = [index, *default.values()]
    # an HDF5 file in memory only (never written to disk): the writer needs one
    memory = dict(driver="H5FD_CORE", driver_core_backing_store=0)
    with HDF5TableWriter("layout.h5", mode="w", add_prefix=True, **memory) as writer:
        attrs = writer._create_hdf5_table_schema(_LAYOUT_TABLE, containers)
        for container in containers:  # as HDF5TableWriter._setup_new_table
            attrs.update(container.meta)
        description = tables.Description(writer._schemas[_LAYOUT_TABLE]().columns)
        row = np.zeros(1, dtype=description._v_dtype)
        # a new PyTables row starts from the columns' defaults
        for name, column in description._v_colobjects.items():
            row[name] = column.dflt
        for container in containers:
            for name, value in container.items(add_prefix=True):
                if name in row.dtype.names:
                    row[name] = writer._apply_col_transform(_LAYOUT_TABLE, name, value)
    return row, attrs


class ParameterTableWriter:
    """Append parameter rows (from `~iactpipe.batch.parameters.parametrize_chunk`)."""

    def __init__(self, h5file: tables.File, default: ImageParametersContainer, filters):
        self.h5file = h5file
        self.filters = filters
        self.default_row, self.attrs = parameter_table_layout(default)
        self.dtype = self.default_row.dtype
        # column i of the table is field CTAFIELD_i (with the container prefix)
        self.units = {
            name: str(self.attrs.get(f"CTAFIELD_{i}_UNIT", ""))
            for i, name in enumerate(self.dtype.names)
        }
        for name in _RADIAN_COLUMNS:
            if self.units.get(name) != "deg":
                raise RuntimeError(f"unexpected unit {self.units.get(name)!r} of {name}")
        self._tables = {}
        self._template = None

    def rows(self, obs_id, event_id, tel_id, values, valid) -> np.ndarray:
        """Structured rows: parameters where ``valid``, the default row elsewhere."""
        rows = np.repeat(self.default_row, len(obs_id))
        rows["obs_id"], rows["event_id"], rows["tel_id"] = obs_id, event_id, tel_id
        for i, name in enumerate(COLUMNS):
            column = values[valid, i]
            if name in _RADIAN_COLUMNS:
                column = np.rad2deg(column)
            rows[name][valid] = column
        return rows

    def append(self, tel_id: int, rows: np.ndarray) -> None:
        """Append rows of one telescope."""
        table = self._tables.get(tel_id)
        path = f"{PARAMETER_GROUP}/tel_{tel_id:03d}"
        if table is None and path in self.h5file:
            # written by ctapipe's DataWriter (the same layout)
            table = self._tables[tel_id] = self.h5file.get_node(path)
        if table is None:
            table = self._tables[tel_id] = self._create(f"tel_{tel_id:03d}")
        table.append(rows)

    def _create(self, name: str) -> tables.Table:
        """A new empty parameter table: a copy of the first one (HDF5 copies its layout
        and attributes at half the cost of setting them), or made from the layout."""
        if self._template is not None:
            group = self.h5file.get_node(PARAMETER_GROUP)
            return self._template.copy(group, name, start=0, stop=0, chunkshape="keep")
        table = self.h5file.create_table(
            PARAMETER_GROUP, name, description=self.dtype, createparents=True, filters=self.filters
        )
        for key, value in self.attrs.items():
            table.attrs[key] = value
        self._template = table
        return table


class TableCopier:
    """Copy selected rows of input tables into the output, attributes included."""

    def __init__(self, source: tables.File, target: tables.File, filters):
        self.source = source
        self.target = target
        self.filters = filters
        self._tables = {}

    def append(
        self, path: str, rows: np.ndarray, columns: int | None = None, dtypes: dict | None = None
    ) -> None:
        """
        Append ``rows`` (read from the input table ``path``), keeping only the first
        ``columns`` columns when given, with the column dtypes in ``dtypes`` replaced.
        """
        table = self._tables.get(path)
        if table is None:
            src = self.source.get_node(path)
            names = src.colnames[:columns]
            dtypes = dtypes or {}
            description = np.dtype([(n, dtypes.get(n, src.dtype[n])) for n in names])
            group, name = path.rsplit("/", 1)
            table = self.target.create_table(
                group, name, description=description, createparents=True, filters=self.filters
            )
            for key in src.attrs._f_list("user"):
                if _field_index(key) is None or _field_index(key) < len(names):
                    table.attrs[key] = src.attrs[key]
            self._tables[path] = table
        if len(rows):
            table.append(repack_fields(rows[list(table.colnames)]).astype(table.dtype))


def _field_index(attr: str) -> int | None:
    """i of a ``CTAFIELD_i_*`` or ``FIELD_i_*`` attribute, else None."""
    parts = attr.split("_")
    if parts[0] in ("CTAFIELD", "FIELD") and len(parts) > 2 and parts[1].isdigit():
        return int(parts[1])
    return None
