"""
Model files: a trained `RecoModel` (joblib) with the metadata that makes it safe to apply.

The metadata records the features, the telescopes (model keys), the DL1 configuration
(and its fingerprint) of the training files, the training files' provenance and
iactpipe's version. `check_dl1_config` compares a DL1 file's configuration with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import joblib

from ..io import FINGERPRINT_ATTRIBUTE, InputFileError, config_fingerprint, read_provenance
from ..io.dataformat import DL1_CONFIG_ATTRIBUTE
from ..version import __version__
from .models import RecoModel

__all__ = [
    "MODEL_FILES",
    "check_dl1_config",
    "config_differences",
    "dl1_config_of",
    "load_model",
    "save_model",
]

#: file name of each model kind in a model directory
MODEL_FILES = {
    "energy": "energy.joblib",
    "classification": "classification.joblib",
    "disp": "disp.joblib",
}


def dl1_config_of(path: Path | str) -> tuple[str | None, dict]:
    """(fingerprint, configuration) of the DL1 step that made ``path``."""
    provenance = read_provenance(path)
    config = provenance.get(DL1_CONFIG_ATTRIBUTE)
    return provenance.get(FINGERPRINT_ATTRIBUTE), json.loads(config) if config else {}


def save_model(model: RecoModel, path: Path | str, metadata: Mapping) -> None:
    """Write ``model`` with ``metadata`` (plus iactpipe's version and features)."""
    model.metadata = {
        **metadata,
        "iactpipe_version": __version__,
        "model_class": type(model).__name__,
        "kind": model.kind,
        "features": model.all_features,
        "keys": list(model.keys),
        "stereo": bool(model.stereo),
    }
    model.set_n_jobs(None)
    with Path(path).open("wb") as f:
        joblib.dump(model, f, compress=3)


def load_model(path: Path | str) -> RecoModel:
    """Read a model file (an `InputFileError` if it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: model file does not exist")
    try:
        with path.open("rb") as f:
            model = joblib.load(f)
    except Exception as err:
        raise InputFileError(f"{path}: not a model file ({err})") from None
    if not isinstance(model, RecoModel):
        raise InputFileError(f"{path}: not an iactpipe model file ({type(model).__name__})")
    return model


def _flatten(config: Mapping, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def config_differences(a: Mapping, b: Mapping) -> list[str]:
    """``Class.trait: a != b`` for every setting that differs between two configs."""
    fa, fb = _flatten(a), _flatten(b)
    return [
        f"{key}: {fa.get(key, '<unset>')!r} != {fb.get(key, '<unset>')!r}"
        for key in sorted(set(fa) | set(fb))
        if fa.get(key) != fb.get(key)
    ]


def check_dl1_config(model: RecoModel, path: Path | str) -> list[str]:
    """
    The settings in which the DL1 configuration of ``path`` differs from the model's
    training data (an empty list when the fingerprints agree).
    """
    fingerprint, config = dl1_config_of(path)
    trained = model.metadata.get("dl1_config", {})
    if fingerprint is not None and fingerprint == model.metadata.get("dl1_fingerprint"):
        return []
    if fingerprint is None and not trained:
        return []
    differences = config_differences(trained, config)
    if not differences and config_fingerprint(config) != model.metadata.get("dl1_fingerprint"):
        differences = ["(fingerprints differ)"]
    if fingerprint is None:
        differences = ["input has no DL1 configuration (not made by iactpipe-r0-dl1)"]
    return differences
