"""Telescope pointing of observed data, sampled from events into ctapipe's monitoring table."""

from __future__ import annotations

from collections import defaultdict

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time
from ctapipe.containers import ArrayEventContainer

from .dataformat import DL0_TEL_POINTING_GROUP

__all__ = ["POINTING_GROUP", "PointingRecorder"]

#: where ctapipe's TableLoader and HDF5EventSource look for the pointing of observed data
POINTING_GROUP = DL0_TEL_POINTING_GROUP


class PointingRecorder:
    """
    Sample each telescope's pointing (alt/az) from the events, at most once per
    ``interval`` of trigger time, plus the last event; ctapipe interpolates linearly
    between the rows, so a 1 s interval is exact to far below a pixel for tracking.

    ctapipe's DataWriter writes a fixed pointing for simulations only and expects
    observed data to come with monitoring; a DL1 file without it cannot be
    reconstructed (no alt/az for the disp direction), hence this recorder.

    Parameters
    ----------
    interval : astropy.units.Quantity
        Minimum trigger-time interval between two recorded rows of one telescope.
    """

    def __init__(self, interval: u.Quantity = 1 * u.s):
        self.interval_s = interval.to_value(u.s)
        self._rows: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
        self._last: dict[int, tuple[float, float, float]] = {}

    def __call__(self, event: ArrayEventContainer) -> None:
        """Record the pointing of the telescopes of ``event`` when due."""
        for tel_id in event.dl1.tel.keys() | event.r1.tel.keys():
            pointing = event.monitoring.tel[tel_id].pointing
            if pointing.altitude is None or pointing.azimuth is None:
                continue
            trigger = event.trigger.tel.get(tel_id)
            time = trigger.time if trigger is not None else event.trigger.time
            row = (
                time.unix_tai,
                pointing.altitude.to_value(u.rad),
                pointing.azimuth.to_value(u.rad),
            )
            self._add(tel_id, row)

    def add_rows(self, tel_id: int, time_unix_tai, altitude_rad, azimuth_rad) -> None:
        """
        Record, as `__call__` does event by event, a telescope's pointing at times
        (arrays): one search per recorded row instead of a Python step per event.
        """
        columns = (time_unix_tai, altitude_rad, azimuth_rad)
        rows = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
        rows = rows[np.isfinite(rows).all(axis=1)]
        if len(rows) == 0:
            return
        recorded = self._rows[tel_id]
        due = 0 if not recorded else self._next_due(rows[:, 0], 0, recorded[-1][0])
        last = None
        while due is not None:
            recorded.append(tuple(rows[due].tolist()))
            last = due
            due = self._next_due(rows[:, 0], due + 1, rows[due, 0])
        if last == len(rows) - 1:
            self._last.pop(tel_id, None)
        else:
            self._last[tel_id] = tuple(rows[-1].tolist())

    def _next_due(self, times: np.ndarray, start: int, previous: float) -> int | None:
        """The first index from ``start`` whose time is an interval after ``previous``."""
        due = np.flatnonzero(times[start:] - previous >= self.interval_s)
        return start + int(due[0]) if len(due) else None

    def _add(self, tel_id: int, row: tuple[float, float, float]) -> None:
        if not np.all(np.isfinite(row)):
            return
        rows = self._rows[tel_id]
        if not rows or row[0] - rows[-1][0] >= self.interval_s:
            rows.append(row)
            self._last.pop(tel_id, None)
        else:
            self._last[tel_id] = row

    def tables(self) -> dict[int, Table]:
        """
        ``{tel_id: Table(time, altitude, azimuth)}``, the last event's row included.

        One extra row ``interval`` before the first and after the last event, linearly
        extrapolated from the neighbouring rows, lets ctapipe's interpolator (which
        refuses to extrapolate) serve times slightly outside a telescope's own events,
        e.g. the other telescope's clock in a stereo file.
        """
        tables = {}
        for tel_id, rows in sorted(self._rows.items()):
            rows = rows + ([self._last[tel_id]] if tel_id in self._last else [])
            samples = _padded(np.array(rows), self.interval_s)
            tables[tel_id] = Table(
                {
                    "time": Time(samples[:, 0], format="unix_tai"),
                    "altitude": samples[:, 1] * u.rad,
                    "azimuth": samples[:, 2] * u.rad,
                }
            )
        return tables


def _padded(samples: np.ndarray, pad_s: float) -> np.ndarray:
    """Rows (time, alt, az) with one linearly extrapolated row added at each end."""
    if len(samples) == 1:
        before, after = samples[0].copy(), samples[0].copy()
    else:
        slope_first = (samples[1] - samples[0]) / max(samples[1, 0] - samples[0, 0], 1e-9)
        slope_last = (samples[-1] - samples[-2]) / max(samples[-1, 0] - samples[-2, 0], 1e-9)
        before = samples[0] - slope_first * pad_s
        after = samples[-1] + slope_last * pad_s
    before[0], after[0] = samples[0, 0] - pad_s, samples[-1, 0] + pad_s
    return np.vstack([before, samples, after])
