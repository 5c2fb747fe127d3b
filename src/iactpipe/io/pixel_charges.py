"""Reading the pixel charge histograms of a DL1 file (``DL1_PIXEL_CHARGES_GROUP``)."""

from __future__ import annotations

import tables
from astropy.table import Table
from ctapipe.io import read_table

from ..instrument.telescope_ids import DATA_TO_MC, MC_TO_DATA
from .dataformat import DL1_PIXEL_CHARGES_GROUP, tel_node

__all__ = ["read_pixel_charges"]


def read_pixel_charges(path, tel_id: int, paired: bool = False) -> Table | None:
    """
    The pixel charge histogram table of ``tel_id`` in the DL1 file ``path``, or None.

    ``paired``: if the file has no ``tel_id``, the telescope's MC / data counterpart
    (1 <-> 21, 2 <-> 22), so that data and MC histograms can be compared.
    """
    candidates = [tel_id]
    if paired:
        candidates += [t for t in (DATA_TO_MC.get(tel_id), MC_TO_DATA.get(tel_id)) if t]
    with tables.open_file(path) as h5:
        nodes = [tel_node(DL1_PIXEL_CHARGES_GROUP, t) for t in candidates]
        found = next((node for node in nodes if node in h5), None)
    return None if found is None else read_table(path, found)
