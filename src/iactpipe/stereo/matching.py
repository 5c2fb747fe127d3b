"""
Coincidence matching of two independently recorded telescope event streams.

The numerics are pure functions on sorted ``int64`` nanosecond arrays; they scale as
O(N log N) in time and O(N) in memory (no N1 x N2 matrix is ever built, see
magic-cta-pipe#128). The `CoincidenceMatcher` components resolve their traits and call
them; a matcher is chosen by name, exactly like ctapipe's ``ImageCleaner``::

    matcher = CoincidenceMatcher.from_name("WhiteRabbitClosestMatcher", parent=tool)
    result = matcher.match(times_1, times_2, event_ids_1, event_ids_2)

Absolute times are int64 nanoseconds (e.g. TAI since 1970): a float64 holds only
about 0.2 us of precision on such values.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

import numba
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Bool, Int

__all__ = [
    "CoincidenceMatcher",
    "EventIdMatcher",
    "MatchResult",
    "SlidingWindowMatcher",
    "WhiteRabbitClosestMatcher",
    "count_coincidences_per_offset",
    "match_by_id",
    "pair_closest",
    "scan_peak_centre",
]

EMPTY_INDEX = np.empty(0, dtype=np.int64)


@dataclass
class MatchResult:
    """
    Pairs of coincident events and the diagnostics of how they were found.

    ``index_1[k]`` and ``index_2[k]`` index the *input* arrays of telescope 1 and 2;
    pairs are ordered by the time of telescope 1.
    """

    #: indices into the first telescope's input arrays
    index_1: np.ndarray
    #: indices into the second telescope's input arrays
    index_2: np.ndarray
    #: time difference ``t_2 - t_1`` of each pair (ns), before offset correction
    time_diff_ns: np.ndarray
    #: events given for telescope 1 and 2
    n_1: int
    n_2: int
    #: offset ``t_2 - t_1`` applied before pairing (ns)
    offset_ns: int = 0
    #: offsets scanned (ns) and the number of coincidences at each (sliding window only)
    scan_offsets_ns: np.ndarray | None = None
    scan_counts: np.ndarray | None = None
    #: free-form numbers worth reporting (method-specific)
    info: dict = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        """Number of coincident pairs."""
        return len(self.index_1)

    @property
    def matched_fraction_1(self) -> float:
        """Fraction of the first telescope's events with a partner."""
        return self.n_pairs / self.n_1 if self.n_1 else 0.0

    @property
    def matched_fraction_2(self) -> float:
        """Fraction of the second telescope's events with a partner."""
        return self.n_pairs / self.n_2 if self.n_2 else 0.0

    def summary(self) -> dict:
        """The scalar diagnostics as a flat dict (for logs and file attributes)."""
        return {
            "n_1": int(self.n_1),
            "n_2": int(self.n_2),
            "n_pairs": int(self.n_pairs),
            "matched_fraction_1": float(self.matched_fraction_1),
            "matched_fraction_2": float(self.matched_fraction_2),
            "offset_ns": int(self.offset_ns),
            **self.info,
        }


# ---------------------------------------------------------------- pure functions


@numba.njit(cache=True)
def _greedy_accept(first, second, order, n_1, n_2):  # pragma: no cover (numba)
    used_1 = np.zeros(n_1, dtype=np.bool_)
    used_2 = np.zeros(n_2, dtype=np.bool_)
    keep = np.zeros(len(order), dtype=np.bool_)
    for k in order:
        i, j = first[k], second[k]
        if not used_1[i] and not used_2[j]:
            used_1[i] = True
            used_2[j] = True
            keep[k] = True
    return keep


