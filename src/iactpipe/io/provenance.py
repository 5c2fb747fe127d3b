"""
Provenance and configuration fingerprints stored in every iactpipe output.

A fingerprint is the SHA-256 of the canonical JSON of the *effective* configuration
(every trait value, defaults included) of the components whose settings must agree
between producer and consumer, e.g. image extraction and cleaning for DL1 files that
models are trained on and applied to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any

import tables
from ctapipe.core import Component

from ..version import __version__
from .dataformat import (
    ATTRIBUTE_PREFIX,
    CONFIG_ATTRIBUTE,
    DL1_FINGERPRINT_ATTRIBUTE,
    TOOL_ATTRIBUTE,
    VERSION_ATTRIBUTE,
    config_attribute,
    fingerprint_attribute,
)

__all__ = [
    "FINGERPRINT_ATTRIBUTE",
    "config_fingerprint",
    "effective_config",
    "read_provenance",
    "write_provenance",
]

#: the DL1 fingerprint attribute (`iactpipe.io.dataformat.DL1_FINGERPRINT_ATTRIBUTE`)
FINGERPRINT_ATTRIBUTE = DL1_FINGERPRINT_ATTRIBUTE


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    # TelescopePatternList is a UserList: any non-string sequence becomes a list
    if isinstance(value, Sequence | Set) and not isinstance(value, str | bytes):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def effective_config(components: Iterable[Component]) -> dict:
    """
    The effective configuration of ``components``: all trait values, sub-components
    included, as a JSON-serialisable dict keyed by class name.
    """
    config = {}
    for component in components:
        config.update(_jsonable(component.get_current_config()))
    return config


def config_fingerprint(config: Mapping) -> str:
    """SHA-256 hex digest of the canonical (sorted-key) JSON of ``config``."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def write_provenance(
    path: Path | str,
    tool_name: str,
    tool_config: Mapping,
    fingerprinted: Mapping[str, Mapping] | None = None,
) -> dict[str, str]:
    """
    Write iactpipe's provenance into the root attributes of an HDF5 file.

    Parameters
    ----------
    path : Path or str
        An existing HDF5 file (opened in append mode).
    tool_name : str
        The Tool that wrote the file.
    tool_config : Mapping
        The Tool's full effective configuration.
    fingerprinted : Mapping[str, Mapping], optional
        ``{kind: config}``; for each kind (e.g. ``"DL1"``) the config and its
        fingerprint are stored as ``IACTPIPE_<KIND>_CONFIG`` / ``_FINGERPRINT``.

    Returns
    -------
    dict
        The attributes written.
    """
    attrs = {
        VERSION_ATTRIBUTE: __version__,
        TOOL_ATTRIBUTE: tool_name,
        CONFIG_ATTRIBUTE: json.dumps(_jsonable(tool_config), sort_keys=True),
    }
    for kind, config in (fingerprinted or {}).items():
        attrs[config_attribute(kind)] = json.dumps(_jsonable(config), sort_keys=True)
        attrs[fingerprint_attribute(kind)] = config_fingerprint(config)
    with tables.open_file(path, mode="a") as h5:
        for key, value in attrs.items():
            h5.root._v_attrs[key] = value
    return attrs


def read_provenance(path: Path | str) -> dict[str, str]:
    """Read back the ``IACTPIPE_*`` root attributes of an HDF5 file."""
    with tables.open_file(path, mode="r") as h5:
        attrs = h5.root._v_attrs
        return {k: str(attrs[k]) for k in attrs._v_attrnames if k.startswith(ATTRIBUTE_PREFIX)}
