"""
Input/output helpers: atomic output files, provenance, config fingerprints and their
guard between stages; the stage contracts (`iactpipe.io.dataformat`).
"""

from .atomic import AtomicOutputFile, check_output_path
from .config_guard import ConfigGuard
from .errors import InputFileError, OutputExistsError, OutputWriteError
from .provenance import (
    FINGERPRINT_ATTRIBUTE,
    config_fingerprint,
    effective_config,
    read_provenance,
    write_provenance,
)

__all__ = [
    "FINGERPRINT_ATTRIBUTE",
    "AtomicOutputFile",
    "ConfigGuard",
    "InputFileError",
    "OutputExistsError",
    "OutputWriteError",
    "check_output_path",
    "config_fingerprint",
    "effective_config",
    "read_provenance",
    "write_provenance",
]
