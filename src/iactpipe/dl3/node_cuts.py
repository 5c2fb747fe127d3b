"""
The gammaness cut of a run's events between model-library nodes.

An event reconstructed by two nodes of a model library (``iactpipe-dl1-dl2``, weights
``w_low + w_high = 1`` linear in cos(zenith)) has one score per node, ``g_low`` and
``g_high``, each with that node's reconstructed energy. The cos(zenith)-interpolated
score against the interpolated node cuts keeps only 51-64 % of the gammas between two
nodes whose cuts keep 70 % each (the nodes' score distributions differ in shape, so
the mean of two 70 % thresholds is not the 70 % threshold of the mean score;
``benchmarks/node_cut_remedies.py``). The ``efficiency-mean`` rule compares each
node's score with that node's own gammas instead:

    q_m = F_m(g_m | E_m)      pass  iff  w_low q_low + w_high q_high
                                          <= w_low eff_low(E_low) + w_high eff_high(E_high)

where ``F_m(g | E)`` is the fraction of node m's IRF gammas (those that made its cut)
in the reconstructed-energy bin of ``E`` scoring ``>= g`` (the ``GH_EFFICIENCY`` HDU of
its IRF file, `iactpipe.irf.cuts.efficiency_table`) and ``eff_m(E) = F_m(c_m(E) | E)``
the efficiency of its own cut ``c_m`` there (0.7 for percentile cuts). An event with
one node (weight 1: outside the nodes' range, at a node, the nearest-node choice, or
the other node without a score) passes iff its score is ``>= c_m``, exactly the node's
cut. Two nodes and a bin without a cut (fill value 1) at either: the event fails, as
the interpolated cut of such a bin.

`NodeGammanessCut` applies the rule (``method = efficiency-mean``) or the run's
interpolated cut to the interpolated score (``interpolated-score``, the rule before).
`read_node_outputs` and `read_node_cut_tables` read what it needs from the DL2 file and
the IRF library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum
from pyirf.binning import calculate_bin_indices

from ..io import InputFileError
from ..io.dataformat import DL2_MODEL_NODES_TABLE
from ..irf.cuts import GammaCuts
from ..irf.library import read_index
from ..stereo.files import event_keys
from .irf_file import read_irf_file

__all__ = [
    "NODE_OUTPUT_COLUMNS",
    "NodeCutTable",
    "NodeGammanessCut",
    "NodeOutputs",
    "efficiency_mean_mask",
    "efficiency_mean_pass",
    "gamma_efficiency",
    "read_node_cut_tables",
    "read_node_outputs",
]

#: the columns of ``DL2_MODEL_NODES_TABLE`` the rule needs (written since this rule)
NODE_OUTPUT_COLUMNS = ("gammaness_low", "gammaness_high", "energy_low", "energy_high")


def gamma_efficiency(quantiles: np.ndarray, score: np.ndarray) -> np.ndarray:
    """
    Fraction of a node's gammas scoring ``>= score``, from their score quantiles.

    Parameters
    ----------
    quantiles : np.ndarray
        One bin's score quantiles at ``linspace(0, 1, len(quantiles))`` (non-decreasing).
    score : np.ndarray
        The scores.

    Returns
    -------
    np.ndarray
        ``1 - p`` at each score, linear between the quantiles; 1 at or below the lowest,
        0 above the highest; NaN if the quantiles are NaN (an empty bin).
    """
    score = np.asarray(score, dtype=np.float64)
    if np.isnan(quantiles).any():
        return np.full(len(score), np.nan)
    n_points = len(quantiles)
    # p at the score: the number of quantiles below it, linear within that step
    below = np.searchsorted(quantiles, score, side="left")
    upper = np.clip(below, 1, n_points - 1)
    lo, hi = quantiles[upper - 1], quantiles[upper]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(hi > lo, (score - lo) / (hi - lo), 0.0)
    p = (upper - 1 + np.clip(frac, 0, 1)) / (n_points - 1)
    p = np.where(below == 0, 0.0, np.where(below == n_points, 1.0, p))
    return np.where(np.isnan(score), np.nan, 1.0 - p)


def efficiency_mean_pass(
    q_low: np.ndarray,
    q_high: np.ndarray,
    eff_low: np.ndarray,
    eff_high: np.ndarray,
    weight_low: np.ndarray,
) -> np.ndarray:
    """The efficiency-mean rule (module docstring) for events with two nodes."""
    weight_high = 1.0 - weight_low
    return (
        weight_low * q_low + weight_high * q_high <= weight_low * eff_low + weight_high * eff_high
    )


@dataclass
class NodeCutTable:
    """
    One node's gammaness cut and its gammas' score quantiles, per bin of reconstructed
    energy (the ``GH_CUTS`` and ``GH_EFFICIENCY`` HDUs of its IRF file).
    """

    gh_cuts: QTable
    efficiency: QTable
    path: Path | None = None

    def __post_init__(self):
        lows = [u.Quantity(t["low"]).to_value(u.TeV) for t in (self.gh_cuts, self.efficiency)]
        if len(lows[0]) != len(lows[1]) or not np.allclose(*lows):
            raise InputFileError(f"{self.path}: GH_EFFICIENCY bins differ from GH_CUTS")
        self._quantiles = np.asarray(self.efficiency["quantile"], dtype=np.float64)
        self._bins = np.append(self.gh_cuts["low"], self.gh_cuts["high"][-1])
        self._cut = np.asarray(u.Quantity(self.gh_cuts["cut"]).value, dtype=np.float64)
        # the node's own efficiency at its cut, per bin (0.7 for a 70 % percentile cut)
        self._own = np.array(
            [gamma_efficiency(q, [c])[0] for q, c in zip(self._quantiles, self._cut, strict=True)]
        )

    def __call__(self, energy: u.Quantity, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        ``(q, eff)`` per event: the efficiency of its score and of the node's cut in its
        energy bin; NaN outside the bins and in bins without a cut (fill value 1).
        """
        index, valid = calculate_bin_indices(u.Quantity(energy, u.TeV), self._bins)
        k = np.where(valid, index, 0)
        valid &= (self._cut[k] < 1.0) & np.isfinite(self._own[k])
        score = np.asarray(score, dtype=np.float64)
        q = np.full(len(score), np.nan)
        for b in np.unique(k[valid]):
            rows = valid & (k == b)
            q[rows] = gamma_efficiency(self._quantiles[b], score[rows])
        return q, np.where(valid, self._own[k], np.nan)

    def same_cut(self, gh_cuts: QTable) -> bool:
        """Whether ``gh_cuts`` is this node's cut table (same bins and values)."""
        a, b = self.gh_cuts, gh_cuts
        return len(a) == len(b) and all(
            np.array_equal(np.asarray(u.Quantity(a[c]).value), np.asarray(u.Quantity(b[c]).value))
            for c in ("low", "high", "cut")
        )

    def passes(self, energy: u.Quantity, score: np.ndarray) -> np.ndarray:
        """The node's own cut, ``score >= cut`` (outside the bins: rejected)."""
        table = QTable({"gh_score": score, "reco_energy": u.Quantity(energy, u.TeV)})
        return GammaCuts(self.gh_cuts, self.gh_cuts, np.nan, np.nan, "node").gh_mask(table)


