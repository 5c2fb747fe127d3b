"""
Choice of the IRF of a run in an IRF library and reading of the cuts that made it.

`IRFSelector` picks the nearest library node (same NSB level, event class, gamma
efficiency and IRF type; nearest in cos(zenith), then azimuth, as
`iactpipe.irf.select_irf`) and refuses nodes farther than ``max_cos_zenith_distance``
or ``max_azimuth_distance``; with ``method = interpolate`` it takes the two nodes (at
the azimuth nearest to the run's) that bracket the run in cos(zenith), and
`load_irf` interpolates them (`iactpipe.dl3.irf_interpolation`); a run outside the
nodes' range, or at a node, gets the nearest node. `read_irf_file` (from
`iactpipe.dl3.irf_file`, re-exported here) returns the IRF HDUs with the gammaness and
theta cuts and the event-selection fingerprint stored by ``iactpipe-irf``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Unicode

from ..io import InputFileError
from ..io.dataformat import MODEL_LIBRARY_KEYWORD
from ..io.traits import BoundedQuantity
from ..irf.library import read_index, select_irf
from .irf_file import IRF_HDU_NAMES, IRFFile, read_irf_file
from .irf_interpolation import interpolate_irf_files

__all__ = [
    "IRF_HDU_NAMES",
    "IRFChoice",
    "IRFFile",
    "IRFSelector",
    "check_library_nodes",
    "load_irf",
    "model_library_problem",
    "read_irf_file",
]


@dataclass
class IRFChoice:
    """The IRF file chosen for a run and how far its node is from the run's pointing."""

    path: Path
    zenith: u.Quantity
    azimuth: u.Quantity
    nsb_level: str
    cos_zenith_distance: float
    azimuth_distance: u.Quantity
    method: str = "nearest"
    #: for ``interpolate``: both nodes as (path, zenith, cos zenith distance, weight)
    nodes: list[tuple[Path, u.Quantity, float, float]] = field(default_factory=list)
    cos_zenith: float = np.nan

    def header_cards(self) -> list[tuple[str, object, str]]:
        """FITS cards that record the choice (the ``IRF_*`` node cards: nearest node)."""
        meaning = {
            "nearest": "nearest library node",
            "interpolate": "interpolated in cos zd between 2 nodes",
        }
        cards = [
            ("IRF_METH", self.method, f"IRF choice: {meaning[self.method]}"),
            ("IRF_FILE", str(self.path.name), "IRF file of the node"),
            ("IRF_NODE", str(self.path.parent), "library node directory"),
            ("IRF_ZD", float(self.zenith.to_value(u.deg)), "[deg] zenith of the IRF node"),
            ("IRF_AZ", float(self.azimuth.to_value(u.deg)), "[deg] azimuth of the IRF node"),
            ("IRF_NSB", self.nsb_level, "NSB level of the IRF node"),
            ("IRF_DCZ", float(self.cos_zenith_distance), "|cos zd(run) - cos zd(node)|"),
            ("IRF_DAZ", float(self.azimuth_distance.to_value(u.deg)), "[deg] |az(run) - az(node)|"),
        ]
        for i, (path, zenith, dcz, weight) in enumerate(self.nodes, start=1):
            cards += [
                (f"IRF_ND{i}", str(path.parent), f"interpolation node {i} directory"),
                (f"IRF_ZD{i}", float(zenith.to_value(u.deg)), f"[deg] zenith of node {i}"),
                (f"IRF_DC{i}", float(dcz), f"|cos zd(run) - cos zd(node {i})|"),
                (f"IRF_WT{i}", float(weight), f"interpolation weight of node {i}"),
            ]
        return cards


