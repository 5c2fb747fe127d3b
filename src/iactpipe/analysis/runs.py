"""
The per-run table of the quick look: when, how long, where the telescope pointed, the
values chosen from the data for that run (safe threshold, OFF regions) and its ON/OFF
statistics, as plain numbers for the JSON summary and the report.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from .theta2 import li_ma_significance

__all__ = ["run_rows", "zenith_angle"]


def zenith_angle(observation, obs_table=None) -> float | None:
    """
    Zenith angle (deg) of a run's pointing: the index's ``ZEN_PNT``, else the EVENTS
    header's ``ALT_PNT``, else the pointing at mid-run seen from the observatory (astropy,
    without downloading Earth-rotation tables), else None.
    """
    from astropy.utils import iers

    if obs_table is not None and "ZEN_PNT" in obs_table.colnames:
        row = obs_table[np.asarray(obs_table["OBS_ID"]) == observation.obs_id]
        if len(row) and np.isfinite(row["ZEN_PNT"][0]):
            return float(u.Quantity(row["ZEN_PNT"][0], u.deg).value)
    meta = observation.events.table.meta
    if "ALT_PNT" in meta:
        return float(90.0 - float(meta["ALT_PNT"]))
    try:
        with iers.conf.set_temp("auto_download", False):
            altaz = observation.get_pointing_altaz(observation.tmid)
        return float(90.0 - altaz.alt.to_value(u.deg))
    except (AttributeError, TypeError, ValueError):
        return None


def _counts(dataset) -> dict:
    mask = dataset.mask.data
    n_on = float(dataset.counts.data[mask].sum())
    n_off = float(dataset.counts_off.data[mask].sum())
    off_scaled = float(
        (np.nan_to_num(dataset.alpha.data[mask]) * dataset.counts_off.data[mask]).sum()
    )
    alpha = off_scaled / n_off if n_off > 0 else float(np.nanmean(dataset.alpha.data))
    return {
        "n_on": int(n_on),
        "n_off": int(n_off),
        "alpha": alpha,
        "excess": n_on - off_scaled,
        "significance": li_ma_significance(n_on, n_off, alpha),
    }


def run_rows(observations, datasets, choices: dict, position: SkyCoord, obs_table=None) -> list:
    """
    One dict per run used: ``obs_id``, ``start`` (ISO UTC), ``livetime_s``, ``zenith_deg``,
    ``offset_deg``, the values of ``choices[obs_id]`` (safe threshold, OFF regions, ...),
    ``n_on``, ``n_off``, ``alpha``, ``excess``, ``significance`` (Li & Ma, this run).
    """
    by_name = {ds.name: ds for ds in datasets}
    rows = []
    for obs in observations:
        dataset = by_name.get(f"obs{obs.obs_id}")
        if dataset is None:
            continue
        pointing = obs.get_pointing_icrs(obs.tmid)
        rows.append(
            {
                "obs_id": int(obs.obs_id),
                "start": obs.tstart.utc.isot[:19],
                "livetime_s": float(dataset.gti.time_sum.to_value(u.s)),
                "zenith_deg": zenith_angle(obs, obs_table),
                "offset_deg": float(pointing.separation(position).to_value(u.deg)),
                **choices.get(obs.obs_id, {}),
                **_counts(dataset),
            }
        )
    return sorted(rows, key=lambda row: row["start"])