@dataclass
class NodeOutputs:
    """The per-event node table of a run (``DL2_MODEL_NODES_TABLE``), looked up by event."""

    table: Table
    path: Path | str = ""

    def __post_init__(self):
        keys = event_keys(self.table["obs_id"], self.table["event_id"])
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]

    def rows(self, obs_id: np.ndarray, event_id: np.ndarray) -> Table:
        """The rows of these events (an `InputFileError` if any is missing)."""
        wanted = event_keys(np.asarray(obs_id), np.asarray(event_id))
        found = np.clip(np.searchsorted(self._keys, wanted), 0, max(len(self._keys) - 1, 0))
        if len(wanted) and (len(self._keys) == 0 or np.any(self._keys[found] != wanted)):
            raise InputFileError(f"{self.path}: events missing from {DL2_MODEL_NODES_TABLE}")
        return self.table[self._order[found]]

    @property
    def used_nodes(self) -> list[int]:
        """The nodes with a non-zero weight for any event."""
        t = self.table
        used = set()
        for side in ("low", "high"):
            weighted = np.asarray(t[f"weight_{side}"]) > 0
            used |= set(np.unique(np.asarray(t[f"node_{side}"])[weighted]).tolist())
        return sorted(used)

    @property
    def interpolated(self) -> bool:
        """Whether any event has two nodes of non-zero weight."""
        t = self.table
        two = (np.asarray(t["node_low"]) != np.asarray(t["node_high"])) & (
            np.minimum(np.asarray(t["weight_low"]), np.asarray(t["weight_high"])) > 0
        )
        return bool(two.any())


class NodeGammanessCut(Component):
    """
    The gammaness cut of a run's events reconstructed by a model library: per event
    from its own nodes' cuts and gammas, or the run's interpolated cut.
    """

    method = CaselessStrEnum(
        ["efficiency-mean", "interpolated-score"],
        default_value="efficiency-mean",
        help=(
            "efficiency-mean: an event between two model nodes passes when the weighted "
            "mean of its scores' gamma efficiencies, each at its own node (the fraction of "
            "that node's IRF gammas in its energy bin scoring higher), is at most the "
            "weighted mean of the nodes' cut efficiencies (the IRFs' gamma efficiency is "
            "then kept between nodes); one node: that node's cut. interpolated-score: the "
            "interpolated score against the run's interpolated cut (keeps 51-64 % of the "
            "gammas between nodes whose cuts keep 70 %). Runs without per-node scores in "
            "their DL2 or efficiency curves in their IRFs get interpolated-score"
        ),
    ).tag(config=True)

    def __call__(
        self,
        events: QTable,
        run_cuts: GammaCuts,
        nodes: Table | None = None,
        node_cuts: list[NodeCutTable] | None = None,
    ) -> np.ndarray:
        """
        Mask of the events passing the cut.

        Parameters
        ----------
        events : QTable
            ``gh_score`` and ``reco_energy`` (the interpolated ones of the DL2 file).
        run_cuts : GammaCuts
            The run's cuts (its IRF's, interpolated between nodes).
        nodes : Table, optional
            The events' rows of ``DL2_MODEL_NODES_TABLE`` with `NODE_OUTPUT_COLUMNS`.
        node_cuts : list of NodeCutTable, optional
            Per model-library node (its index in the table), its cut table.
        """
        if self.method == "interpolated-score" or nodes is None or node_cuts is None:
            return run_cuts.gh_mask(events)
        return efficiency_mean_mask(events, nodes, node_cuts)


