"""The iactpipe version, single source for the package metadata and provenance."""

__version__ = "0.1.0"