def pair_closest(
    sorted_1: np.ndarray, sorted_2: np.ndarray, max_diff: int
) -> tuple[np.ndarray, np.ndarray]:
    """
    One-to-one pairs of closest events of two sorted time series.

    Candidates are each event's left and right neighbour in the other series (found
    with ``searchsorted``) within ``max_diff``; they are accepted greedily by
    increasing ``|t_2 - t_1|``, each event at most once. O(N log N) time, O(N) memory.

    Parameters
    ----------
    sorted_1, sorted_2 : np.ndarray
        Ascending int64 times (same unit as ``max_diff``).
    max_diff : int
        Largest accepted ``|t_2 - t_1|`` (inclusive).

    Returns
    -------
    index_1, index_2 : np.ndarray
        Indices into ``sorted_1`` and ``sorted_2`` of the pairs, ordered by ``index_1``.
    """
    n_1, n_2 = len(sorted_1), len(sorted_2)
    if n_1 == 0 or n_2 == 0:
        return EMPTY_INDEX, EMPTY_INDEX
    right_2 = np.searchsorted(sorted_2, sorted_1)
    right_1 = np.searchsorted(sorted_1, sorted_2)
    idx_1, idx_2 = np.arange(n_1), np.arange(n_2)
    first = np.concatenate([idx_1, idx_1, right_1 - 1, right_1])
    second = np.concatenate([right_2 - 1, right_2, idx_2, idx_2])
    valid = (first >= 0) & (first < n_1) & (second >= 0) & (second < n_2)
    first, second = first[valid], second[valid]
    diff = np.abs(sorted_2[second] - sorted_1[first])
    close = diff <= max_diff
    first, second, diff = first[close], second[close], diff[close]
    order = np.argsort(diff, kind="stable")
    keep = _greedy_accept(first, second, order, n_1, n_2)
    first, second = first[keep], second[keep]
    by_first = np.argsort(first, kind="stable")
    return first[by_first].astype(np.int64), second[by_first].astype(np.int64)


@numba.njit(cache=True)
def _offset_histogram(sorted_1, sorted_2, start, step, n_offsets, half_width):  # pragma: no cover
    # difference array over offset indices: each pair (i, j) with
    # |t2_j - t1_i - o_k| <= w adds 1 to every k in [k_lo, k_hi]
    diff = np.zeros(n_offsets + 1, dtype=np.int64)
    low, high = start - half_width, start + (n_offsets - 1) * step + half_width
    j0 = 0
    n_2 = len(sorted_2)
    for i in range(len(sorted_1)):
        t = sorted_1[i]
        while j0 < n_2 and sorted_2[j0] - t < low:
            j0 += 1
        j = j0
        while j < n_2 and sorted_2[j] - t <= high:
            d = sorted_2[j] - t - start
            k_lo = -((half_width - d) // step)  # ceil((d - w) / step)
            k_hi = (d + half_width) // step
            if k_lo < 0:
                k_lo = 0
            if k_hi > n_offsets - 1:
                k_hi = n_offsets - 1
            if k_lo <= k_hi:
                diff[k_lo] += 1
                diff[k_hi + 1] -= 1
            j += 1
    return np.cumsum(diff[:-1])


def count_coincidences_per_offset(
    sorted_1: np.ndarray, sorted_2: np.ndarray, offsets: np.ndarray, half_width: int
) -> np.ndarray:
    """
    Number of pairs with ``|t_2 - t_1 - offset| <= half_width`` for each offset.

    One merge-like pass over the two sorted series visits only the pairs whose
    difference lies in the scanned range (plus the half-width); each adds one to a
    difference array over the offsets. Time O(N1 + N2 + M), memory O(len(offsets)),
    with M the number of pairs within the scanned range.

    Parameters
    ----------
    sorted_1, sorted_2 : np.ndarray
        Ascending int64 times (ns).
    offsets : np.ndarray
        Equally spaced ascending int64 offsets (ns), at least one.
    half_width : int
        Coincidence window half-width (ns).

    Returns
    -------
    np.ndarray
        int64 counts, one per offset.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    step = int(offsets[1] - offsets[0]) if len(offsets) > 1 else 1
    if len(offsets) > 1 and np.any(np.diff(offsets) != step):
        raise ValueError("offsets must be equally spaced")
    return _offset_histogram(
        np.ascontiguousarray(sorted_1, dtype=np.int64),
        np.ascontiguousarray(sorted_2, dtype=np.int64),
        np.int64(offsets[0]),
        np.int64(step),
        np.int64(len(offsets)),
        np.int64(half_width),
    )


def scan_peak_centre(offsets: np.ndarray, counts: np.ndarray) -> int:
    """
    Centre of the coincidence peak of an offset scan.

    With a window half-width ``w`` much larger than the timing jitter, the true offset
    gives a plateau ``2 w`` wide: its arg-max is anywhere on it. The centre of the
    region above half maximum (over the median, i.e. the accidental level) around the
    arg-max is the estimate.
    """
    counts = np.asarray(counts, dtype=float)
    peak = int(np.argmax(counts))
    base = float(np.median(counts))
    half = base + 0.5 * (counts[peak] - base)
    above = counts >= half
    lo = peak
    while lo > 0 and above[lo - 1]:
        lo -= 1
    hi = peak
    while hi < len(counts) - 1 and above[hi + 1]:
        hi += 1
    return int(offsets[lo] + (offsets[hi] - offsets[lo]) // 2)


def match_by_id(ids_1: np.ndarray, ids_2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Indices of the events with equal ids in both arrays, ordered by ``index_1``.

    Raises
    ------
    ValueError
        If an id occurs twice in one array.
    """
    ids_1, ids_2 = np.asarray(ids_1), np.asarray(ids_2)
    for ids, which in ((ids_1, 1), (ids_2, 2)):
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"event ids of telescope {which} are not unique")
    _, index_1, index_2 = np.intersect1d(ids_1, ids_2, assume_unique=True, return_indices=True)
    order = np.argsort(index_1, kind="stable")
    return index_1[order].astype(np.int64), index_2[order].astype(np.int64)


