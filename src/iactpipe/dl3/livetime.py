"""
Live time from the time differences between consecutive physics triggers.

A telescope with a non-paralysable dead time ``tau`` records showers that arrive as a
Poisson process of rate ``R``; the time from one recorded event to the next is then
``tau`` plus an exponential of rate ``R``. Fitting the exponential above a threshold
``dt_min >= tau`` gives ``R`` without knowing ``tau`` (cta-lstchain PR #605 / #1252), and
the live time is ``N / R`` for ``N`` recorded events. Only physics triggers count:
interleaved pedestal or calibration events are neither showers nor (in the SST-1M
camera) a cause of dead time, and their Δt would distort the exponential.

For the two independently triggered SST-1M telescopes, a stereo event needs both to be
live: each telescope's dead time follows as ``tau = 1 / r - 1 / R`` (``r`` the recorded
rate) and the stereo live time is the elapsed time minus the union of both telescopes'
dead intervals ``[t_k, t_k + tau]``.

Pure functions on int64 nanosecond times; the Component that calls them is
`LiveTimeEstimator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from ctapipe.containers import EventType
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int

from ..io.traits import BoundedQuantity

__all__ = [
    "PHYSICS_EVENT_TYPES",
    "LiveTime",
    "LiveTimeEstimator",
    "dead_interval_union_ns",
    "fit_exponential_rate",
    "telescope_live_time",
]

#: trigger types that are showers (or may be); everything else is calibration
PHYSICS_EVENT_TYPES = (
    EventType.MUON.value,
    EventType.HARDWARE_STEREO.value,
    EventType.DAQ.value,
    EventType.SUBARRAY.value,
    EventType.UNKNOWN.value,
)


@dataclass
class LiveTime:
    """
    Live time of one telescope (or of the stereo system).

    Attributes
    ----------
    live_time : Quantity
        Dead-time corrected observation time.
    elapsed : Quantity
        Time between the first and the last event.
    n_events : int
        Physics triggers used.
    rate : Quantity
        Fitted true trigger rate ``R`` (NaN for the stereo combination).
    rate_error : Quantity
        Its statistical uncertainty ``R / sqrt(n_fit)``.
    dead_time : Quantity
        Dead time per event, ``1 / r - 1 / R``.
    delta_t_min : Quantity
        Lower end of the exponential fit.
    """

    live_time: u.Quantity
    elapsed: u.Quantity
    n_events: int
    rate: u.Quantity
    rate_error: u.Quantity
    dead_time: u.Quantity
    delta_t_min: u.Quantity

    @property
    def dead_time_fraction(self) -> float:
        """``1 - live_time / elapsed``."""
        return float(1 - (self.live_time / self.elapsed).to_value(u.one))


def fit_exponential_rate(delta_t_ns: np.ndarray, delta_t_min_ns: float) -> tuple[float, int]:
    """
    Maximum-likelihood rate (1/ns) of the exponential tail ``delta_t > delta_t_min``.

    For an exponential truncated at ``dt_min`` the estimator is ``1 / mean(dt - dt_min)``
    (the unbinned equivalent of fitting the slope of the Δt histogram).

    Returns
    -------
    rate : float
        In 1/ns (NaN with fewer than two values above ``delta_t_min``).
    n : int
        Number of time differences in the fit.
    """
    tail = np.asarray(delta_t_ns, dtype=np.float64)
    tail = tail[tail > delta_t_min_ns] - delta_t_min_ns
    if len(tail) < 2:
        return np.nan, len(tail)
    return 1.0 / tail.mean(), len(tail)


def telescope_live_time(
    time_ns: np.ndarray, delta_t_min_ns: float | None = None, min_delta_t_margin: float = 1.1
) -> LiveTime:
    """
    Live time of one telescope from the times of its physics triggers.

    Parameters
    ----------
    time_ns : array of int64
        Trigger times (ns) of the physics events of one telescope (any order).
    delta_t_min_ns : float, optional
        Lower end of the fit (at least the dead time). Default: ``min_delta_t_margin``
        times the smallest Δt (the dead time of a non-paralysable system).
    min_delta_t_margin : float
        See ``delta_t_min_ns``.

    Returns
    -------
    LiveTime
    """
    time_ns = np.sort(np.asarray(time_ns, dtype=np.int64))
    if len(time_ns) < 3:
        raise ValueError(f"{len(time_ns)} physics triggers: too few for a live time")
    delta = np.diff(time_ns)
    if delta_t_min_ns is None:
        delta_t_min_ns = min_delta_t_margin * float(delta.min())
    rate, n_fit = fit_exponential_rate(delta, delta_t_min_ns)
    if not np.isfinite(rate):
        raise ValueError(f"fewer than two Δt above {delta_t_min_ns:.0f} ns")
    n = len(time_ns)
    elapsed = float(time_ns[-1] - time_ns[0])
    # N - 1 intervals in the elapsed time: live time of those intervals
    live = (n - 1) / rate
    recorded = (n - 1) / elapsed
    return LiveTime(
        live_time=(min(live, elapsed) * u.ns).to(u.s),
        elapsed=(elapsed * u.ns).to(u.s),
        n_events=n,
        rate=(rate / u.ns).to(u.Hz),
        rate_error=(rate / np.sqrt(n_fit) / u.ns).to(u.Hz),
        dead_time=(max(1 / recorded - 1 / rate, 0.0) * u.ns).to(u.us),
        delta_t_min=(delta_t_min_ns * u.ns).to(u.us),
    )


def dead_interval_union_ns(
    times_ns: list[np.ndarray], dead_ns: list[float], start_ns: int, stop_ns: int
) -> float:
    """
    Total length (ns) of the union of the intervals ``[t, t + dead]`` of several
    telescopes, clipped to ``[start_ns, stop_ns]``.
    """
    starts = np.concatenate([np.asarray(t, np.float64) for t in times_ns])
    stops = np.concatenate(
        [np.asarray(t, np.float64) + d for t, d in zip(times_ns, dead_ns, strict=True)]
    )
    order = np.argsort(starts, kind="stable")
    starts = np.clip(starts[order], start_ns, stop_ns)
    stops = np.clip(stops[order], start_ns, stop_ns)
    # running maximum of the stops: an interval adds only what reaches beyond it
    reach = np.maximum.accumulate(stops)
    previous = np.concatenate([[start_ns], reach[:-1]])
    return float(np.sum(np.clip(stops - np.maximum(starts, previous), 0, None)))


class LiveTimeEstimator(Component):
    """
    Live time of a run from the physics-trigger times of its telescopes.

    One telescope: ``N / R`` with ``R`` the rate of the exponential fit of Δt to the
    previous physics trigger above ``delta_t_min`` (default: ``auto_margin`` times the
    smallest Δt). Several telescopes (stereo): elapsed time minus the union of their
    dead intervals, each telescope's dead time from its own fit.
    """

    delta_t_min = BoundedQuantity(
        default_value=None,
        allow_none=True,
        physical_type=u.physical.time,
        min=0 * u.s,
        help="Lower end of the Δt fit (at least the dead time); None: automatic",
    ).tag(config=True)
    auto_margin = Float(
        1.1, min=1.0, help="Automatic delta_t_min: this factor times the smallest Δt"
    ).tag(config=True)
    min_events = Int(100, min=3, help="Fewer physics triggers per telescope: error").tag(
        config=True
    )

    def __call__(self, times_ns: dict[int, np.ndarray]) -> tuple[LiveTime, dict[int, LiveTime]]:
        """
        Parameters
        ----------
        times_ns : dict
            Telescope id -> int64 ns times of its physics triggers.

        Returns
        -------
        total : LiveTime
            The run's live time (stereo combination for several telescopes).
        per_telescope : dict
            Telescope id -> LiveTime.

        Raises
        ------
        ValueError
            Fewer than ``min_events`` triggers for a telescope, or no Δt above the cut.
        """
        dt_min = None if self.delta_t_min is None else self.delta_t_min.to_value(u.ns)
        per_tel = {}
        for tel_id, times in times_ns.items():
            if len(times) < self.min_events:
                raise ValueError(
                    f"telescope {tel_id}: {len(times)} physics triggers, fewer than "
                    f"{self.min_events} for a live-time estimate"
                )
            per_tel[tel_id] = telescope_live_time(times, dt_min, self.auto_margin)
        if len(per_tel) == 1:
            return next(iter(per_tel.values())), per_tel
        start = min(int(np.min(t)) for t in times_ns.values())
        stop = max(int(np.max(t)) for t in times_ns.values())
        dead = dead_interval_union_ns(
            [np.asarray(t) for t in times_ns.values()],
            [lt.dead_time.to_value(u.ns) for lt in per_tel.values()],
            start,
            stop,
        )
        elapsed = (stop - start) * u.ns
        total = LiveTime(
            live_time=(elapsed - dead * u.ns).to(u.s),
            elapsed=elapsed.to(u.s),
            n_events=sum(lt.n_events for lt in per_tel.values()),
            rate=np.nan * u.Hz,
            rate_error=np.nan * u.Hz,
            dead_time=np.nan * u.us,
            delta_t_min=np.nan * u.us,
        )
        return total, per_tel