class IRFSelector(Component):
    """
    Nearest IRF-library node for a run's mean pointing and NSB level.

    The node must share the NSB level, event class, gamma efficiency and IRF type and
    lie within ``max_cos_zenith_distance`` in cos(zenith) (unless two nodes bracket the
    run and ``method`` is ``interpolate``) and ``max_azimuth_distance`` in azimuth;
    otherwise the run gets no IRF (an error, never a guess).
    """

    irf_type = CaselessStrEnum(
        ["point-like", "full-enclosure"],
        default_value="point-like",
        help="Point-like (RAD_MAX, theta cut) or full-enclosure (PSF) IRFs",
    ).tag(config=True)
    gamma_efficiency = Float(0.7, min=0.01, max=1.0, help="Gamma efficiency of the cuts").tag(
        config=True
    )
    event_class = Unicode("stereo", help="Event class of the IRFs (library key)").tag(config=True)
    nsb_level = Unicode("dark", help="NSB level of the run (library key)").tag(config=True)
    max_cos_zenith_distance = Float(
        0.05, min=0, help="Largest |cos zd(run) - cos zd(node)| accepted"
    ).tag(config=True)
    method = CaselessStrEnum(
        ["nearest", "interpolate"],
        default_value="nearest",
        help="Nearest library node, or interpolation in cos(zenith) between the two nodes "
        "that bracket the run (nearest node outside their range or at a node)",
    ).tag(config=True)
    max_azimuth_distance = BoundedQuantity(
        default_value=180 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=180 * u.deg,
        help="Largest azimuth difference accepted between run and node",
    ).tag(config=True)

    def __call__(self, library: Path | str, zenith: u.Quantity, azimuth: u.Quantity) -> IRFChoice:
        """
        Parameters
        ----------
        library : Path or str
            IRF library directory (with ``irf_index.ecsv``).
        zenith, azimuth : Quantity
            Mean pointing of the run.

        Raises
        ------
        InputFileError
            No node with the keys, or the nearest node out of range.
        """
        library = Path(library)
        path = select_irf(
            library,
            zenith,
            azimuth,
            self.nsb_level,
            self.gamma_efficiency,
            self.irf_type,
            self.event_class,
        )
        index = read_index(library)
        row = index[[library / p == path for p in index["path"]]][0]
        node_zd, node_az = row["zenith"] * u.deg, row["azimuth"] * u.deg
        dcz = abs(np.cos(node_zd) - np.cos(zenith)).to_value(u.one)
        daz = abs(((node_az - azimuth).to_value(u.deg) + 180) % 360 - 180) * u.deg
        choice = IRFChoice(path, node_zd, node_az, str(row["nsb_level"]), dcz, daz)
        if self.method == "interpolate" and daz <= self.max_azimuth_distance:
            self._bracket(choice, library, index, zenith, azimuth)
        # between two bracketing nodes the distance to the nearest one does not matter
        far_zd = dcz > self.max_cos_zenith_distance and choice.method != "interpolate"
        if far_zd or daz > self.max_azimuth_distance:
            raise InputFileError(
                f"{library}: no IRF node within range of zd {zenith.to_value(u.deg):.1f} deg, "
                f"az {azimuth.to_value(u.deg):.1f} deg (nearest: zd {node_zd.value:.1f}, az "
                f"{node_az.value:.1f}; |dcos zd| {dcz:.3f} > {self.max_cos_zenith_distance} or "
                f"|daz| {daz.value:.1f} > {self.max_azimuth_distance})"
            )
        self.log.info(
            "IRF node zd %.1f az %.1f (|dcos zd| %.3f, |daz| %.1f deg): %s",
            node_zd.value,
            node_az.value,
            dcz,
            daz.value,
            path,
        )
        return choice

    def _bracket(self, choice, library, index, zenith, azimuth):
        """Turn ``choice`` into an interpolation when two nodes bracket the run."""
        mask = (index["nsb_level"] == self.nsb_level) & (index["irf_type"] == self.irf_type)
        mask &= np.isclose(index["gamma_efficiency"], self.gamma_efficiency)
        mask &= index["event_class"] == self.event_class
        rows = index[mask]
        daz = np.abs((rows["azimuth"] - azimuth.to_value(u.deg) + 180) % 360 - 180)
        rows = rows[np.isclose(daz, daz.min())]
        cos_run = float(np.cos(zenith.to_value(u.rad)))
        cos_nodes = np.cos(np.deg2rad(np.asarray(rows["zenith"], dtype=float)))
        below, above = cos_nodes < cos_run - 1e-9, cos_nodes > cos_run + 1e-9
        if not (below.any() and above.any()):
            self.log.info(
                "IRF interpolation: no pair of nodes brackets cos zd %.4f (at a "
                "node or outside the range); nearest node used",
                cos_run,
            )
            return
        pair = [
            np.flatnonzero(below)[np.argmax(cos_nodes[below])],
            np.flatnonzero(above)[np.argmin(cos_nodes[above])],
        ]
        c = cos_nodes[pair]
        weights = [(c[1] - cos_run) / (c[1] - c[0]), (cos_run - c[0]) / (c[1] - c[0])]
        choice.method, choice.cos_zenith = "interpolate", cos_run
        choice.nodes = [
            (
                library / rows["path"][i],
                rows["zenith"][i] * u.deg,
                abs(float(c[k]) - cos_run),
                float(weights[k]),
            )
            for k, i in enumerate(pair)
        ]
        self.log.info(
            "IRF interpolation in cos zd %.4f between %s (weight %.3f) and %s (weight %.3f)",
            cos_run,
            choice.nodes[0][0],
            weights[0],
            choice.nodes[1][0],
            weights[1],
        )


