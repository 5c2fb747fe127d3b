"""Telescope ids: simulations number the SST-1M telescopes 1, 2; data 21, 22.

This module is the one place where the two schemes meet. Everything that needs to go
from one to the other (event sources, model application, configs) uses these helpers
instead of its own convention.
"""

from collections.abc import Mapping

from ctapipe.instrument import SubarrayDescription

__all__ = [
    "DATA_TEL_IDS",
    "MC_TEL_IDS",
    "MC_TO_DATA",
    "DATA_TO_MC",
    "relabel_subarray",
    "to_data_tel_id",
    "to_mc_tel_id",
]

#: Telescope ids in simulations (sim_telarray and iactpipe-simulate).
MC_TEL_IDS = (1, 2)
#: Telescope ids in observed data; same order as `MC_TEL_IDS`.
DATA_TEL_IDS = (21, 22)

MC_TO_DATA = dict(zip(MC_TEL_IDS, DATA_TEL_IDS, strict=True))
DATA_TO_MC = dict(zip(DATA_TEL_IDS, MC_TEL_IDS, strict=True))


def _convert(tel_id: int, mapping: Mapping[int, int], target: tuple[int, ...], kind: str) -> int:
    tel_id = int(tel_id)
    if tel_id in target:
        return tel_id
    try:
        return mapping[tel_id]
    except KeyError:
        known = sorted(set(MC_TEL_IDS) | set(DATA_TEL_IDS))
        raise ValueError(
            f"Unknown SST-1M telescope id {tel_id}: cannot convert to a {kind} id,"
            f" known ids are {known} (simulation {MC_TEL_IDS}, data {DATA_TEL_IDS})"
        ) from None


def to_data_tel_id(tel_id: int) -> int:
    """Data id of a telescope given by its simulation or data id.

    Parameters
    ----------
    tel_id : int
        Simulation id (1, 2) or data id (21, 22; returned unchanged).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``tel_id`` is not a known SST-1M telescope id.
    """
    return _convert(tel_id, MC_TO_DATA, DATA_TEL_IDS, "data")


def to_mc_tel_id(tel_id: int) -> int:
    """Simulation id of a telescope given by its data or simulation id.

    Parameters
    ----------
    tel_id : int
        Data id (21, 22) or simulation id (1, 2; returned unchanged).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``tel_id`` is not a known SST-1M telescope id.
    """
    return _convert(tel_id, DATA_TO_MC, MC_TEL_IDS, "simulation")


def relabel_subarray(
    subarray: SubarrayDescription, mapping: Mapping[int, int], name: str | None = None
) -> SubarrayDescription:
    """A new subarray with the telescope ids renamed by ``mapping``.

    Descriptions, positions and reference location are kept; the input is not
    modified. Telescopes absent from ``mapping`` keep their id; the new subarray lists
    the telescopes by increasing id.

    Parameters
    ----------
    subarray : ctapipe.instrument.SubarrayDescription
        Subarray to relabel.
    mapping : Mapping[int, int]
        Old id -> new id, e.g. `MC_TO_DATA`.
    name : str or None
        Name of the new subarray; defaults to the name of ``subarray``.

    Returns
    -------
    ctapipe.instrument.SubarrayDescription

    Raises
    ------
    ValueError
        If ``mapping`` names a telescope not in ``subarray`` or the new ids collide.
    """
    unknown = set(mapping) - set(subarray.tel_ids)
    if unknown:
        raise ValueError(
            f"Telescope ids {sorted(unknown)} not in subarray {subarray.name!r}"
            f" (ids {list(subarray.tel_ids)})"
        )
    new_ids = {tel_id: int(mapping.get(tel_id, tel_id)) for tel_id in subarray.tel_ids}
    if len(set(new_ids.values())) != len(new_ids):
        raise ValueError(f"Relabelling {dict(mapping)} gives duplicate telescope ids")

    # ctapipe keeps insertion order for tel_ids; sorted ids is what its readers produce
    order = sorted(new_ids.items(), key=lambda item: item[1])
    return SubarrayDescription(
        name=subarray.name if name is None else name,
        tel_positions={new: subarray.positions[old] for old, new in order},
        tel_descriptions={new: subarray.tel[old] for old, new in order},
        reference_location=subarray.reference_location,
    )
