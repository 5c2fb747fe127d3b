"""
The model library: one model directory (``iactpipe-train`` output) per pointing node and
an index (``model_index.ecsv``) that ``iactpipe-dl1-dl2`` reads to choose, per event,
the node(s) whose models reconstruct it.

Layout (node directories named as the IRF library's, `iactpipe.irf.library`)::

    <library>/
      model_index.ecsv
      zd20_az000/nsb_dark/
          energy.joblib  classification.joblib  disp.joblib  cv_report.h5  node.json
      zd40_az000/nsb_dark/...

Each node directory holds ``node.json`` (its pointing, NSB level, features, the DL1
configuration fingerprint and the SHA-256 of its model files); the index is rebuilt
from these files whenever a node is added, so nodes trained in parallel never lose
each other. The library fingerprint (`ModelLibrary.fingerprint`) covers every node's
pointing and model files: DL2 files record it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from ..io import AtomicOutputFile, InputFileError, config_fingerprint

# part of the DL2 file format (read by irf and dl3 too): defined in io, re-exported here
from ..io.dl2_model_records import dl2_model_library, node_usage, summed_node_weights
from .model_files import MODEL_FILES, load_model
from .models import RecoModel
from .tables import POINTING_COLUMNS, DL1EventFile

__all__ = [
    "MODEL_INDEX_NAME",
    "NODE_FILE",
    "ModelLibrary",
    "ModelNode",
    "dl2_model_library",
    "files_pointing",
    "is_model_library",
    "model_node_directory",
    "node_usage",
    "node_record",
    "rebuild_model_index",
    "summed_node_weights",
]

MODEL_INDEX_NAME = "model_index.ecsv"
NODE_FILE = "node.json"
INDEX_COLUMNS = (
    "node",
    "zenith",
    "azimuth",
    "nsb_level",
    "n_gamma_files",
    "n_proton_files",
    "n_gamma_events",
    "n_classifier_events",
    "dl1_fingerprint",
    "features",
    "models_sha256",
)


def model_node_directory(zenith: u.Quantity, azimuth: u.Quantity, nsb_level: str) -> Path:
    """Relative directory of a node: ``zd20_az000/nsb_dark`` (the IRF library's names)."""
    # rounded to 0.001 deg first: a pointing stored as float32 radians (27.4999988 deg)
    # gets the name of the pointing simulated (27.5 deg -> zd28)
    zd = round(round(float(zenith.to_value(u.deg)), 3))
    az = round(round(float(azimuth.to_value(u.deg)), 3)) % 360
    return Path(f"zd{zd:02d}_az{az:03d}") / f"nsb_{nsb_level}"


def files_pointing(
    files: list[DL1EventFile], tolerance: u.Quantity = 0.1 * u.deg
) -> tuple[u.Quantity, u.Quantity]:
    """
    The common pointing (zenith, azimuth) of simulated DL1 files (median of up to 1000
    telescope events each); an `InputFileError` if they differ by more than ``tolerance``.
    """
    pointings = []
    for f in files:
        tel_id = next((t for t in f.tel_ids if f.n_events(t) > 0), None)
        if tel_id is None or POINTING_COLUMNS[0] not in f.available_columns(tel_id):
            raise InputFileError(f"{f.path}: no telescope pointing: cannot place it in a library")
        table = f.read(tel_id, list(POINTING_COLUMNS), 0, 1000)
        alt = np.nanmedian(table[POINTING_COLUMNS[0]].quantity.to_value(u.deg))
        az = np.nanmedian(table[POINTING_COLUMNS[1]].quantity.to_value(u.deg))
        pointings.append((f.path, 90.0 - alt, az % 360))
    zd0, az0 = pointings[0][1], pointings[0][2]
    tol = tolerance.to_value(u.deg)
    for path, zd, az in pointings[1:]:
        if abs(zd - zd0) > tol or abs((az - az0 + 180) % 360 - 180) > tol:
            raise InputFileError(
                f"{path}: pointing (zenith {zd:.2f}, azimuth {az:.2f} deg) differs from "
                f"{pointings[0][0]} ({zd0:.2f}, {az0:.2f} deg): one node, one pointing"
            )
    return zd0 * u.deg, az0 * u.deg


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def node_record(
    directory: Path,
    zenith: u.Quantity,
    azimuth: u.Quantity,
    nsb_level: str,
    metadata: dict,
    features: dict[str, list[str]],
) -> dict:
    """The ``node.json`` content of a trained node directory (reads its model files)."""
    files = [directory / name for name in MODEL_FILES.values() if (directory / name).exists()]
    roles = [f["role"] for f in metadata.get("training_files", [])]
    return {
        "zenith": float(zenith.to_value(u.deg)),
        "azimuth": float(azimuth.to_value(u.deg)) % 360,
        "nsb_level": nsb_level,
        "n_gamma_files": roles.count("gamma"),
        "n_proton_files": roles.count("proton"),
        "dl1_fingerprint": metadata.get("dl1_fingerprint") or "",
        "features": json.dumps(features, sort_keys=True),
        "models_sha256": _sha256(files),
        "training_files": [f["path"] for f in metadata.get("training_files", [])],
    }


def is_model_library(path: Path | str) -> bool:
    """Whether ``path`` is a model library (has an index) rather than one model directory."""
    return (Path(path) / MODEL_INDEX_NAME).is_file()


def rebuild_model_index(library: Path | str) -> Path:
    """Write ``<library>/model_index.ecsv`` from the ``node.json`` of every node directory."""
    library = Path(library)
    rows = []
    for node_file in sorted(library.glob(f"*/*/{NODE_FILE}")):
        record = json.loads(node_file.read_text())
        node = str(node_file.parent.relative_to(library))
        rows.append({"node": node, **{k: record.get(k, -1) for k in INDEX_COLUMNS[1:]}})
    table = Table(rows=rows, names=INDEX_COLUMNS) if rows else Table(names=INDEX_COLUMNS)
    table["zenith"].unit = u.deg
    table["azimuth"].unit = u.deg
    table.meta["description"] = "iactpipe model library index; node paths relative to this file"
    path = library / MODEL_INDEX_NAME
    with AtomicOutputFile(path, overwrite=True) as out:
        table.write(out.temporary_path, format="ascii.ecsv")
    return path


@dataclass
class ModelNode:
    """One node of a model library: its pointing and (once loaded) its models."""

    name: str
    zenith: u.Quantity
    azimuth: u.Quantity
    nsb_level: str
    path: Path
    models_sha256: str
    models: dict[str, RecoModel] = field(default_factory=dict, repr=False)

    @property
    def cos_zenith(self) -> float:
        """cos of the node's zenith angle."""
        return float(np.cos(self.zenith.to_value(u.rad)))

    def load(self) -> dict[str, RecoModel]:
        """Load the node's model files (an `InputFileError` if there is none)."""
        if not self.models:
            for kind, name in MODEL_FILES.items():
                if (self.path / name).exists():
                    self.models[kind] = load_model(self.path / name)
            if not self.models:
                raise InputFileError(f"{self.path}: library node without model files")
        return self.models


class ModelLibrary:
    """
    A model library read from its index, nodes sorted by (azimuth, zenith).

    Parameters
    ----------
    path : Path or str
        The library directory.
    nsb_level : str or None
        Keep only the nodes of this NSB level (all if None).

    Raises
    ------
    InputFileError
        No index, no node, or a node whose directory or model files are missing.
    """

    def __init__(self, path: Path | str, nsb_level: str | None = None):
        self.path = Path(path)
        index_path = self.path / MODEL_INDEX_NAME
        if not index_path.is_file():
            raise InputFileError(f"{self.path}: no model library index {MODEL_INDEX_NAME}")
        try:
            index = Table.read(index_path, format="ascii.ecsv")
        except Exception as err:
            raise InputFileError(f"{index_path}: unreadable model library index ({err})") from None
        if nsb_level is not None:
            index = index[index["nsb_level"] == nsb_level]
        if len(index) == 0:
            level = f" at NSB level {nsb_level!r}" if nsb_level else ""
            raise InputFileError(f"{self.path}: model library has no node{level}")
        index.sort(["azimuth", "zenith"])
        self.index = index
        self.nodes = [
            ModelNode(
                name=str(row["node"]),
                zenith=float(row["zenith"]) * u.deg,
                azimuth=float(row["azimuth"]) * u.deg,
                nsb_level=str(row["nsb_level"]),
                path=self.path / str(row["node"]),
                models_sha256=str(row["models_sha256"]),
            )
            for row in index
        ]
        for node in self.nodes:
            files = [node.path / n for n in MODEL_FILES.values() if (node.path / n).exists()]
            if not files:
                raise InputFileError(f"{node.path}: node of the model library has no model file")
            if _sha256(files) != node.models_sha256:
                raise InputFileError(
                    f"{node.path}: model files differ from the library index (re-train the node)"
                )

    def __len__(self) -> int:
        return len(self.nodes)

    def fingerprint_config(self) -> dict:
        """What the library fingerprint covers: every node's pointing and model files."""
        return {
            "nodes": [
                {
                    "node": n.name,
                    "zenith_deg": round(float(n.zenith.to_value(u.deg)), 3),
                    "azimuth_deg": round(float(n.azimuth.to_value(u.deg)), 3),
                    "nsb_level": n.nsb_level,
                    "models_sha256": n.models_sha256,
                }
                for n in self.nodes
            ]
        }

    @property
    def fingerprint(self) -> str:
        """SHA-256 of `fingerprint_config`."""
        return config_fingerprint(self.fingerprint_config())

    def load(self) -> list[dict[str, RecoModel]]:
        """Load every node's models; they must be of the same kinds and prefixes."""
        loaded = [node.load() for node in self.nodes]
        first = {k: m.prefix for k, m in loaded[0].items()}
        for node, models in zip(self.nodes[1:], loaded[1:], strict=True):
            if {k: m.prefix for k, m in models.items()} != first:
                raise InputFileError(
                    f"{node.path}: models {sorted(models)} differ from those of "
                    f"{self.nodes[0].path} ({sorted(first)})"
                )
        return loaded
