"""
Targets: a small built-in catalogue of the sources SST-1M follows (resolved offline,
no name service is ever queried) and the resolution of ``--target`` / ``--ra --dec``.

Positions are ICRS (J2000) from SIMBAD; the Crab is the simulator's default source
(`iactpipe.simulation.ObservationRun`).
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
from astropy.coordinates import SkyCoord

__all__ = ["CATALOGUE", "Target", "normalise_name", "resolve_target"]


@dataclass(frozen=True)
class Target:
    """A named sky position."""

    name: str
    position: SkyCoord

    def to_dict(self) -> dict:
        """``{"name", "ra_deg", "dec_deg"}`` for the JSON summary."""
        return {
            "name": self.name,
            "ra_deg": float(self.position.icrs.ra.deg),
            "dec_deg": float(self.position.icrs.dec.deg),
        }


#: name -> (RA, Dec) in deg, ICRS; aliases below
_SOURCES = {
    "Crab": (83.63308, 22.0145),
    "Mrk 421": (166.113808, 38.208833),
    "Mrk 501": (253.467569, 39.760169),
    "1ES 1959+650": (299.999384, 65.148514),
    "1ES 2344+514": (356.770152, 51.704967),
    "BL Lac": (330.680380, 42.277772),
    "NGC 1275": (49.950667, 41.511696),
    "M 87": (187.705931, 12.391123),
    "PKS 2155-304": (329.716938, -30.225588),
    "3C 279": (194.046527, -5.789312),
    "Cas A": (350.850, 58.815),
    "Geminga": (98.475638, 17.770253),
}
_ALIASES = {
    "Crab Nebula": "Crab",
    "Mkn 421": "Mrk 421",
    "Markarian 421": "Mrk 421",
    "Mkn 501": "Mrk 501",
    "Markarian 501": "Mrk 501",
    "M87": "M 87",
    "Perseus A": "NGC 1275",
    "Cassiopeia A": "Cas A",
}


def normalise_name(name: str) -> str:
    """Lower case without blanks and ``_`` (``"Mrk_421"`` and ``"mrk 421"`` -> ``"mrk421"``)."""
    return "".join(c for c in name.lower() if c not in " _\t")


#: normalised name -> Target
CATALOGUE: dict[str, Target] = {
    normalise_name(name): Target(name, SkyCoord(ra, dec, unit="deg", frame="icrs"))
    for name, (ra, dec) in _SOURCES.items()
}
CATALOGUE.update({normalise_name(a): CATALOGUE[normalise_name(n)] for a, n in _ALIASES.items()})


def resolve_target(
    name: str | None = None, ra: u.Quantity | None = None, dec: u.Quantity | None = None
) -> Target:
    """
    The target from a catalogue name (case-insensitive) or from coordinates.

    Parameters
    ----------
    name : str, optional
        Catalogue name; with ``ra`` and ``dec`` it only labels the position.
    ra, dec : Quantity, optional
        ICRS position.

    Returns
    -------
    Target

    Raises
    ------
    ValueError
        Unknown name without coordinates, or neither given.
    """
    if ra is not None and dec is not None:
        label = name or f"RA {ra.to_value(u.deg):.3f} Dec {dec.to_value(u.deg):+.3f}"
        return Target(label, SkyCoord(ra, dec, frame="icrs"))
    if (ra is None) != (dec is None):
        raise ValueError("give both --ra and --dec")
    if not name:
        raise ValueError("give a target (--target NAME, or --ra and --dec in deg)")
    try:
        return CATALOGUE[normalise_name(name)]
    except KeyError:
        known = ", ".join(sorted(_SOURCES))
        raise ValueError(f"unknown target {name!r}; known: {known}; or give --ra/--dec") from None