def efficiency_mean_mask(events: QTable, nodes: Table, node_cuts: list[NodeCutTable]) -> np.ndarray:
    """The efficiency-mean rule (module docstring) per event."""
    n = len(events)
    sides = {}
    for side in ("low", "high"):
        node = np.asarray(nodes[f"node_{side}"], dtype=int)
        score = np.asarray(nodes[f"gammaness_{side}"], dtype=np.float64)
        energy = u.Quantity(nodes[f"energy_{side}"], u.TeV)
        q, eff = np.full(n, np.nan), np.full(n, np.nan)
        for j in np.unique(node):
            rows = node == j
            q[rows], eff[rows] = node_cuts[j](energy[rows], score[rows])
        weight = np.asarray(nodes[f"weight_{side}"], dtype=np.float64)
        # a node without a score gives its weight to the other (as the merged score)
        scored = (weight > 0) & np.isfinite(score) & np.isfinite(energy.value)
        sides[side] = (node, q, eff, scored)
    (node_l, q_l, eff_l, scored_l), (node_h, q_h, eff_h, scored_h) = sides["low"], sides["high"]
    two = scored_l & scored_h & (node_l != node_h)
    passed = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        weight_low = np.asarray(nodes["weight_low"], dtype=np.float64)
        # NaN q or eff (a bin without cut at either node): the comparison is False
        passed[two] = efficiency_mean_pass(
            q_l[two], q_h[two], eff_l[two], eff_h[two], weight_low[two]
        )
    # one node: its own cut on the event's (then that node's) score and energy
    single = ~two & (scored_l | scored_h)
    one = np.where(scored_l, node_l, node_h)
    score, energy = np.asarray(events["gh_score"], dtype=np.float64), events["reco_energy"]
    for j in np.unique(one[single]):
        rows = single & (one == j)
        passed[rows] = node_cuts[j].passes(energy[rows], score[rows])
    return passed


def read_node_outputs(path: Path | str) -> Table | None:
    """
    The run's node table with the per-node scores (`NODE_OUTPUT_COLUMNS`), or None when
    its DL2 file was written before they were (or without a model library). The whole
    table is read (about 60 bytes per array event).
    """
    from ctapipe.io import read_table

    try:
        table = read_table(path, DL2_MODEL_NODES_TABLE)
    except (OSError, KeyError, ValueError):
        return None
    if any(c not in table.colnames for c in NODE_OUTPUT_COLUMNS):
        return None
    return table


def read_node_cut_tables(
    library: Path | str,
    nodes: list[dict],
    nsb_level: str,
    gamma_efficiency: float,
    irf_type: str,
    event_class: str,
) -> tuple[list[NodeCutTable | None] | None, str]:
    """
    Per model-library node (``nodes``: the DL2's record), the cut table of the IRF-library
    node at its (zenith, azimuth) (None for nodes of another NSB level); ``(None, why)``
    when a node's IRF file has no ``GH_EFFICIENCY`` HDU.

    Raises
    ------
    InputFileError
        No IRF node at a model node's pointing with these keys.
    """
    index = read_index(library)
    mask = (index["nsb_level"] == nsb_level) & (index["irf_type"] == irf_type)
    mask &= np.isclose(index["gamma_efficiency"], gamma_efficiency)
    mask &= index["event_class"] == event_class
    rows = index[mask]
    tables: list[NodeCutTable | None] = []
    for node in nodes:
        if node.get("nsb_level", nsb_level) != nsb_level:
            tables.append(None)  # a node of another NSB level: no event of the run uses it
            continue
        here = np.isclose(rows["zenith"], float(node["zenith_deg"]), atol=0.05) & np.isclose(
            (rows["azimuth"] - float(node["azimuth_deg"]) + 180) % 360 - 180, 0.0, atol=0.05
        )
        if not here.any():
            raise InputFileError(
                f"{library}: no {irf_type} IRF node at model node {node['node']} (zenith "
                f"{node['zenith_deg']}, azimuth {node['azimuth_deg']} deg)"
            )
        irf = read_irf_file(Path(library) / rows["path"][np.flatnonzero(here)[0]])
        if irf.gh_efficiency is None:
            return None, f"{irf.path} has no GH_EFFICIENCY HDU (made before it)"
        tables.append(NodeCutTable(irf.gh_cuts, irf.gh_efficiency, irf.path))
    return tables, ""
