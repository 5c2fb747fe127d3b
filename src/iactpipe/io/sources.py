"""Opening and iterating ctapipe event sources with one-line errors that name the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ctapipe.containers import ArrayEventContainer
from ctapipe.core import Component
from ctapipe.exceptions import InputMissing
from ctapipe.io import DataLevel, EventSource
from traitlets import TraitError

from .errors import InputFileError

__all__ = ["WAVEFORM_DATALEVELS", "error_summary", "iterate_events", "open_event_source"]

#: data levels from which images can be (re)computed
WAVEFORM_DATALEVELS = (DataLevel.R0, DataLevel.R1, DataLevel.DL0, DataLevel.DL1_IMAGES)


def _configured_input(parent: Component) -> str:
    for section in ("EventSource", *parent.config.keys()):
        url = parent.config.get(section, {}).get("input_url")
        if url:
            return str(url)
    return "<input>"


def open_event_source(parent: Component, datalevels=WAVEFORM_DATALEVELS) -> EventSource:
    """
    Create the configured `~ctapipe.io.EventSource`, turning every way it can fail
    into an `InputFileError` whose message names the file and the problem.

    Parameters
    ----------
    parent : Component
        The Tool whose config holds ``EventSource.input_url`` and friends.
    datalevels : tuple of DataLevel
        The source must provide at least one of them.
    """
    url = _configured_input(parent)
    if url != "<input>" and "://" not in url and not Path(url).expanduser().exists():
        raise InputFileError(f"{url}: file does not exist")
    try:
        source = EventSource(parent=parent)
    except InputMissing:
        raise InputFileError("no input file given: use --input (-i)") from None
    except TraitError as err:
        if "does not exist" in str(err):
            raise InputFileError(f"{url}: file does not exist") from None
        raise InputFileError(f"{url}: {err}") from None
    except ValueError as err:
        if "compatible EventSource" in str(err):
            raise InputFileError(
                f"{url}: not a readable event file (no ctapipe EventSource recognises it)"
            ) from None
        raise InputFileError(f"{url}: {err}") from None
    except Exception as err:  # corrupt files fail in many ways inside the readers
        raise InputFileError(f"{url}: cannot be read ({type(err).__name__}: {err})") from None

    if source.max_events is not None and source.max_events < 1:
        source.close()
        raise TraitError(f"EventSource.max_events = {source.max_events}: must be >= 1")
    url = str(source.input_url)
    allowed = set(source.allowed_tels or ())
    unknown = allowed - set(source.subarray.tel_ids)
    if unknown:
        source.close()
        known = sorted(int(t) for t in source.subarray.tel_ids)
        raise InputFileError(
            f"{url}: unknown telescope id(s) {sorted(unknown)} in allowed_tels; "
            f"the file has {known}"
        )
    if not source.has_any_datalevel(datalevels):
        source.close()
        raise InputFileError(
            f"{url}: provides {[d.name for d in source.datalevels]}, "
            f"needs one of {[d.name for d in datalevels]}"
        )
    return source


def error_summary(err: Exception) -> str:
    """
    ``Type: message`` on one line. An HDF5 error's message is the library's whole back
    trace: its last line and the innermost cause are kept (for a corrupted chunk:
    "Problems reading records. (filter returned failure during read)").
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    name = type(err).__name__
    if len(lines) <= 1:
        return f"{name}: {' '.join(lines)}"
    end = "End of HDF5 error back trace"
    if end in lines and lines.index(end) > 0:
        return f"{name}: {lines[-1]} ({lines[lines.index(end) - 1]})"
    return f"{name}: {lines[0]} ... {lines[-1]}"


def iterate_events(source: EventSource) -> Iterator[ArrayEventContainer]:
    """
    Iterate over ``source``; a read error becomes an `InputFileError` naming the file.

    Only errors raised while *reading* are translated: exceptions raised by the
    caller's processing of an event propagate unchanged.
    """
    iterator = iter(source)
    n_read = 0
    while True:
        try:
            event = next(iterator)
        except StopIteration:
            return
        except Exception as err:
            raise InputFileError(
                f"{source.input_url}: read error after {n_read} events ({error_summary(err)})"
            ) from None
        n_read += 1
        yield event
