"""
Step fingerprints and records: a step is up to date when its outputs exist and the
fingerprint of its inputs, arguments and config equals the one recorded (in
``<output>.step.json``) when it last succeeded.

The fingerprint is the SHA-256 of: the tool and its arguments, the config text, the
iactpipe version, and for every input file its path, size and modification time
(``mtime_ns``; directories: every file below them). Content hashes would be exact
but read gigabytes of DL1 at every start; a rewritten upstream output changes its
mtime, so its dependents rerun, which is the rule wanted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..version import __version__
from .graph import Step
from .layout import OutputLayout

__all__ = [
    "input_signature",
    "read_record",
    "record_path",
    "step_fingerprint",
    "up_to_date",
    "write_record",
]


def _resolve(root: Path, path: Path) -> Path:
    return path if path.is_absolute() else root / path


def _file_signature(name: str, path: Path) -> list:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return [name, None, None]
    return [name, stat.st_size, stat.st_mtime_ns]


def input_signature(root: Path, path: Path) -> list:
    """``[path, size, mtime_ns]`` of a file; ``[path, [...]]`` over a directory's files."""
    full = _resolve(root, path)
    if full.is_dir():
        files = sorted(p for p in full.rglob("*") if p.is_file() and not p.name.startswith("."))
        return [str(path), [_file_signature(str(p.relative_to(full)), p) for p in files]]
    return _file_signature(str(path), full)


def step_fingerprint(step: Step, root: Path, args: list[str]) -> str:
    """SHA-256 of everything that decides a step's outputs."""
    content = {
        "tool": step.tool,
        "args": args,
        "config": step.config_text,
        "version": __version__,
        "inputs": [input_signature(root, p) for p in step.inputs],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def record_path(step: Step, root: Path, suffix: str = "step.json") -> Path:
    """``<primary output>.step.json`` (or ``.log``, ``.config.yaml``)."""
    return _resolve(root, OutputLayout.record(step.primary_output, suffix))


def read_record(step: Step, root: Path) -> dict | None:
    """The step's record, or None when absent or unreadable."""
    try:
        return json.loads(record_path(step, root).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def up_to_date(step: Step, root: Path, fingerprint: str) -> bool:
    """Every output exists and the record carries ``fingerprint``."""
    if not all(_resolve(root, p).exists() for p in step.outputs):
        return False
    record = read_record(step, root)
    return record is not None and record.get("fingerprint") == fingerprint


def write_record(
    step: Step, root: Path, fingerprint: str, argv: list[str], duration_s: float
) -> Path:
    """Write the record of a successful step (atomically: temporary name, rename)."""
    path = record_path(step, root)
    record = {
        "step": step.name,
        "stage": step.stage,
        "fingerprint": fingerprint,
        "argv": argv,
        "inputs": [str(p) for p in step.inputs],
        "outputs": [str(p) for p in step.outputs],
        "iactpipe_version": __version__,
        "duration_s": round(duration_s, 3),
        "config": step.config_text,
    }
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, path)
    return path
