"""Stereo: coincidence matching of the two telescopes' events and stereo geometry."""

from .matching import (
    CoincidenceMatcher,
    EventIdMatcher,
    MatchResult,
    SlidingWindowMatcher,
    WhiteRabbitClosestMatcher,
    count_coincidences_per_offset,
    match_by_id,
    pair_closest,
    scan_peak_centre,
)

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
