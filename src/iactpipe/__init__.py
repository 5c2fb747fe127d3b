"""iactpipe: an IACT analysis pipeline built on ctapipe, SST-1M first."""

from .version import __version__

__all__ = ["__version__"]