def load_irf(choice: IRFChoice) -> IRFFile:
    """
    The IRF file of a choice: the node's file, or the interpolation between both nodes.

    Raises
    ------
    InputFileError
        Unreadable files, or nodes that cannot be interpolated.
    """
    if choice.method != "interpolate":
        return read_irf_file(choice.path)
    files = [read_irf_file(path) for path, *_ in choice.nodes]
    cos_nodes = [float(np.cos(zenith)) for _, zenith, *_ in choice.nodes]
    return interpolate_irf_files(files, cos_nodes, choice.cos_zenith)


def check_library_nodes(library: Path | str, nsb_level: str, model_nodes: list[dict]) -> None:
    """
    Refuse an IRF library whose (zenith, azimuth) nodes at ``nsb_level`` are not the
    nodes of the model library that made a run's DL2 (``model_nodes``: the DL2's record).

    Raises
    ------
    InputFileError
        The node sets differ (both are named).
    """
    index = read_index(library)
    rows = index[index["nsb_level"] == nsb_level]
    irf_nodes = {(round(float(r["zenith"]), 1), round(float(r["azimuth"]) % 360, 1)) for r in rows}
    models = {
        (round(float(n["zenith_deg"]), 1), round(float(n["azimuth_deg"]) % 360, 1))
        for n in model_nodes
        if n.get("nsb_level", nsb_level) == nsb_level
    }
    if irf_nodes != models:
        raise InputFileError(
            f"{library}: IRF nodes (zenith, azimuth) {sorted(irf_nodes)} at NSB {nsb_level!r} "
            f"differ from the model library nodes {sorted(models)} that made the run's DL2"
        )


def model_library_problem(irf: IRFFile, dl2_fingerprint: str | None) -> str | None:
    """
    Why ``irf`` does not match a run reconstructed by the model library of
    ``dl2_fingerprint`` (``None``: no library), or None when they agree.
    """
    found = irf.primary_header.get(MODEL_LIBRARY_KEYWORD) or None
    if found == (dl2_fingerprint or None):
        return None
    return (
        f"{irf.path}: the IRF was made from DL2 of model library {(found or 'none')[:12]}, "
        f"the run's DL2 from model library {(dl2_fingerprint or 'none')[:12]}"
    )
