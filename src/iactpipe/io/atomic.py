"""
Atomic output files: written under a temporary name, checked, renamed when complete.

A file is committed only after it was closed, re-opened and found complete (HDF5: as
long as its superblock records, which HDF5 writes on closing; FITS readable to its last
row; the tables a writer declared present with their row counts). A write error (a
full disk, a file-size limit) is one `OutputWriteError` naming the final file and the
cause; the temporary file is removed. Temporary files of processes that died without
cleaning up (SIGKILL, a node crash) are removed by the next
run that writes the same output.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import resource
import shutil
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path

from .errors import OutputExistsError, OutputWriteError

__all__ = [
    "WRITE_ERRNOS",
    "AtomicOutputFile",
    "check_output_path",
    "hdf5_end_of_file",
    "remove_stale_partials",
    "verify_output",
    "write_error",
]

log = logging.getLogger(__name__)

#: errno values that mean "the data could not be written" (not a bug of the writer)
WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS)
#: how HDF5 and PyTables report them in their messages
_HDF5_ERRNO = re.compile(r"errno = (\d+)")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
GZIP_SIGNATURE = b"\x1f\x8b"
PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)$")

#: the temporary files not yet committed, to name the final file in a write error
_LIVE: weakref.WeakSet[AtomicOutputFile] = weakref.WeakSet()


def check_output_path(path: Path | str, overwrite: bool) -> Path:
    """
    Refuse to replace an existing output unless ``overwrite`` is given.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: output file exists, use --overwrite to replace it")
    if not path.parent.is_dir():
        raise OutputExistsError(f"{path}: output directory {path.parent} does not exist")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(path: Path | str) -> list[Path]:
    """
    Remove the temporary files (``.NAME.partial-PID``, files or directories) of ``path``
    left by processes that are no longer alive; log each one. Returns the removed paths.

    A process id is checked on this host only: on a shared file system, write one output
    from one host at a time.
    """
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(f".{_glob_escape(path.name)}.partial-*"))
    except OSError:
        return removed
    for candidate in candidates:
        match = PARTIAL.match(candidate.name)
        if match is None or match["name"] != path.name:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate)
            else:
                candidate.unlink()
        except FileNotFoundError:  # another run removed it meanwhile
            continue
        log.warning(
            "removed %s: partial output of process %d, which is no longer running", candidate, pid
        )
        removed.append(candidate)
    return removed


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _errno_of(err: BaseException) -> int | None:
    """The errno of a write error: an OSError's, or the one in an HDF5 error message."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:
            return err.errno
        if type(err).__module__.startswith("tables"):
            for match in _HDF5_ERRNO.finditer(str(err)):
                if int(match[1]) in WRITE_ERRNOS:
                    return int(match[1])
            for number in WRITE_ERRNOS:
                if os.strerror(number) in str(err):
                    return number
        err = err.__cause__ or err.__context__
    return None


def _final_name(err: BaseException) -> str:
    """The final output a write error concerns (its temporary file mapped back)."""
    filename = getattr(err, "filename", None)
    names = [Path(n).absolute() for n in (filename, getattr(err, "filename2", None)) if n]
    live = list(_LIVE)
    for output in live:
        temporary = output.temporary_path
        if any(n == temporary or temporary in n.parents for n in names):
            return str(output.path)
        if str(temporary) in str(err):
            return str(output.path)
    if filename is not None:
        return str(filename)
    return ", ".join(sorted(str(o.path) for o in live)) or "output"


def write_error(err: BaseException) -> OutputWriteError | None:
    """
    ``err`` as an `OutputWriteError` (``<file>: cannot write (<cause>)``) if it is a
    write error (no space left, file too large, quota, I/O error, read-only), else None.
    """
    if isinstance(err, OutputWriteError):
        return err
    number = _errno_of(err)
    if number is not None:
        return OutputWriteError(f"{_final_name(err)}: cannot write ({os.strerror(number)})")
    # a write error swallowed by the writer (PyTables' close) shows up later, as any
    # error about the file: the file system or the size limit says what happened
    for output in list(_LIVE):
        if output.temporary_path.exists():
            cause = _cause_of_bad_file(output.temporary_path)
            if cause is not None:
                return OutputWriteError(f"{output.path}: cannot write ({cause})")
    return None


def _cause_of_bad_file(path: Path) -> str | None:
    """Why a just-written file may be incomplete: a full file system or a size limit."""
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        size = max((p.stat().st_size for p in files), default=0)
    except OSError:
        size = 0
    if limit != resource.RLIM_INFINITY and size >= limit:
        return os.strerror(errno.EFBIG)
    try:
        stat = os.statvfs(path.parent)
    except OSError:
        return None
    if stat.f_bavail == 0:
        return os.strerror(errno.ENOSPC)
    return None


#: where HDF5 looks for the superblock: offset 0, then 512 and its doublings (user block)
_SUPERBLOCK_OFFSETS = (0, *(512 << k for k in range(12)))


def hdf5_end_of_file(path: Path) -> int | None:
    """
    The end-of-file address the superblock of an HDF5 file records (absolute, user
    block included), or None when the superblock is not found or says the file is
    still open for writing (version 3's consistency flags).

    HDF5 writes the address when the file is closed and truncates the file to it:
    a file closed cleanly is exactly that long, a truncated one is shorter.
    """
    with open(path, "rb") as f:
        for base in _SUPERBLOCK_OFFSETS:
            f.seek(base)
            head = f.read(64)
            if len(head) < 64:
                return None
            if not head.startswith(HDF5_SIGNATURE):
                continue
            version = head[8]
            if version in (0, 1):
                # versions, sizes (8 bytes), the two group K (4), the flags (4) and,
                # in version 1, the indexed storage K (4): then base, free space, EOF
                size, position, flags = head[13], 24 + 4 * version, 0
            elif version in (2, 3):
                # sizes (2), the flags (1): then base, extension, EOF
                size, position, flags = head[9], 12, head[11]
            else:
                return None
            if flags & 0b101:  # open for writing (SWMR or not): not closed cleanly
                return None
            fields = [head[position + k * size : position + (k + 1) * size] for k in range(3)]
            base_address, _, end = (int.from_bytes(field, "little") for field in fields)
            return base_address + end
    return None


def _check_hdf5(path: Path, expected: dict[str, int | None]) -> None:
    """
    A closed, complete HDF5 file: the length the superblock records (a truncated or
    unclosed file fails here, without reading the data), the declared tables and
    their row counts (from the datasets' extents, no rows read). A file whose
    superblock cannot be used is read to the last row of every leaf.
    """
    import tables

    end = hdf5_end_of_file(path)
    size = path.stat().st_size
    if end is not None and end != size:
        raise ValueError(f"HDF5 file of {size} bytes, its superblock records {end}")
    with tables.open_file(path, mode="r") as h5:
        if end is None:
            for leaf in h5.walk_nodes("/", classname="Leaf"):
                shape = getattr(leaf, "shape", ())
                if shape and shape[0] > 0:
                    leaf[-1]  # the last row is on disk
        for node, nrows in expected.items():
            if node not in h5:
                raise ValueError(f"table {node} missing")
            found = h5.get_node(node).nrows
            if nrows is not None and found != nrows:
                raise ValueError(f"table {node} has {found} rows instead of {nrows}")


def _check_fits(path: Path, expected: dict[str, int | None]) -> None:
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings():
        # "File may have been truncated" is a warning in astropy: an error here
        warnings.simplefilter("error", AstropyUserWarning)
        with fits.open(path, lazy_load_hdus=False, memmap=False) as hdul:
            for hdu in hdul:
                hdu.data  # noqa: B018  (reads the data: a truncated file fails here)
            for name, nrows in expected.items():
                if name not in hdul:
                    raise ValueError(f"HDU {name} missing")
                found = len(hdul[name].data) if hdul[name].data is not None else 0
                if nrows is not None and found != nrows:
                    raise ValueError(f"HDU {name} has {found} rows instead of {nrows}")


def verify_output(path: Path, expected: dict[str, int | None] | None = None) -> None:
    """
    Re-open a written file and check it: HDF5 (the file as long as the end-of-file
    address its superblock records: closed and not truncated; every leaf read to its
    last row when that address is unavailable) and FITS (plain or gzipped: every HDU
    readable); ``expected`` maps HDF5 node paths (or FITS HDU names) to their row
    counts (None: present, any count). Other formats are
    only checked to exist. A directory: every file in it.

    Raises
    ------
    Exception
        Whatever the reader raises, or ValueError for a missing table or a wrong count.
    """
    expected = expected or {}
    if path.is_dir():  # an output directory: every file in it
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            verify_output(member, {k: v for k, v in expected.items() if k == member.name})
        return
    with open(path, "rb") as f:
        head = f.read(9)
    if head.startswith(HDF5_SIGNATURE):
        _check_hdf5(path, expected)
    elif head.startswith(b"SIMPLE  =") or (
        head.startswith(GZIP_SIGNATURE) and path.name.endswith((".fits.gz", ".fits"))
    ):
        _check_fits(path, expected)
    elif expected:
        raise ValueError(f"cannot check tables {sorted(expected)} in this format")


class AtomicOutputFile:
    """
    A final output path (a file, or a directory of files) and the temporary path that
    is written in its place.

    The temporary file lives in the same directory (so the rename is atomic on
    POSIX file systems) and carries the process id, so two runs never share it.
    Call `commit` when the file is complete (it checks the file first); `discard`
    (safe to call at any time, also after `commit`) removes a partial file.

    Parameters
    ----------
    path : Path or str
        The final output path.
    overwrite : bool
        Whether an existing file at ``path`` may be replaced.
    verify : callable, optional
        ``verify(temporary_path)`` called by `commit` after the built-in checks; raises
        if the file is incomplete.
    """

    def __init__(
        self,
        path: Path | str,
        overwrite: bool = False,
        verify: Callable[[Path], None] | None = None,
    ):
        self.path = check_output_path(path, overwrite)
        self.overwrite = overwrite
        self.temporary_path = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self.committed = False
        self.verify = verify
        #: HDF5 node (or FITS HDU) -> row count (None: any) checked by `commit`
        self.expected: dict[str, int | None] = {}
        remove_stale_partials(self.path)
        _LIVE.add(self)

    def expect(self, node: str, nrows: int | None = None) -> None:
        """Declare a table ``node`` that `commit` must find, with ``nrows`` rows if given."""
        self.expected[node] = nrows

    def check(self) -> None:
        """
        Check the closed temporary file (see `verify_output`, then ``verify``).

        Raises
        ------
        OutputWriteError
            ``<path>: cannot write (<cause>)``; the temporary file is removed.
        """
        try:
            if not self.temporary_path.exists():
                raise FileNotFoundError("nothing was written")
            verify_output(self.temporary_path, self.expected)
            if self.verify is not None:
                self.verify(self.temporary_path)
        except Exception as err:
            converted = write_error(err)
            cause = _cause_of_bad_file(self.temporary_path)
            self.discard()
            if converted is not None:
                raise converted from err
            reason = cause or f"written file is incomplete: {_one_line(err)}"
            raise OutputWriteError(f"{self.path}: cannot write ({reason})") from err

    def commit(self) -> Path:
        """Check the complete temporary file, move it to its final name and return that."""
        self.check()
        # checked again: another process may have created the output meanwhile
        check_output_path(self.path, self.overwrite)
        if self.temporary_path.is_dir() and self.path.is_dir():
            # a directory replaces a directory: the old one moved aside, then removed
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.replace(self.path, old)
            os.replace(self.temporary_path, self.path)
            shutil.rmtree(old)
        else:
            os.replace(self.temporary_path, self.path)
        self.committed = True
        _LIVE.discard(self)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file if it is still there (nothing was committed)."""
        if not self.committed:
            if self.temporary_path.is_dir() and not self.temporary_path.is_symlink():
                shutil.rmtree(self.temporary_path, ignore_errors=True)
            else:
                self.temporary_path.unlink(missing_ok=True)
            _LIVE.discard(self)

    def __enter__(self) -> AtomicOutputFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # named while this output is still live (a write error names the final file)
        converted = None if exc is None else write_error(exc)
        try:
            if exc_type is None and self.temporary_path.exists() and not self.committed:
                self.commit()
        finally:
            self.discard()
        if converted is not None and converted is not exc:
            raise converted from exc


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"
