"""
The model-library nodes that reconstructed a run's DL3 events, and their weights.

A run reconstructed by ``iactpipe-dl1-dl2`` with a model library carries, per array
event, the two library nodes used and their weights (``DL2_MODEL_NODES_TABLE``).
`run_model_nodes` sums those weights over the events that reach the DL3 file;
`ModelNodeUsage` writes them as EVENTS header keywords (``MOD_NNOD``, ``MOD_ND<i>``,
``MOD_ZD<i>``, ``MOD_AZ<i>``, ``MOD_WT<i>``, ``MOD_OUT``, ``MODLIBFP``) and as a small
``MODEL_NODES`` table HDU, which gammapy's ``DataStore`` does not index and ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ..io import InputFileError
from ..io.dataformat import (
    DL2_MODEL_NODES_TABLE,
    MODEL_LIBRARY_KEYWORD,
    MODEL_NODE_KEYWORDS,
    MODEL_NODES_HDU,
    MODEL_NODES_USED_KEYWORD,
    MODEL_OUTSIDE_KEYWORD,
)
from ..io.dl2_model_records import dl2_model_library, summed_node_weights
from ..stereo.files import event_keys

__all__ = ["ModelNodeUsage", "run_model_nodes"]


@dataclass
class ModelNodeUsage:
    """
    The model nodes of one run.

    Attributes
    ----------
    fingerprint : str
        The model library's fingerprint (recorded in the DL2 file).
    nodes : list of dict
        The library's nodes (``node``, ``zenith_deg``, ``azimuth_deg``, ``nsb_level``).
    weight : np.ndarray
        Per node, the weight summed over the run's DL3 events.
    weight_dl2 : np.ndarray
        Per node, the weight summed over every array event of the DL2 file.
    n_outside : int
        DL3 events outside the nodes' zenith range (reconstructed by the nearest node).
    """

    fingerprint: str
    nodes: list[dict]
    weight: np.ndarray
    weight_dl2: np.ndarray
    n_outside: int

    @property
    def share(self) -> np.ndarray:
        """Per node, its fraction of the DL3 events' weight (sums to 1)."""
        total = self.weight.sum()
        return self.weight / total if total > 0 else np.zeros_like(self.weight)

    def header_cards(self) -> list[tuple[str, object, str]]:
        """EVENTS header cards: the library, the nodes used by decreasing weight."""
        name_key, zd_key, az_key, weight_key = MODEL_NODE_KEYWORDS
        share = self.share
        used = [i for i in np.argsort(-share, kind="stable") if share[i] > 0]
        cards = [
            (MODEL_LIBRARY_KEYWORD, self.fingerprint, "model library of the DL2 events"),
            (MODEL_NODES_USED_KEYWORD, len(used), "model library nodes used by the events"),
            (MODEL_OUTSIDE_KEYWORD, int(self.n_outside), "events outside the nodes' zd range"),
        ]
        for k, i in enumerate(used, start=1):
            node = self.nodes[i]
            cards += [
                (f"{name_key}{k}", str(node["node"]), f"model node {k} directory"),
                (f"{zd_key}{k}", float(node["zenith_deg"]), f"[deg] zenith of model node {k}"),
                (f"{az_key}{k}", float(node["azimuth_deg"]), f"[deg] azimuth of model node {k}"),
                (f"{weight_key}{k}", round(float(share[i]), 6), f"weight share of node {k}"),
            ]
        return cards

    def hdu(self, cards: list[tuple]) -> fits.BinTableHDU:
        """The ``MODEL_NODES`` HDU: one row per library node (``cards``: common cards)."""
        table = Table(
            {
                "NODE": [str(n["node"]) for n in self.nodes],
                "ZENITH": [float(n["zenith_deg"]) for n in self.nodes] * u.deg,
                "AZIMUTH": [float(n["azimuth_deg"]) for n in self.nodes] * u.deg,
                "NSB_LEVEL": [str(n.get("nsb_level", "")) for n in self.nodes],
                "WEIGHT": self.weight,
                "SHARE": self.share,
                "WEIGHT_DL2": self.weight_dl2,
            }
        )
        hdu = fits.table_to_hdu(table)
        hdu.name = MODEL_NODES_HDU
        for key, value, comment in [*cards, *self.header_cards()[:3]]:
            hdu.header[key] = (value, comment)
        return hdu


def run_model_nodes(path: Path | str, obs_id: int, event_ids: np.ndarray) -> ModelNodeUsage | None:
    """
    The model nodes that reconstructed the events ``event_ids`` of run ``obs_id`` in the
    DL2 file ``path``; None when the file was made by one model directory.

    Raises
    ------
    InputFileError
        A library-made DL2 file without its node table, or events missing from it.
    """
    from ctapipe.io import read_table

    fingerprint, nodes = dl2_model_library([path])
    if fingerprint is None:
        return None
    try:
        table = read_table(path, DL2_MODEL_NODES_TABLE)
    except (OSError, KeyError, ValueError) as err:
        raise InputFileError(
            f"{path}: made by a model library but {DL2_MODEL_NODES_TABLE} is unreadable ({err})"
        ) from None
    keys = event_keys(table["obs_id"], table["event_id"])
    order = np.argsort(keys)
    wanted = event_keys(np.full(len(event_ids), obs_id), np.asarray(event_ids))
    rows = np.zeros(0, int)
    if len(wanted):
        found = np.searchsorted(keys[order], wanted)
        rows = order[np.clip(found, 0, max(len(keys) - 1, 0))] if len(keys) else rows
        if len(rows) != len(wanted) or np.any(keys[rows] != wanted):
            raise InputFileError(f"{path}: DL3 events missing from {DL2_MODEL_NODES_TABLE}")
    selected = table[rows]
    return ModelNodeUsage(
        fingerprint,
        nodes,
        summed_node_weights(selected, len(nodes)),
        summed_node_weights(table, len(nodes)),
        int(np.sum(np.asarray(selected["outside_node_range"]))),
    )
