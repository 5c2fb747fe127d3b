"""DigiCam pixel order: readout (hardware) positions to software pixel ids.

A DigiCam event stores its waveforms in readout order and, in ``pixelsIndices``, the
software pixel id of each readout position. The software id is the pixel index of
`~iactpipe.instrument.digicam_geometry`. The package carries the readout order of the
camera (generated from the DigiCam pixel mapping by ``_make_pixel_mapping``) so that
files without, or with corrupt, ``pixelsIndices`` can still be reordered.
"""

from functools import cache
from importlib.resources import files

import numpy as np
from astropy.table import Table

from ...instrument import DIGICAM_N_PIXELS

__all__ = ["readout_modules", "readout_pixel_ids", "software_order"]

_RESOURCE = "digicam_readout_order.ecsv"


@cache
def _readout_table() -> Table:
    path = files("iactpipe") / "resources" / "digicam" / _RESOURCE
    with path.open() as stream:
        return Table.read(stream.read(), format="ascii.ecsv")


def readout_pixel_ids() -> np.ndarray:
    """Software pixel id of each readout position (1296 values, a permutation)."""
    return np.asarray(_readout_table()["pixel_sw_id"], dtype=np.int64).copy()


def readout_modules() -> np.ndarray:
    """Module number of each software pixel id (1296 values, index = software id)."""
    table = _readout_table()
    modules = np.empty(DIGICAM_N_PIXELS, dtype=np.int64)
    modules[np.asarray(table["pixel_sw_id"])] = np.asarray(table["module"])
    return modules


def software_order(pixel_indices: np.ndarray | None) -> np.ndarray:
    """
    Readout positions in software pixel order: ``waveform[order]`` is in software order.

    Parameters
    ----------
    pixel_indices : np.ndarray or None
        ``pixelsIndices`` of the event: the software id of each readout position. When
        missing or not a permutation of ``0..n_pixels-1``, the packaged readout order of
        DigiCam is used.

    Returns
    -------
    np.ndarray
        Integer index array of length ``n_pixels``.
    """
    if pixel_indices is not None and len(pixel_indices) > 0:
        ids = np.asarray(pixel_indices, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        if np.array_equal(ids[order], np.arange(len(ids))):
            return order
    return np.argsort(readout_pixel_ids(), kind="stable")
