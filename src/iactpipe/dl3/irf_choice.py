"""
Choice of the IRF of a run in an IRF library and reading of the cuts that made it.

`IRFSelector` picks the nearest library node (same NSB level, event class, gamma
efficiency and IRF type; nearest in cos(zenith), then azimuth, as
`iactpipe.irf.select_irf`) and refuses nodes farther than ``max_cos_zenith_distance``
or ``max_azimuth_distance``; with ``method = interpolate`` it takes the two nodes (at
the azimuth nearest to the run's) that bracket the run in cos(zenith), and
`load_irf` interpolates them (`iactpipe.dl3.irf_interpolation`); a run outside the
nodes' range, or at a node, gets the nearest node. With ``method = track`` the run's
pointing track is cut into slices of at most ``track_max_zenith_step`` in zenith, each
slice gets the ``interpolate`` choice at its own zenith, and `load_irf` averages the
slices' IRFs (`iactpipe.dl3.irf_track`). `read_irf_file` (from
`iactpipe.dl3.irf_file`, re-exported here) returns the IRF HDUs with the gammaness and
theta cuts and the event-selection fingerprint stored by ``iactpipe-irf``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Int, Unicode

from ..io import InputFileError
from ..io.dataformat import MODEL_LIBRARY_KEYWORD
from ..io.traits import BoundedQuantity
from ..irf.library import read_index, select_irf
from .irf_file import IRF_HDU_NAMES, IRFFile, read_irf_file
from .irf_interpolation import interpolate_irf_files
from .irf_track import PointingTrack, average_irfs, track_slices

__all__ = [
    "IRF_HDU_NAMES",
    "IRFChoice",
    "IRFFile",
    "IRFSelector",
    "PointingTrack",
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
    #: for ``interpolate``: both nodes as (path, zenith, cos zenith distance, weight);
    #: for ``track``: every node used, its summed weight over the slices
    nodes: list[tuple[Path, u.Quantity, float, float]] = field(default_factory=list)
    cos_zenith: float = np.nan
    #: for ``track``: each slice's choice (nearest or interpolate), zenith and live time
    slices: list[tuple[IRFChoice, u.Quantity, u.Quantity]] = field(default_factory=list)

    def header_cards(self) -> list[tuple[str, object, str]]:
        """FITS cards that record the choice (the ``IRF_*`` node cards: nearest node)."""
        meaning = {
            "nearest": "nearest library node",
            "interpolate": "interpolated in cos zd between 2 nodes",
            "track": "averaged over the run's zenith track",
        }
        track = self.method == "track"
        node_label = "track node" if track else "interpolation node"
        weight_label = "summed track weight" if track else "interpolation weight"
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
        if track:
            zenith = u.Quantity([zenith for _, zenith, _ in self.slices])
            cards += [
                ("IRF_NSL", len(self.slices), "slices of the zenith track"),
                ("IRF_ZMIN", float(zenith.min().to_value(u.deg)), "[deg] lowest slice zenith"),
                ("IRF_ZMAX", float(zenith.max().to_value(u.deg)), "[deg] highest slice zenith"),
            ]
        for i, (path, zenith, dcz, weight) in enumerate(self.nodes, start=1):
            cards += [
                (f"IRF_ND{i}", str(path.parent), f"{node_label} {i} directory"),
                (f"IRF_ZD{i}", float(zenith.to_value(u.deg)), f"[deg] zenith of node {i}"),
                (f"IRF_DC{i}", float(dcz), f"|cos zd(run) - cos zd(node {i})|"),
                (f"IRF_WT{i}", float(weight), f"{weight_label} of node {i}"),
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
        ["nearest", "interpolate", "track"],
        default_value="nearest",
        help="Nearest library node, or interpolation in cos(zenith) between the two nodes "
        "that bracket the run (nearest node outside their range or at a node), or the "
        "average of the interpolated IRFs over the run's zenith track (slices of at most "
        "track_max_zenith_step, weighted by live time and effective area)",
    ).tag(config=True)
    track_max_zenith_step = BoundedQuantity(
        default_value=0.5 * u.deg,
        physical_type=u.physical.angle,
        min=0.01 * u.deg,
        max=90 * u.deg,
        help="method track: largest zenith change within one slice of the run's track",
    ).tag(config=True)
    track_max_slices = Int(
        64, min=1, help="method track: most slices of the run's track (each one interpolation)"
    ).tag(config=True)
    max_azimuth_distance = BoundedQuantity(
        default_value=180 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=180 * u.deg,
        help="Largest azimuth difference accepted between run and node",
    ).tag(config=True)

    def __call__(
        self,
        library: Path | str,
        zenith: u.Quantity,
        azimuth: u.Quantity,
        track: PointingTrack | None = None,
    ) -> IRFChoice:
        """
        Parameters
        ----------
        library : Path or str
            IRF library directory (with ``irf_index.ecsv``).
        zenith, azimuth : Quantity
            Mean pointing of the run.
        track : PointingTrack, optional
            The run's pointing over its GTIs (needed by ``method = track``).

        Raises
        ------
        InputFileError
            No node with the keys, or the nearest node out of range (for ``track``: of
            any slice).
        """
        library = Path(library)
        if self.method == "track":
            if track is None:
                raise ValueError("IRFSelector.method = track needs the run's pointing track")
            return self._track(library, zenith, azimuth, track)
        return self._choose(library, zenith, azimuth, self.method == "interpolate")

    def _choose(self, library, zenith, azimuth, interpolate, log_level=logging.INFO):
        """The nearest node, or the interpolation between the nodes bracketing ``zenith``."""
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
        if interpolate and daz <= self.max_azimuth_distance:
            self._bracket(choice, library, index, zenith, azimuth, log_level)
        # between two bracketing nodes the distance to the nearest one does not matter
        far_zd = dcz > self.max_cos_zenith_distance and choice.method != "interpolate"
        if far_zd or daz > self.max_azimuth_distance:
            raise InputFileError(
                f"{library}: no IRF node within range of zd {zenith.to_value(u.deg):.1f} deg, "
                f"az {azimuth.to_value(u.deg):.1f} deg (nearest: zd {node_zd.value:.1f}, az "
                f"{node_az.value:.1f}; |dcos zd| {dcz:.3f} > {self.max_cos_zenith_distance} or "
                f"|daz| {daz.value:.1f} > {self.max_azimuth_distance})"
            )
        self.log.log(
            log_level,
            "IRF node zd %.1f az %.1f (|dcos zd| %.3f, |daz| %.1f deg): %s",
            node_zd.value,
            node_az.value,
            dcz,
            daz.value,
            path,
        )
        return choice

    def _track(self, library, zenith, azimuth, track) -> IRFChoice:
        """
        The ``interpolate`` choice at each slice of ``track``; the node cards name the
        node of largest summed weight, their distances are from the mid-run pointing.
        """
        slices = track_slices(track, self.track_max_zenith_step, self.track_max_slices)
        chosen = [
            (self._choose(library, zd, az, True, logging.DEBUG), zd, live)
            for zd, az, live in zip(slices.zenith, slices.azimuth, slices.live_time, strict=True)
        ]
        total = float(slices.live_time.sum().to_value(u.s))
        weights: dict[Path, list] = {}  # node file: [zenith, summed weight]
        for choice, _, live in chosen:
            parts = choice.nodes or [(choice.path, choice.zenith, 0.0, 1.0)]
            for path, node_zd, _, weight in parts:
                entry = weights.setdefault(path, [node_zd, 0.0])
                entry[1] += weight * live.to_value(u.s) / total
        cos_run = float(np.cos(zenith.to_value(u.rad)))
        nodes = [
            (path, node_zd, abs(float(np.cos(node_zd.to_value(u.rad))) - cos_run), weight)
            for path, (node_zd, weight) in sorted(weights.items(), key=lambda i: i[1][0])
        ]
        path, node_zd = max(nodes, key=lambda n: n[3])[:2]
        index = read_index(library)
        row = index[[library / p == path for p in index["path"]]][0]
        node_az = row["azimuth"] * u.deg
        daz = abs(((node_az - azimuth).to_value(u.deg) + 180) % 360 - 180) * u.deg
        self.log.info(
            "IRF averaged over %d slices of the zenith track (zd %.1f to %.1f deg): %s",
            len(chosen),
            slices.zenith.min().to_value(u.deg),
            slices.zenith.max().to_value(u.deg),
            ", ".join(f"{p} {w:.3f}" for p, _, _, w in nodes),
        )
        return IRFChoice(
            path,
            node_zd,
            node_az,
            str(row["nsb_level"]),
            abs(float(np.cos(node_zd.to_value(u.rad))) - cos_run),
            daz,
            method="track",
            nodes=nodes,
            cos_zenith=cos_run,
            slices=chosen,
        )

    def _bracket(self, choice, library, index, zenith, azimuth, log_level=logging.INFO):
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
            self.log.log(
                log_level,
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
        self.log.log(
            log_level,
            "IRF interpolation in cos zd %.4f between %s (weight %.3f) and %s (weight %.3f)",
            cos_run,
            choice.nodes[0][0],
            weights[0],
            choice.nodes[1][0],
            weights[1],
        )


def load_irf(choice: IRFChoice) -> IRFFile:
    """
    The IRF file of a choice: the node's file, the interpolation between both nodes, or
    the average over the slices of the run's track.

    Raises
    ------
    InputFileError
        Unreadable files, or nodes that cannot be interpolated or averaged.
    """
    files: dict[Path, IRFFile] = {}  # each node file read once for all slices

    def read(path: Path) -> IRFFile:
        if path not in files:
            files[path] = read_irf_file(path)
        return files[path]

    def one(choice: IRFChoice) -> IRFFile:
        if choice.method != "interpolate":
            return read(choice.path)
        cos_nodes = [float(np.cos(zenith)) for _, zenith, *_ in choice.nodes]
        nodes = [read(path) for path, *_ in choice.nodes]
        return interpolate_irf_files(nodes, cos_nodes, choice.cos_zenith)

    if choice.method != "track":
        return one(choice)
    irfs = [one(c) for c, _, _ in choice.slices]
    return average_irfs(irfs, u.Quantity([live for _, _, live in choice.slices]))


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
