"""Input/output helpers: atomic output files, provenance and config fingerprints."""

from .atomic import AtomicOutputFile, check_output_path
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
    "InputFileError",
    "OutputExistsError",
    "OutputWriteError",
    "check_output_path",
    "config_fingerprint",
    "effective_config",
    "read_provenance",
    "write_provenance",
]
