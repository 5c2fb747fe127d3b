"""
What a DL2 file records about the model library that reconstructed it: the library's
fingerprint and nodes (provenance attributes) and the per-event node weights
(``DL2_MODEL_NODES_TABLE``).

They are part of the DL2 file format, read by the IRF and DL3 steps and by
``iactpipe-info``; they live here, below `iactpipe.reco` and `iactpipe.dl3`, so both
read them without importing each other (`iactpipe.reco.library` re-exports them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from .dataformat import (
    DL2_MODEL_NODES_TABLE,
    MODEL_LIBRARY_CONFIG_ATTRIBUTE,
    MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE,
)
from .errors import InputFileError
from .provenance import read_provenance

__all__ = ["dl2_model_library", "node_usage", "summed_node_weights"]


def dl2_model_library(paths: list[Path | str]) -> tuple[str | None, list[dict]]:
    """
    (fingerprint, nodes) of the model library that made DL2 files (``None, []`` if they
    were made by one model directory); an `InputFileError` if the files disagree.
    """
    found = {}
    for path in paths:
        provenance = read_provenance(path)
        config = provenance.get(MODEL_LIBRARY_CONFIG_ATTRIBUTE)
        nodes = json.loads(config)["nodes"] if config else []
        found[str(path)] = (provenance.get(MODEL_LIBRARY_FINGERPRINT_ATTRIBUTE), nodes)
    prints = {fp for fp, _ in found.values()}
    if len(prints) > 1:
        listing = ", ".join(f"{p} ({(fp or 'none')[:12]})" for p, (fp, _) in found.items())
        raise InputFileError(f"DL2 files made by different model libraries: {listing}")
    return next(iter(found.values())) if found else (None, [])


def node_usage(path: Path | str) -> np.ndarray:
    """
    Summed weight of each node of the model library over the array events of a DL2 file
    (indices as the library's nodes); an `InputFileError` if it was not made by a library.
    """
    from ctapipe.io import read_table

    fingerprint, nodes = dl2_model_library([path])
    if fingerprint is None:
        raise InputFileError(f"{path}: not reconstructed with a model library")
    return summed_node_weights(read_table(path, DL2_MODEL_NODES_TABLE), len(nodes))


def summed_node_weights(table: Table, n_nodes: int) -> np.ndarray:
    """Per node, the weights of the rows of a ``DL2_MODEL_NODES_TABLE`` summed."""
    weight = np.zeros(n_nodes)
    for side in ("low", "high"):
        nodes = np.asarray(table[f"node_{side}"], int)
        np.add.at(weight, nodes, np.asarray(table[f"weight_{side}"], float))
    return weight
