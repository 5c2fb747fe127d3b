"""
Input checks made before any work or output: the file is readable (HDF5 or FITS, not
truncated or corrupt) and holds the data level the Tool needs (R1, DL1, DL2, DL3). A
failed check is an `InputFileError` whose one-line message names the file and the problem.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import tables
from astropy.io import fits

from .dataformat import DL1_TEL_PARAMETERS_GROUP, DL2_SUBARRAY_GROUP, R1_TEL_GROUP
from .errors import InputFileError

__all__ = ["DATA_LEVEL_NODES", "check_fits_file", "check_hdf5_file", "hdf5_error_summary"]

#: the HDF5 node that tells each data level (ctapipe's data model)
DATA_LEVEL_NODES = {
    "R1": R1_TEL_GROUP,
    "DL1": DL1_TEL_PARAMETERS_GROUP,
    "DL2": DL2_SUBARRAY_GROUP,
}


def hdf5_error_summary(err: Exception) -> str:
    """The innermost cause of an HDF5 error on one line (not the library's back trace)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    end = "End of HDF5 error back trace"
    if end in lines and lines.index(end) > 0:
        cause = lines[lines.index(end) - 1]
        return cause.split("(): ", 1)[-1]
    return lines[-1] if lines else type(err).__name__


def _data_level(h5: tables.File) -> str:
    """The highest data level found in an open file ("none" if none)."""
    found = [level for level, node in DATA_LEVEL_NODES.items() if node in h5]
    return found[-1] if found else "none"


def check_hdf5_file(path: Path | str, level: str | None = None) -> Path:
    """
    ``path`` as a readable HDF5 file holding data level ``level`` (a key of
    `DATA_LEVEL_NODES`, or None: any readable HDF5 file).

    Raises
    ------
    InputFileError
        Missing, unreadable (corrupt, truncated, not HDF5) or of another data level.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        h5 = tables.open_file(path, mode="r")
    except Exception as err:
        raise InputFileError(
            f"{path}: not a readable HDF5 file ({hdf5_error_summary(err)})"
        ) from None
    with h5:
        if level is not None and DATA_LEVEL_NODES[level] not in h5:
            raise InputFileError(
                f"{path}: not a {level} file (it holds {_data_level(h5)} data, "
                f"no {DATA_LEVEL_NODES[level]})"
            )
    return path


def _read_gzip_stream(path: Path) -> None:
    """Decompress the whole file: a truncated or corrupt gzip stream raises (astropy
    reads the HDUs before the cut without a word)."""
    with gzip.open(path, "rb") as stream:
        while stream.read(1 << 20):
            pass


def check_fits_file(path: Path | str, hdus: tuple[str, ...] = ()) -> Path:
    """
    ``path`` as a readable FITS file (every HDU's data read, so truncated or corrupt
    compressed files fail here) holding the HDUs named in ``hdus``.

    Raises
    ------
    InputFileError
        Missing, unreadable or lacking one of ``hdus``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        if path.suffix == ".gz":
            _read_gzip_stream(path)
        with warnings.catch_warnings():
            # astropy only warns about a truncated file, and fills the missing data
            warnings.filterwarnings("error", message=".*truncated.*")
            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    _ = hdu.data
                names = {hdu.name for hdu in hdul}
    except Exception as err:
        cause = " ".join(str(err).split()) or type(err).__name__
        raise InputFileError(f"{path}: not a readable FITS file ({cause})") from None
    missing = [name for name in hdus if name not in names]
    if missing:
        raise InputFileError(f"{path}: no {', '.join(missing)} HDU")
    return path
