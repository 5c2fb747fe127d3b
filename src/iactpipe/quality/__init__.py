"""Data-quality monitoring: monitor elements per run, quality checks, run selection, reports."""

from .selection import (
    RUN_QUALITY_COLUMNS,
    RUN_QUALITY_FILENAME,
    bad_runs,
    good_runs,
    read_run_quality,
)

__all__ = [
    "RUN_QUALITY_COLUMNS",
    "RUN_QUALITY_FILENAME",
    "bad_runs",
    "good_runs",
    "read_run_quality",
]
