"""
The stereo output events: which input event of each telescope every output event holds.

Matching gives pairs of input indices; the output file also needs an order (time),
new event ids, one obs_id per event and, with ``keep_mono``, the unpaired events. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .files import TelescopeEvents
from .matching import MatchResult

__all__ = ["StereoEvents"]


@dataclass
class StereoEvents:
    """
    The output events, in time order.

    ``index[k][j]`` is the input event of telescope ``k`` (0 or 1) in output event ``j``,
    or -1 if telescope ``k`` did not see it (``keep_mono`` only).
    """

    index: list[np.ndarray]
    #: telescope 1's clock (telescope 2's minus the matching offset when only it saw it)
    time_ns: np.ndarray
    obs_id: np.ndarray
    event_id: np.ndarray
    event_type: np.ndarray

    def __len__(self) -> int:
        return len(self.time_ns)

    @classmethod
    def assemble(
        cls, events: Sequence[TelescopeEvents], result: MatchResult, keep_mono: bool = False
    ) -> StereoEvents:
        """Order the matched (and, with ``keep_mono``, unmatched) events; number them from 1."""
        e1, e2 = events
        index_1, index_2 = result.index_1, result.index_2
        if keep_mono:
            mono_1 = np.setdiff1d(np.arange(len(e1)), index_1)
            mono_2 = np.setdiff1d(np.arange(len(e2)), index_2)
            index_1 = np.concatenate([index_1, mono_1, np.full(len(mono_2), -1)])
            index_2 = np.concatenate([index_2, np.full(len(mono_1), -1), mono_2])
        has_1 = index_1 >= 0
        time = np.where(has_1, e1.time_ns[index_1], e2.time_ns[index_2] - result.offset_ns)
        order = np.argsort(time, kind="stable")
        index = [index_1[order], index_2[order]]
        has_1 = index[0] >= 0
        obs_2 = _obs_id_map(events, result)(e2.obs_id[index[1]])
        return cls(
            index=index,
            time_ns=time[order],
            obs_id=np.where(has_1, e1.obs_id[index[0]], obs_2).astype(np.int32),
            event_id=np.arange(1, len(order) + 1, dtype=np.int64),
            event_type=np.where(has_1, e1.event_type[index[0]], e2.event_type[index[1]]),
        )

    def tel_rows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Output positions holding telescope ``k`` and its input events at those positions."""
        positions = np.flatnonzero(self.index[k] >= 0)
        return positions, self.index[k][positions]

    @property
    def is_stereo(self) -> np.ndarray:
        """Output events seen by both telescopes."""
        return (self.index[0] >= 0) & (self.index[1] >= 0)


def _obs_id_map(events: Sequence[TelescopeEvents], result: MatchResult):
    """obs_id of telescope 2 -> the obs_id of telescope 1 it is most often paired with."""
    e1, e2 = events
    pairs = np.stack([e2.obs_id[result.index_2], e1.obs_id[result.index_1]])
    mapping = {}
    if pairs.size:
        unique, counts = np.unique(pairs, axis=1, return_counts=True)
        for k in np.argsort(counts):
            mapping[int(unique[0, k])] = int(unique[1, k])

    def convert(obs_ids):
        return np.array([mapping.get(int(o), int(o)) for o in obs_ids], dtype=np.int64)

    return convert
