"""
Observation selection on a GADF observation index: pointing within a maximum offset of
the target, a time range, a maximum zenith angle and an optional run list.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time
from ctapipe.core import Component
from ctapipe.core.traits import Int, List, Unicode

from ..io.traits import BoundedQuantity

__all__ = ["ObservationSelector", "select_observations"]


def _times(obs_table: Table) -> tuple[Time | None, Time | None]:
    """Start and stop times of the runs (TSTART/TSTOP + MJDREF, or DATE-OBS/DATE-END)."""
    from gammapy.data import ObservationTable

    table = ObservationTable(obs_table)
    try:
        return table.time_start, table.time_stop
    except (KeyError, ValueError):
        if "DATE-OBS" in obs_table.colnames:
            start = Time(list(obs_table["DATE-OBS"]), scale="utc")
            end = obs_table["DATE-END"] if "DATE-END" in obs_table.colnames else None
            return start, (Time(list(end), scale="utc") if end is not None else start)
        return None, None


def select_observations(
    obs_table: Table,
    position: SkyCoord,
    max_offset: u.Quantity,
    obs_ids: list[int] | None = None,
    time_range: tuple[Time | None, Time | None] = (None, None),
    max_zenith: u.Quantity = 90 * u.deg,
) -> np.ndarray:
    """
    OBS_IDs of the runs of ``obs_table`` that pass every criterion.

    Parameters
    ----------
    obs_table : Table
        GADF observation index (OBS_ID, RA_PNT, DEC_PNT, ZEN_PNT, TSTART/TSTOP).
    position : SkyCoord
        Target position.
    max_offset : Quantity
        Largest distance between pointing and target.
    obs_ids : list of int, optional
        Keep only these runs.
    time_range : tuple of Time or None
        Runs that start at or after the first and end at or before the second.
    max_zenith : Quantity
        Largest zenith angle of the pointing (``ZEN_PNT``; runs without it pass).

    Returns
    -------
    numpy.ndarray
        Sorted OBS_IDs.
    """
    keep = np.ones(len(obs_table), dtype=bool)
    ids = np.asarray(obs_table["OBS_ID"], dtype=int)
    if obs_ids:
        keep &= np.isin(ids, obs_ids)
    pointing = SkyCoord(
        u.Quantity(obs_table["RA_PNT"], u.deg),
        u.Quantity(obs_table["DEC_PNT"], u.deg),
        frame="icrs",
    )
    keep &= pointing.separation(position) <= max_offset
    if "ZEN_PNT" in obs_table.colnames:
        keep &= u.Quantity(obs_table["ZEN_PNT"], u.deg) <= max_zenith
    t_min, t_max = time_range
    if t_min is not None or t_max is not None:
        start, stop = _times(obs_table)
        if start is None:
            raise ValueError("the observation index has no run times (TSTART or DATE-OBS)")
        if t_min is not None:
            keep &= start >= t_min
        if t_max is not None:
            keep &= stop <= t_max
    return np.sort(ids[keep])


class ObservationSelector(Component):
    """Runs of a data store that observed the target, in a time range, below a zenith."""

    obs_ids = List(Int(), default_value=[], help="Only these runs (empty: all)").tag(config=True)
    max_offset = BoundedQuantity(
        default_value=2.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Largest distance between the pointing and the target",
    ).tag(config=True)
    max_zenith = BoundedQuantity(
        default_value=60.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=90 * u.deg,
        help="Largest zenith angle of the run's pointing",
    ).tag(config=True)
    time_min = Unicode("", help="Runs starting at or after (ISO UTC, empty: no limit)").tag(
        config=True
    )
    time_max = Unicode("", help="Runs ending at or before (ISO UTC, empty: no limit)").tag(
        config=True
    )

    def time_range(self) -> tuple[Time | None, Time | None]:
        """``time_min``, ``time_max`` as Time (None when empty); ValueError if unreadable."""
        out = []
        for name, text in (("time_min", self.time_min), ("time_max", self.time_max)):
            try:
                out.append(Time(text, scale="utc") if text else None)
            except ValueError as err:
                raise ValueError(
                    f"ObservationSelector.{name} {text!r} is not a time: {err}"
                ) from err
        return out[0], out[1]

    def __call__(self, obs_table: Table, position: SkyCoord) -> np.ndarray:
        """OBS_IDs selected from ``obs_table`` for a target at ``position``."""
        return select_observations(
            obs_table,
            position,
            self.max_offset,
            list(self.obs_ids),
            self.time_range(),
            self.max_zenith,
        )