def _as_ns(times) -> np.ndarray:
    times = np.asarray(times)
    if not np.issubdtype(times.dtype, np.integer):
        raise TypeError(f"times must be integer nanoseconds (int64), got dtype {times.dtype}")
    return times.astype(np.int64, copy=False)


def _sorted(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(times, kind="stable")
    return times[order], order


# ---------------------------------------------------------------- components


class CoincidenceMatcher(Component):
    """
    Base of the coincidence matchers: pair the events of two telescopes.

    Implementations are named ``<Method>Matcher`` and chosen by name with
    ``CoincidenceMatcher.from_name(name, parent=...)``; subclass this base (and
    implement `match`) to add a method.
    """

    #: whether `match` needs event ids (True) or times (False)
    uses_event_ids = False

    @abstractmethod
    def match(
        self,
        times_1: np.ndarray,
        times_2: np.ndarray,
        event_ids_1: np.ndarray | None = None,
        event_ids_2: np.ndarray | None = None,
    ) -> MatchResult:
        """
        Pair coincident events, each event at most once.

        Parameters
        ----------
        times_1, times_2 : np.ndarray
            Trigger times (int64 ns, any order) of the two telescopes' events.
        event_ids_1, event_ids_2 : np.ndarray, optional
            Array-trigger event ids (int64), needed by id-based methods.

        Returns
        -------
        MatchResult
            Index pairs into the inputs, ordered by ``times_1``, and diagnostics.
        """

    @staticmethod
    def _result(times_1, times_2, index_1, index_2, **kwargs) -> MatchResult:
        order = np.argsort(times_1[index_1], kind="stable")
        index_1, index_2 = index_1[order], index_2[order]
        return MatchResult(
            index_1=index_1,
            index_2=index_2,
            time_diff_ns=times_2[index_2] - times_1[index_1],
            n_1=len(times_1),
            n_2=len(times_2),
            **kwargs,
        )


class WhiteRabbitClosestMatcher(CoincidenceMatcher):
    """
    Nanosecond (White Rabbit) timestamps: pair each event with the closest event of the
    other telescope within ``max_time_diff_ns``, one-to-one.
    """

    max_time_diff_ns = Int(
        10_000, help="Largest |t_2 - t_1 - time_offset_ns| of a pair (ns)", min=0
    ).tag(config=True)
    time_offset_ns = Int(
        0, help="Known fixed offset t_2 - t_1 of the two clocks (ns), e.g. cable delays"
    ).tag(config=True)

    def match(self, times_1, times_2, event_ids_1=None, event_ids_2=None) -> MatchResult:
        """Closest one-to-one pairs within ``max_time_diff_ns`` (see `pair_closest`)."""
        times_1, times_2 = _as_ns(times_1), _as_ns(times_2)
        s1, o1 = _sorted(times_1 + self.time_offset_ns)
        s2, o2 = _sorted(times_2)
        i1, i2 = pair_closest(s1, s2, self.max_time_diff_ns)
        return self._result(times_1, times_2, o1[i1], o2[i2], offset_ns=self.time_offset_ns)


class SlidingWindowMatcher(CoincidenceMatcher):
    """
    Timestamps with an unknown clock offset between the telescopes: scan the offset
    ``t_2 - t_1`` over ``[offset_start_ns, offset_stop_ns]`` in ``offset_step_ns``
    steps, count the pairs within ``window_half_width_ns`` at each offset, take the
    centre of the coincidence peak, refine it as the median time difference of the
    pairs found there, and pair the closest events within the window at that offset.
    """

    window_half_width_ns = Int(1_000_000, help="Coincidence window half-width (ns)", min=1).tag(
        config=True
    )
    offset_start_ns = Int(-10_000_000, help="First offset t_2 - t_1 scanned (ns)").tag(config=True)
    offset_stop_ns = Int(10_000_000, help="Last offset t_2 - t_1 scanned (ns)").tag(config=True)
    offset_step_ns = Int(20_000, help="Step of the offset scan (ns)", min=1).tag(config=True)
    refine_offset = Bool(
        True, help="Refine the offset as the median time difference of the pairs found"
    ).tag(config=True)

    @property
    def offsets_ns(self) -> np.ndarray:
        """The offsets scanned (int64 ns)."""
        if self.offset_stop_ns < self.offset_start_ns:
            raise ValueError("offset_stop_ns must not be smaller than offset_start_ns")
        n = (self.offset_stop_ns - self.offset_start_ns) // self.offset_step_ns + 1
        return self.offset_start_ns + self.offset_step_ns * np.arange(n, dtype=np.int64)

    def match(self, times_1, times_2, event_ids_1=None, event_ids_2=None) -> MatchResult:
        """Offset scan, then closest one-to-one pairs at the best offset."""
        times_1, times_2 = _as_ns(times_1), _as_ns(times_2)
        s1, o1 = _sorted(times_1)
        s2, o2 = _sorted(times_2)
        offsets = self.offsets_ns
        counts = count_coincidences_per_offset(s1, s2, offsets, self.window_half_width_ns)
        scan_offset = scan_peak_centre(offsets, counts) if counts.any() else 0
        offset = scan_offset
        i1, i2 = pair_closest(s1 + offset, s2, self.window_half_width_ns)
        if self.refine_offset and len(i1):
            offset = int(np.median(s2[i2] - s1[i1]))
            i1, i2 = pair_closest(s1 + offset, s2, self.window_half_width_ns)
        self.log.debug("offset scan peak %d ns, refined offset %d ns", scan_offset, offset)
        return self._result(
            times_1,
            times_2,
            o1[i1],
            o2[i2],
            offset_ns=offset,
            scan_offsets_ns=offsets,
            scan_counts=counts,
            info={"scan_peak_offset_ns": int(scan_offset), "scan_max_count": int(counts.max())},
        )


class EventIdMatcher(CoincidenceMatcher):
    """
    Events tagged by an array trigger (or simulations): pair the events with equal
    event ids. Times are used only for the diagnostics.
    """

    uses_event_ids = True

    def match(self, times_1, times_2, event_ids_1=None, event_ids_2=None) -> MatchResult:
        """Pairs of equal event ids (see `match_by_id`)."""
        if event_ids_1 is None or event_ids_2 is None:
            raise ValueError("EventIdMatcher needs the event ids of both telescopes")
        times_1, times_2 = _as_ns(times_1), _as_ns(times_2)
        if len(event_ids_1) != len(times_1) or len(event_ids_2) != len(times_2):
            raise ValueError("event ids and times must have the same length per telescope")
        i1, i2 = match_by_id(event_ids_1, event_ids_2)
        return self._result(times_1, times_2, i1, i2)
