"""
ON/OFF statistics: counts in the ON and the reflected (wobble) OFF regions, the
exposure ratio alpha, the excess and the Li & Ma (1983, eq. 17) significance via
gammapy's ``WStatCountsStatistic``; the significance as the runs accumulate; and the
theta² distribution around the target and around each OFF position.

The counts are those of the spectral datasets (`iactpipe.analysis.spectrum`), summed
over the reconstructed-energy bins inside the safe and fit masks, so that the
detection, the spectrum and the upper limit use the same events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int

from ..io.traits import BoundedQuantity

__all__ = [
    "OnOffCounts",
    "Theta2Analysis",
    "cumulative_counts",
    "li_ma_significance",
    "on_off_counts",
    "theta2_counts",
]


def li_ma_significance(n_on: float, n_off: float, alpha: float) -> float:
    """Li & Ma eq. 17 significance (signed: negative for a deficit), from gammapy."""
    from gammapy.stats import WStatCountsStatistic

    if n_on == 0 and n_off == 0:
        return 0.0
    return float(WStatCountsStatistic(n_on=n_on, n_off=n_off, alpha=alpha).sqrt_ts)


@dataclass
class OnOffCounts:
    """ON/OFF counts of a set of runs."""

    n_on: int
    n_off: int
    alpha: float
    excess: float
    significance: float
    livetime: u.Quantity

    def to_dict(self) -> dict:
        """Plain numbers (``livetime_s``) for the JSON summary."""
        out = asdict(self)
        out["livetime_s"] = float(out.pop("livetime").to_value(u.s))
        return out


def _dataset_counts(dataset) -> tuple[float, float, float]:
    """(n_on, n_off, alpha x n_off) over the masked bins of one ON/OFF dataset."""
    mask = dataset.mask.data
    n_on = float(dataset.counts.data[mask].sum())
    n_off = float(dataset.counts_off.data[mask].sum())
    alpha = np.nan_to_num(dataset.alpha.data[mask])
    return n_on, n_off, float((alpha * dataset.counts_off.data[mask]).sum())


def _alpha(datasets) -> float:
    """Mean alpha over the used bins (the acceptance ratio is energy independent here)."""
    values = [ds.alpha.data[ds.mask.data] for ds in datasets]
    values = np.concatenate([v.ravel() for v in values]) if values else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    return float(values.mean()) if values.size else np.nan


def on_off_counts(datasets) -> OnOffCounts:
    """Summed ON/OFF counts and Li & Ma significance of ``datasets`` (gammapy ON/OFF)."""
    n_on = n_off = off_scaled = 0.0
    for ds in datasets:
        a, b, c = _dataset_counts(ds)
        n_on, n_off, off_scaled = n_on + a, n_off + b, off_scaled + c
    # effective alpha: the OFF-weighted mean, so that excess = n_on - alpha n_off exactly
    alpha = off_scaled / n_off if n_off > 0 else _alpha(datasets)
    livetime = sum((ds.gti.time_sum for ds in datasets), 0 * u.s)
    return OnOffCounts(
        int(n_on),
        int(n_off),
        float(alpha),
        float(n_on - off_scaled),
        li_ma_significance(n_on, n_off, alpha),
        livetime.to(u.s),
    )


def cumulative_counts(datasets) -> Table:
    """ON/OFF counts, live time and significance after each run (in time order)."""
    order = np.argsort([ds.gti.time_start[0].mjd for ds in datasets])
    rows = []
    for k in range(1, len(order) + 1):
        counts = on_off_counts([datasets[int(i)] for i in order[:k]])
        rows.append({"obs": datasets[int(order[k - 1])].name, **counts.to_dict()})
    return Table(rows=rows) if rows else Table()


class Theta2Analysis(Component):
    """Theta² distribution ON and OFF, and the detection decision."""

    theta2_max = BoundedQuantity(
        default_value=0.3 * u.deg**2,
        physical_type=u.physical.solid_angle,
        min=0 * u.deg**2,
        exclusive_min=True,
        help="Upper edge of the theta² histogram",
    ).tag(config=True)
    n_bins = Int(30, min=1, help="Bins of the theta² histogram").tag(config=True)
    detection_threshold = Float(
        5.0, help="Li & Ma significance from which the source counts as detected"
    ).tag(config=True)

    def detected(self, counts: OnOffCounts) -> bool:
        """Whether the significance reaches `detection_threshold`."""
        return bool(
            np.isfinite(counts.significance) and counts.significance >= self.detection_threshold
        )

    def table(
        self,
        observations,
        position: SkyCoord,
        n_off_regions: int,
        energy_range: tuple[u.Quantity, u.Quantity],
    ) -> Table:
        """
        Theta² histogram (events in ``energy_range``): ON counts around ``position``,
        OFF counts summed over the ``n_off_regions`` wobble positions of each run
        (gammapy's ``WobbleRegionsFinder``), alpha = 1 / (OFF positions) and excess per
        bin (gammapy's ``make_theta_squared_table`` is deprecated in 2.1 and needs
        theta² < offset²).
        """
        edges = np.linspace(0, self.theta2_max.to_value(u.deg**2), self.n_bins + 1)
        on, off_scaled, off = (np.zeros(self.n_bins) for _ in range(3))
        for obs in observations:
            counts_on, counts_off, n_positions = theta2_counts(
                obs, position, n_off_regions, energy_range, edges
            )
            on += counts_on
            off += counts_off
            off_scaled += counts_off / n_positions
        table = Table(
            {"theta2_min": edges[:-1], "theta2_max": edges[1:], "counts": on, "counts_off": off}
        )
        table["theta2_min"].unit = table["theta2_max"].unit = u.deg**2
        with np.errstate(invalid="ignore", divide="ignore"):
            table["alpha"] = np.where(off > 0, off_scaled / off, np.nan)
        table["excess"] = on - off_scaled
        table.meta["n_off_regions"] = n_off_regions
        return table


def theta2_counts(
    observation, position: SkyCoord, n_off_regions: int, energy_range, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """ON and summed OFF theta² histograms of one run, and the number of OFF positions."""
    from gammapy.makers import WobbleRegionsFinder
    from regions import PointSkyRegion

    events = observation.events
    if np.all(np.isfinite(u.Quantity(energy_range).value)):
        events = events.select_energy(energy_range=u.Quantity(energy_range))
    radec = events.radec
    counts_on, _ = np.histogram(position.separation(radec).deg ** 2, edges)
    pointing = observation.get_pointing_icrs(observation.tmid)
    # OFF positions only (point regions): the theta² range may exceed half their spacing
    regions, _ = WobbleRegionsFinder(n_off_regions).run(PointSkyRegion(position), pointing)
    regions = regions or [
        PointSkyRegion(
            position.directional_offset_by(
                pointing.position_angle(position) + 180 * u.deg, pointing.separation(position)
            )
        )
    ]
    counts_off = np.zeros(len(edges) - 1)
    for region in regions:
        counts_off += np.histogram(region.center.separation(radec).deg ** 2, edges)[0]
    return counts_on, counts_off, len(regions)
