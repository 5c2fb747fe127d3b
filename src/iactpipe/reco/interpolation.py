"""
Per-event choice of model-library nodes and interpolation of their predictions.

For each array event, `choose_nodes` takes the nodes of the azimuth group nearest to
the event's pointing azimuth (nodes within ``azimuth_group_deg`` of each other) and
either the node nearest in cos(zenith) or the two nodes that bracket the event in
cos(zenith) with linear weights in cos(zenith) (lstchain's interpolation of the
random-forest outputs). An event beyond the nodes' cos(zenith)
range gets the nearest node (weight 1) and the ``outside`` flag: never extrapolation.

`LibraryReconstructor` runs a `DL2Reconstructor` per node used in a chunk and merges
their DL2 tables event by event: energies in log10(E), azimuths on the circle, every
other float column linearly; boolean columns come from the node of largest weight. A
node whose value is NaN (event not reconstructed there) leaves the weight to the
other. It adds the table ``DL2_MODEL_NODES_TABLE`` (nodes, weights, flag per event,
and each of the two nodes' own gammaness and reconstructed energy: ``gammaness_low``,
``gammaness_high``, ``energy_low``, ``energy_high``; NaN where the node did not
reconstruct the event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.core import Component
from ctapipe.core.traits import Bool, CaselessStrEnum, Float

from ..io import InputFileError
from ..io.dataformat import (
    DL2_MODEL_NODES_TABLE,
    DL2_SUBARRAY_CLASSIFICATION_GROUP,
    DL2_SUBARRAY_ENERGY_GROUP,
)
from ..stereo.files import event_keys
from .apply import DL2Reconstructor
from .library import ModelLibrary
from .tables import PARAMETERS, POINTING_COLUMNS, SUBARRAY_TRIGGER, DL1EventFile

__all__ = [
    "LibraryReconstructor",
    "ModelChoice",
    "NodeChoice",
    "azimuth_groups",
    "choose_nodes",
    "merge_tables",
]


@dataclass
class NodeChoice:
    """Per event: the two node indices, the weight of the first, the out-of-range flag."""

    low: np.ndarray
    high: np.ndarray
    weight_low: np.ndarray
    outside: np.ndarray
    #: distance in cos(zenith) to the nearest node
    distance: np.ndarray


def choose_nodes(
    node_cos_zenith: np.ndarray,
    node_azimuth_deg: np.ndarray,
    cos_zenith: np.ndarray,
    azimuth_deg: np.ndarray,
    interpolate: bool = True,
    azimuth_group_deg: float = 30.0,
) -> NodeChoice:
    """
    The nodes of each event (see the module docstring).

    Parameters
    ----------
    node_cos_zenith, node_azimuth_deg : np.ndarray
        The nodes' cos(zenith) and azimuth (deg).
    cos_zenith, azimuth_deg : np.ndarray
        The events' pointing; NaN pointing gets node 0 (weight 1, not flagged).
    interpolate : bool
        Two bracketing nodes with weights (True) or the nearest node (False).
    azimuth_group_deg : float
        Nodes whose azimuths are this close form one group (`azimuth_groups`); an event
        takes the group of the node nearest in azimuth and is bracketed in cos(zenith)
        within it (nodes of one declination line on one side of the meridian have
        slightly different azimuths). Two nodes of a group at one zenith: the first.
    """
    n = len(cos_zenith)
    low, high = np.zeros(n, int), np.zeros(n, int)
    weight = np.ones(n)
    outside = np.zeros(n, bool)
    distance = np.zeros(n)
    groups = azimuth_groups(node_azimuth_deg, azimuth_group_deg)
    d_az = np.abs((azimuth_deg[:, None] - node_azimuth_deg[None, :] + 180) % 360 - 180)
    nearest_group = groups[np.argmin(np.where(np.isfinite(d_az), d_az, 0), axis=1)]
    ok = np.isfinite(cos_zenith)
    for group in np.unique(groups):
        rows = ok & (nearest_group == group)
        if not rows.any():
            continue
        ids = np.flatnonzero(groups == group)
        ids = ids[np.argsort(node_cos_zenith[ids], kind="stable")]
        ids = ids[np.concatenate([[True], np.diff(node_cos_zenith[ids]) > 1e-9])]
        cz = node_cos_zenith[ids]
        c = cos_zenith[rows]
        near = np.argmin(np.abs(c[:, None] - cz[None, :]), axis=1)
        distance[rows] = np.abs(c - cz[near])
        beyond = (c < cz[0]) | (c > cz[-1])
        outside[rows] = beyond & (distance[rows] > 1e-9)
        if not interpolate or len(cz) == 1:
            low[rows], high[rows] = ids[near], ids[near]
            continue
        upper = np.clip(np.searchsorted(cz, c), 1, len(cz) - 1)
        w = (cz[upper] - c) / (cz[upper] - cz[upper - 1])
        w = np.where(beyond, np.where(c < cz[0], 1.0, 0.0), np.clip(w, 0, 1))
        low[rows], high[rows], weight[rows] = ids[upper - 1], ids[upper], w
    return NodeChoice(low, high, weight, outside, distance)


def azimuth_groups(node_azimuth_deg: np.ndarray, tolerance_deg: float) -> np.ndarray:
    """
    A group label per node: azimuths (on the circle) separated by gaps of at most
    ``tolerance_deg`` belong to one group.
    """
    az = np.asarray(node_azimuth_deg, float) % 360
    order = np.argsort(az)
    gaps = np.diff(az[order]) > tolerance_deg
    labels = np.concatenate([[0], np.cumsum(gaps)])
    if labels[-1] > 0 and az[order][0] + 360 - az[order][-1] <= tolerance_deg:
        labels[labels == labels[-1]] = 0  # the group across north
    out = np.empty(len(az), int)
    out[order] = labels
    return out


class ModelChoice(Component):
    """How the nodes of a model library are chosen for each event."""

    method = CaselessStrEnum(
        ["interpolate", "nearest"],
        default_value="interpolate",
        help=(
            "interpolate: the model outputs of the two nodes bracketing the event in "
            "cos(zenith), linear in cos(zenith); nearest: the nearest node in cos(zenith)"
        ),
    ).tag(config=True)
    max_cos_zenith_distance = Float(
        0.05,
        min=0,
        help=(
            "Events outside the nodes' zenith range and farther than this in cos(zenith) "
            "from the nearest node stop the run (exit 2): the library does not cover them "
            "(0.05: 30 -> 35 deg)"
        ),
    ).tag(config=True)
    azimuth_group_deg = Float(
        30.0,
        min=0,
        help=(
            "Nodes whose azimuths are this close (deg) are one azimuth group: an event is "
            "interpolated in cos(zenith) between nodes of the group nearest in azimuth"
        ),
    ).tag(config=True)
    strict = Bool(
        False,
        help="Stop (exit 2) at any event outside the nodes' zenith range instead of flagging it",
    ).tag(config=True)

    def __call__(
        self, library: ModelLibrary, zenith: u.Quantity, azimuth: u.Quantity, where: str
    ) -> NodeChoice:
        """The nodes of events at pointing (``zenith``, ``azimuth``) (``where``: for errors)."""
        node_cz = np.array([n.cos_zenith for n in library.nodes])
        node_az = np.array([n.azimuth.to_value(u.deg) for n in library.nodes])
        cz = np.cos(zenith.to_value(u.rad))
        choice = choose_nodes(
            node_cz,
            node_az,
            cz,
            azimuth.to_value(u.deg),
            self.method == "interpolate",
            self.azimuth_group_deg,
        )
        far = choice.outside & (choice.distance > self.max_cos_zenith_distance)
        if far.any():
            worst = float(np.nanmax(zenith[far].to_value(u.deg)))
            zds = ", ".join(f"{n.zenith.to_value(u.deg):.1f}" for n in library.nodes)
            raise InputFileError(
                f"{where}: {far.sum()} events at zenith up to {worst:.1f} deg are farther than "
                f"{self.max_cos_zenith_distance} in cos(zenith) from every node of "
                f"{library.path} (zenith {zds} deg): no model for them"
            )
        if choice.outside.any():
            if self.strict:
                raise InputFileError(
                    f"{where}: {choice.outside.sum()} events outside the zenith range of the "
                    f"nodes of {library.path} (--strict)"
                )
            self.log.warning(
                "%s: %d events outside the zenith range of the model nodes: nearest node "
                "used, flagged in %s",
                where,
                choice.outside.sum(),
                DL2_MODEL_NODES_TABLE,
            )
        return choice


def _merge_column(values: list[np.ndarray], weights: list[np.ndarray], kind: str) -> np.ndarray:
    stack = np.stack([np.asarray(v, float) for v in values])
    w = np.stack(weights).reshape((len(values), -1) + (1,) * (stack.ndim - 2))
    w = np.broadcast_to(w, stack.shape)
    if kind == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            stack = np.log10(stack)
    elif kind == "angle":
        stack = stack[0] + (stack - stack[0] + 180) % 360 - 180
    finite = np.isfinite(stack)
    w = np.where(finite & (w > 0), w, 0.0)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        merged = np.where(total > 0, (np.where(finite, stack, 0) * w).sum(axis=0) / total, np.nan)
    if kind == "log":
        return 10**merged
    if kind == "angle":
        return merged % 360
    return merged


def _column_kind(name: str, unit) -> str:
    if unit is not None and unit.physical_type == "energy" and name.endswith("_energy"):
        return "log"
    if name.endswith("_az"):
        return "angle"
    return "linear"


def merge_tables(tables: Sequence[Table], weights: Sequence[np.ndarray]) -> Table:
    """
    Rows of the same events predicted by several nodes merged with per-row ``weights``
    (see the module docstring). The tables have the same rows and columns.
    """
    out = tables[0].copy()
    dominant = np.argmax(np.stack(weights), axis=0)
    for name in out.colnames:
        column = tables[0][name]
        data = np.asarray(column)
        if name in ("obs_id", "event_id", "tel_id") or data.dtype.kind not in "fb":
            continue
        values = [np.asarray(t[name]) for t in tables]
        if data.dtype.kind == "b":
            stack = np.stack(values)
            out[name] = np.take_along_axis(
                stack, dominant.reshape((1, -1) + (1,) * (stack.ndim - 2)), axis=0
            )[0]
            continue
        merged = _merge_column(values, list(weights), _column_kind(name, column.unit))
        out[name] = u.Quantity(merged, column.unit) if column.unit is not None else merged
    return out


class LibraryReconstructor(Component):
    """
    Reconstruct DL1 events with the models of a `ModelLibrary`, per event from the
    node(s) that `ModelChoice` picks for its pointing.

    Parameters
    ----------
    library : ModelLibrary
        The library (its nodes' models are loaded here).
    """

    def __init__(self, library: ModelLibrary, **kwargs):
        super().__init__(**kwargs)
        self.library = library
        self.choice = ModelChoice(parent=self)
        self.reconstructors = [DL2Reconstructor(m, parent=self) for m in library.load()]
        self.models = library.nodes[0].models
        self.n_outside = 0

    def check(self, f: DL1EventFile) -> list[int]:
        """The telescopes to process (every node's models must cover them)."""
        tel_ids = [r.check(f) for r in self.reconstructors]
        return tel_ids[0]

    def event_pointing(
        self, f: DL1EventFile, tel_ids: list[int], start: int, stop: int
    ) -> tuple[u.Quantity, u.Quantity]:
        """Mean pointing (zenith, azimuth) of the telescopes of the array events start:stop."""
        trigger_keys = f.event_keys(SUBARRAY_TRIGGER)[start:stop]
        n = len(trigger_keys)
        alt, az = np.full((n, len(tel_ids)), np.nan), np.full((n, len(tel_ids)), np.nan)
        for k, tel_id in enumerate(tel_ids):
            keys = f.event_keys(PARAMETERS.format(tel_id))
            lo, hi = np.searchsorted(keys, [trigger_keys[0], trigger_keys[-1] + 1]) if n else (0, 0)
            table = f.read(tel_id, list(POINTING_COLUMNS), int(lo), int(hi))
            where = np.searchsorted(trigger_keys, event_keys(table["obs_id"], table["event_id"]))
            alt[where, k] = table[POINTING_COLUMNS[0]].quantity.to_value(u.deg)
            az[where, k] = table[POINTING_COLUMNS[1]].quantity.to_value(u.deg)
        with np.errstate(invalid="ignore"), _quiet():
            mean_alt = np.nanmean(alt, axis=1)
            rad = np.deg2rad(az)
            mean_az = np.rad2deg(np.arctan2(np.nanmean(np.sin(rad), 1), np.nanmean(np.cos(rad), 1)))
        return (90 - mean_alt) * u.deg, (mean_az % 360) * u.deg

    def __call__(
        self, f: DL1EventFile, tel_ids: list[int], start: int, stop: int
    ) -> dict[str, Table]:
        """DL2 tables of the array events start:stop (`DL2Reconstructor` and the node table)."""
        zenith, azimuth = self.event_pointing(f, tel_ids, start, stop)
        choice = self.choice(self.library, zenith, azimuth, str(f.path))
        self.n_outside += int(choice.outside.sum())
        used = sorted(set(choice.low) | set(choice.high))
        weights = {
            j: np.where(choice.low == j, choice.weight_low, 0.0)
            + np.where(choice.high == j, 1 - choice.weight_low, 0.0)
            for j in used
        }
        results = {j: self.reconstructors[j](f, tel_ids, start, stop) for j in used}
        trigger_keys = f.event_keys(SUBARRAY_TRIGGER)[start:stop]
        out = {}
        for path, first in results[used[0]].items():
            rows = np.searchsorted(trigger_keys, event_keys(first["obs_id"], first["event_id"]))
            out[path] = merge_tables(
                [results[j][path] for j in used], [weights[j][rows] for j in used]
            )
        trigger = f.h5.get_node(SUBARRAY_TRIGGER)
        out[DL2_MODEL_NODES_TABLE] = Table(
            {
                "obs_id": trigger.read(start, stop, field="obs_id"),
                "event_id": trigger.read(start, stop, field="event_id"),
                "pointing_zenith": zenith.to(u.deg),
                "node_low": choice.low.astype(np.int16),
                "node_high": choice.high.astype(np.int16),
                "weight_low": choice.weight_low,
                "weight_high": 1 - choice.weight_low,
                "outside_node_range": choice.outside,
                **self._node_outputs(results, choice, trigger_keys),
            }
        )
        return out

    def _node_outputs(
        self, results: dict[int, dict[str, Table]], choice: NodeChoice, trigger_keys: np.ndarray
    ) -> dict[str, np.ndarray]:
        """
        Each event's own gammaness and reconstructed energy at its low and high node
        (NaN where that node did not reconstruct it): the DL3 gammaness cut between
        nodes compares each node's score with that node's own gammas
        (`iactpipe.dl3.node_cuts`).
        """
        n = len(trigger_keys)
        columns = {}
        for kind, name, group, column, unit in (
            ("classification", "gammaness", DL2_SUBARRAY_CLASSIFICATION_GROUP, "prediction", None),
            ("energy", "energy", DL2_SUBARRAY_ENERGY_GROUP, "energy", u.TeV),
        ):
            if kind not in self.models:
                continue
            prefix = self.models[kind].prefix
            path = f"{group}/{prefix}"
            for side, nodes in (("low", choice.low), ("high", choice.high)):
                values = np.full(n, np.nan)
                for j, result in results.items():
                    table = result[path]
                    rows = np.searchsorted(
                        trigger_keys, event_keys(table["obs_id"], table["event_id"])
                    )
                    mine = nodes[rows] == j
                    data = table[f"{prefix}_{column}"]
                    data = (
                        u.Quantity(data).to_value(unit)
                        if unit is not None
                        else np.asarray(data, float)
                    )
                    values[rows[mine]] = data[mine]
                columns[f"{name}_{side}"] = values * unit if unit is not None else values
        return columns


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
