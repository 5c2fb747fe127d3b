"""
Storing and loading monitor elements (a run's, or the reference run's) as JSON or HDF5.

Both hold the same document: ``{"iactpipe_version", "elements": [one dict per
telescope]}``; the HDF5 file keeps it as a root attribute (with iactpipe's provenance)
so that it can travel with other HDF5 products. No pickle: the files are plain data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import tables

from ..io.dataformat import MONITOR_ELEMENTS_ATTRIBUTE, VERSION_ATTRIBUTE
from ..io.errors import InputFileError
from ..version import __version__
from .elements import MonitorElements

__all__ = ["ELEMENTS_ATTR", "read_elements", "write_elements"]

#: root attribute of an HDF5 monitor-elements file holding the JSON document
ELEMENTS_ATTR = MONITOR_ELEMENTS_ATTRIBUTE


def _document(elements: Iterable[MonitorElements], config: dict | None) -> str:
    return json.dumps(
        {
            "iactpipe_version": __version__,
            "config": config or {},
            "elements": [e.to_dict() for e in elements],
        },
        indent=1,
    )


def write_elements(
    path: Path | str, elements: Iterable[MonitorElements], config: dict | None = None
) -> Path:
    """
    Write monitor elements to ``path`` (``.json``, or ``.h5``/``.hdf5``).

    The caller takes care of atomicity (write to a temporary name, then rename).

    Parameters
    ----------
    path : Path or str
        Output file; the format follows the suffix of its final name (a temporary
        name such as ``.ref.json.partial-123`` counts by the part before ``.partial``).
    elements : iterable of MonitorElements
    config : dict, optional
        Configuration recorded with the elements (provenance).
    """
    path = Path(path)
    document = _document(elements, config)
    if _is_hdf5(path):
        with tables.open_file(path, mode="w") as h5:
            h5.root._v_attrs[ELEMENTS_ATTR] = document
            h5.root._v_attrs[VERSION_ATTRIBUTE] = __version__
    else:
        path.write_text(document)
    return path


def read_elements(path: Path | str) -> dict[tuple[int, int], MonitorElements]:
    """
    Read monitor elements written by `write_elements`.

    Returns
    -------
    dict
        ``(obs_id, tel_id)`` -> `MonitorElements`.

    Raises
    ------
    InputFileError
        If the file is missing or is not a monitor-elements file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: monitor-elements file does not exist")
    try:
        if _is_hdf5(path):
            with tables.open_file(path) as h5:
                text = str(h5.root._v_attrs[ELEMENTS_ATTR])
        else:
            text = path.read_text()
        document = json.loads(text)
        elements = [MonitorElements.from_dict(d) for d in document["elements"]]
    except Exception as err:  # any failure means: not a monitor-elements file
        raise InputFileError(f"{path}: not a monitor-elements file ({err})") from None
    if not elements:
        raise InputFileError(f"{path}: monitor-elements file holds no telescope")
    return {(e.obs_id, e.tel_id): e for e in elements}


def _is_hdf5(path: Path) -> bool:
    name = path.name.split(".partial")[0]
    return name.lower().endswith((".h5", ".hdf5"))
