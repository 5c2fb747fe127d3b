"""
MC productions on a grid of pointings: the nodes of a model and IRF library.

`PointingGrid` describes the nodes of one production config, either as explicit
(zenith, azimuth) pairs or along a declination line for a site (as the LST-1
``dec_XXXX`` productions: nodes that follow a source's path across the sky, at given
zenith angles, east and west of the meridian). `declination_line` is the spherical
astronomy; `PointingGrid.simulation_configs` gives each node's ``ShowerGenerator``
settings for ``iactpipe-simulate``, and `node_name` the library directory of a node
(`iactpipe.reco.library.model_node_directory`, the IRF library's names).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from ctapipe.core import Component
from ctapipe.core.traits import Float, List, Unicode

from ..instrument import ONDREJOV_LOCATION
from ..io.traits import BoundedQuantity
from ..reco.library import model_node_directory

__all__ = ["PointingGrid", "declination_line"]


def declination_line(
    declination: u.Quantity, zeniths: u.Quantity, latitude: u.Quantity
) -> list[tuple[u.Quantity, u.Quantity]]:
    """
    The pointings (zenith, azimuth; azimuth from north through east) at which a source
    of ``declination`` crosses each of ``zeniths`` seen from ``latitude``: one east of the
    meridian (rising) and one west (setting), a single one at culmination. Zenith angles
    the source never reaches are skipped.
    """
    dec, lat = declination.to_value(u.rad), latitude.to_value(u.rad)
    out = []
    for zenith in np.atleast_1d(zeniths.to_value(u.rad)):
        cos_h = (np.cos(zenith) - np.sin(lat) * np.sin(dec)) / (np.cos(lat) * np.cos(dec))
        if not -1 - 1e-9 <= cos_h <= 1 + 1e-9:
            continue
        hour = np.arccos(np.clip(cos_h, -1, 1))
        for h in (-hour, hour) if hour > 1e-6 else (0.0,):
            # azimuth (north through east) of hour angle h (negative: east of the meridian)
            az = np.arctan2(
                -np.cos(dec) * np.sin(h),
                np.sin(dec) * np.cos(lat) - np.cos(dec) * np.sin(lat) * np.cos(h),
            )
            out.append((np.rad2deg(zenith) * u.deg, np.rad2deg(az) % 360 * u.deg))
    return out


class PointingGrid(Component):
    """The pointing nodes of an MC production (one production config)."""

    nodes = List(
        List(Float(), minlen=2, maxlen=2),
        default_value=[],
        help="Explicit nodes: [[zenith_deg, azimuth_deg], ...]",
    ).tag(config=True)
    declination = BoundedQuantity(
        default_value=None,
        allow_none=True,
        min=-90 * u.deg,
        max=90 * u.deg,
        physical_type=u.physical.angle,
        help="Nodes along this declination's path (with zeniths_deg) instead of nodes",
    ).tag(config=True)
    zeniths_deg = List(
        Float(min=0, max=89),
        default_value=[20.0, 40.0],
        help="Zenith angles of the declination-line nodes (deg)",
    ).tag(config=True)
    nsb_level = Unicode("dark", help="NSB level of the production's nodes").tag(config=True)

    def pointings(self, location: EarthLocation = ONDREJOV_LOCATION) -> list[tuple]:
        """The (zenith, azimuth) nodes, sorted by azimuth then zenith, duplicates merged."""
        if self.declination is not None and self.nodes:
            raise ValueError("PointingGrid: give either nodes or declination, not both")
        if self.declination is not None:
            pairs = declination_line(self.declination, self.zeniths_deg * u.deg, location.lat)
        else:
            pairs = [(zd * u.deg, (az % 360) * u.deg) for zd, az in self.nodes]
        if not pairs:
            raise ValueError("PointingGrid: no node (no nodes, or the source never reaches them)")
        names = {}
        for zd, az in pairs:
            names.setdefault(self.node_name(zd, az), (zd, az))
        return sorted(names.values(), key=lambda p: (p[1].to_value(u.deg), p[0].to_value(u.deg)))

    def node_name(self, zenith: u.Quantity, azimuth: u.Quantity) -> str:
        """The library directory of a node (``zd20_az000/nsb_dark``)."""
        return str(model_node_directory(zenith, azimuth, self.nsb_level))

    def simulation_configs(self, base: dict | None = None) -> dict[str, dict]:
        """Per node: the ``ShowerGenerator`` config of iactpipe-simulate: ``base`` + pointing."""
        return {
            self.node_name(zd, az): {
                **(base or {}),
                "zenith": f"{zd.to_value(u.deg):.3f} deg",
                "azimuth": f"{az.to_value(u.deg):.3f} deg",
            }
            for zd, az in self.pointings()
        }
