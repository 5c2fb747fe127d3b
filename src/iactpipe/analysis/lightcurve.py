"""
Light curve: integral flux over the spectral analysis's energy range in run, night or
custom time bins (gammapy ``LightCurveEstimator`` on the per-run ON/OFF datasets, the
spectral shape fixed to the fitted one, or to the assumed one when the fit failed), with
an upper limit where a bin is not significant.

A night runs from local noon to local noon; with the observatory's longitude
``lon`` (deg, east positive) the night of a time t is floor(MJD(t) + lon / 360 - 0.5).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity, CaselessStrEnum, Float, List

__all__ = ["LightCurveAnalysis", "night_intervals"]


def night_intervals(starts: Time, stops: Time, longitude: u.Quantity) -> list[tuple[Time, Time]]:
    """
    One time interval per night, from the first run's start to the last run's stop.

    Parameters
    ----------
    starts, stops : Time
        Run start and stop times.
    longitude : Quantity
        Observatory longitude (east positive): nights change at local noon.
    """
    night = np.floor(starts.mjd + longitude.to_value(u.deg) / 360.0 - 0.5).astype(int)
    out = []
    for n in np.unique(night):
        sel = night == n
        out.append(
            (
                Time(starts[sel].mjd.min(), format="mjd", scale=starts.scale),
                Time(stops[sel].mjd.max(), format="mjd", scale=stops.scale),
            )
        )
    return out


class LightCurveAnalysis(Component):
    """Integral-flux light curve with upper limits."""

    time_bins = CaselessStrEnum(
        ["run", "night", "custom"],
        default_value="run",
        help="Bins: one per run, one per night (noon to noon, local), or custom_edges_mjd",
    ).tag(config=True)
    custom_edges_mjd = List(
        Float(), default_value=[], help="Bin edges (MJD, UTC) for time_bins = custom"
    ).tag(config=True)
    observatory_longitude = AstroQuantity(
        default_value=14.7808 * u.deg,
        physical_type=u.physical.angle,
        help="Longitude (east positive) for the night boundaries (default: Ondřejov)",
    ).tag(config=True)

    def intervals(self, datasets) -> list[tuple[Time, Time]]:
        """Time intervals of the light-curve bins."""
        starts = Time([ds.gti.time_start[0] for ds in datasets])
        stops = Time([ds.gti.time_stop[-1] for ds in datasets])
        if self.time_bins == "run":
            order = np.argsort(starts.mjd)
            return [(starts[i], stops[i]) for i in order]
        if self.time_bins == "night":
            return night_intervals(starts, stops, self.observatory_longitude)
        edges = sorted(self.custom_edges_mjd)
        if len(edges) < 2:
            raise ValueError("time_bins = custom needs at least two custom_edges_mjd")
        t = Time(edges, format="mjd", scale="utc")
        return [(t[i], t[i + 1]) for i in range(len(t) - 1)]

    def __call__(
        self,
        datasets,
        source_name: str,
        energy_range,
        n_sigma_ul: float,
        sqrt_ts_threshold_ul: float,
    ) -> Table:
        """
        Light-curve table: time_min, time_max (MJD), flux, flux_err, flux_ul (cm-2 s-1),
        sqrt_ts, is_ul, counts.
        """
        from gammapy.estimators import LightCurveEstimator

        estimator = LightCurveEstimator(
            energy_edges=u.Quantity(energy_range),
            source=source_name,
            time_intervals=self.intervals(datasets),
            selection_optional=["ul"],
            n_sigma_ul=n_sigma_ul,
            reoptimize=False,
        )
        lc = estimator.run(datasets)
        lc.sqrt_ts_threshold_ul = sqrt_ts_threshold_ul
        table = lc.to_table(sed_type="flux", format="lightcurve")
        flux_unit = u.Unit("cm-2 s-1")
        out = Table()
        out["time_min"] = np.asarray(table["time_min"], dtype=float)
        out["time_max"] = np.asarray(table["time_max"], dtype=float)
        for name in ("flux", "flux_err", "flux_ul"):
            out[name] = table[name].quantity[:, 0].to(flux_unit)
        out["sqrt_ts"] = np.asarray(table["sqrt_ts"][:, 0], dtype=float)
        out["is_ul"] = np.asarray(table["is_ul"][:, 0], dtype=bool)
        out["counts"] = np.asarray(table["counts"][:, 0], dtype=float).reshape(len(out), -1).sum(1)
        return out
