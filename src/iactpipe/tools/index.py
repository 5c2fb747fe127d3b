"""iactpipe-index: HDU and observation indexes of a directory of DL3 files for gammapy."""

from __future__ import annotations

from pathlib import Path as PathlibPath

from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, Path, Unicode, flag

from ..dl3.index import make_index_tables, write_index_files
from ..io import InputFileError
from ..io.chain_step import ChainStep
from ..io.inputs import check_fits_file
from .base import IactpipeTool, writable_directory

__all__ = ["IndexTool", "main"]


class IndexTool(IactpipeTool):
    """
    Write ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` for the DL3 files in a
    directory (one night) or below it (``--recursive``: many nights), with each HDU's
    type and class taken from its GADF header (psf_table, bkg_2d/bkg_3d, rad_max_2d).
    """

    name = "iactpipe-index"
    description = __doc__
    examples = """
    One night:
    > iactpipe-index -d dl3/20240110/

    All nights below dl3/ into one index in dl3/:
    > iactpipe-index -d dl3/ --recursive --overwrite
    """

    dl3_dir = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        file_ok=False,
        help="Directory with the DL3 files; the indexes are written there",
    ).tag(config=True)
    file_pattern = Unicode("*.fits.gz", help="Glob pattern of the DL3 files").tag(config=True)
    recursive = Bool(False, help="Also take files in subdirectories").tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "index",
        inputs=("IndexTool.dl3_dir",),
        outputs=("IndexTool.dl3_dir",),
    )

    aliases = {
        ("d", "dl3-dir"): "IndexTool.dl3_dir",
        "pattern": "IndexTool.file_pattern",
    }
    flags = {
        **flag(
            "overwrite",
            "IndexTool.overwrite",
            "Replace existing index files",
            "Never replace existing index files",
        ),
        **flag(
            "recursive",
            "IndexTool.recursive",
            "Search subdirectories too",
            "Only the directory itself",
        ),
    }
    classes = []

    def setup(self):
        if self.dl3_dir is None:
            raise ToolConfigurationError(f"{self.name}: give the DL3 directory (--dl3-dir)")
        directory = PathlibPath(self.dl3_dir)
        found = (
            directory.rglob(self.file_pattern)
            if self.recursive
            else directory.glob(self.file_pattern)
        )
        self.files = sorted(p for p in found if "index" not in p.name and p.is_file())
        if not self.files:
            raise InputFileError(f"{directory}: no DL3 file matching {self.file_pattern!r}")
        for path in self.files:
            check_fits_file(path, ("EVENTS",))
        writable_directory(directory, "--dl3-dir")

    def start(self):
        self.hdu_table, self.obs_table = make_index_tables(self.files, PathlibPath(self.dl3_dir))

    def finish(self):
        hdu, obs = write_index_files(
            PathlibPath(self.dl3_dir), self.hdu_table, self.obs_table, self.overwrite
        )
        print(
            f"{self.name}: {len(self.obs_table)} observations, {len(self.hdu_table)} HDUs "
            f"-> {hdu}, {obs}"
        )


def main():
    """Run iactpipe-index."""
    IndexTool().run()
