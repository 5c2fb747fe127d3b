"""The settings every Tool reading a DL3 data set of one target shares."""

from __future__ import annotations

import astropy.units as u
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Float, Path, Unicode

from ..analysis import resolve_target
from .base import IactpipeTool

__all__ = ["DL3DirectoryTool"]


class DL3DirectoryTool(IactpipeTool):
    """
    Base of the Tools that read a GADF DL3 directory (``hdu-index``/``obs-index``) and
    look at one target: the input and output directories and the target, given by a
    catalogue name or by ``--ra``/``--dec`` (`iactpipe.analysis.resolve_target`).
    """

    input_dir = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        file_ok=False,
        help="DL3 directory with hdu-index and obs-index files",
    ).tag(config=True)
    output_dir = Path(default_value=None, allow_none=True, help="Output directory").tag(config=True)
    target_name = Unicode(
        "", help="Target: a built-in catalogue name (case-insensitive), or a label for --ra/--dec"
    ).tag(config=True)
    ra_deg = Float(None, allow_none=True, help="Target RA (ICRS, deg)").tag(config=True)
    dec_deg = Float(None, allow_none=True, help="Target Dec (ICRS, deg)").tag(config=True)

    def require_directories(self) -> None:
        """Both directories are given (one clear line otherwise)."""
        if self.input_dir is None or self.output_dir is None:
            raise ToolConfigurationError(f"{self.name}: give the DL3 directory (-i) and -o")

    @property
    def target_given(self) -> bool:
        """A target name or a position is configured."""
        return bool(self.target_name) or self.ra_deg is not None

    def configured_target(self):
        """The target (`iactpipe.analysis.resolve_target`); a bad one is a config error."""
        try:
            ra = None if self.ra_deg is None else self.ra_deg * u.deg
            dec = None if self.dec_deg is None else self.dec_deg * u.deg
            return resolve_target(self.target_name or None, ra, dec)
        except ValueError as err:
            raise ToolConfigurationError(f"{self.name}: {err}") from err
