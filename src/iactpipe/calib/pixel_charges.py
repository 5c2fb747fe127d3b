"""
Pixel charge distributions (sstmpipe's ``--px-charges``): per telescope, histograms of
the extracted pixel charges (p.e.) of interleaved pedestal events and of all events.

They are filled with the images the pedestal monitor sees (the charges as extracted,
before invalid-pixel interpolation), so both DL1 engines fill them identically, and
written to ``DL1_PIXEL_CHARGES_GROUP/tel_NNN`` (one row per charge bin). They are the
input of the MC / data comparison of the DQM and of ``iactpipe-tune-mc``'s report.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from ctapipe.core import Component
from ctapipe.core.traits import Bool, Float, Int

__all__ = ["PixelChargeHistograms", "histogram_skewness", "histogram_std"]


class PixelChargeHistograms(Component):
    """
    Histograms of extracted pixel charges per telescope: pedestal events, all events.

    The first and last bins also count the charges below and above the range.
    """

    enabled = Bool(True, help="Fill and write the pixel charge histograms").tag(config=True)
    min_charge_pe = Float(-10.0, help="Lower edge of the first charge bin (p.e.)").tag(config=True)
    max_charge_pe = Float(90.0, help="Upper edge of the last charge bin (p.e.)").tag(config=True)
    n_bins = Int(400, min=1, help="Number of charge bins").tag(config=True)

    def __init__(self, config=None, parent=None, **kwargs):
        super().__init__(config=config, parent=parent, **kwargs)
        if self.max_charge_pe <= self.min_charge_pe:
            raise ValueError(
                "PixelChargeHistograms: max_charge_pe must be above min_charge_pe, got "
                f"{self.min_charge_pe} .. {self.max_charge_pe}"
            )
        self.edges = np.linspace(self.min_charge_pe, self.max_charge_pe, self.n_bins + 1)
        self._scale = self.n_bins / (self.max_charge_pe - self.min_charge_pe)
        self._counts: dict[int, np.ndarray] = {}  # tel_id: (2, n_bins) pedestal, all

    def add(self, tel_id: int, image: np.ndarray, is_pedestal: bool) -> None:
        """Count the finite pixel charges of one extracted ``image`` (p.e.)."""
        if not self.enabled:
            return
        counts = self.counts(tel_id)
        values = np.asarray(image, dtype=np.float64)
        values = values[np.isfinite(values)]
        index = ((values - self.min_charge_pe) * self._scale).astype(np.int64)
        binned = np.bincount(np.clip(index, 0, self.n_bins - 1), minlength=self.n_bins)
        counts[1] += binned
        if is_pedestal:
            counts[0] += binned

    def counts(self, tel_id: int) -> np.ndarray:
        """
        The counts of ``tel_id``, int64 ``(2, n_bins)`` (pedestal events, all events;
        created empty): for callers that bin many images at once as `add` does.
        """
        counts = self._counts.get(tel_id)
        if counts is None:
            counts = self._counts[tel_id] = np.zeros((2, self.n_bins), dtype=np.int64)
        return counts

    def to_tables(self) -> dict[int, Table]:
        """One table per telescope: ``charge_low``, ``charge_high`` (p.e.), the counts."""
        tables = {}
        for tel_id, counts in sorted(self._counts.items()):
            tables[tel_id] = Table(
                {
                    "charge_low": self.edges[:-1].astype(np.float32),
                    "charge_high": self.edges[1:].astype(np.float32),
                    "pedestal_counts": counts[0],
                    "all_counts": counts[1],
                },
                meta={"tel_id": tel_id, "unit": "p.e."},
            )
        return tables


def histogram_std(edges_low: np.ndarray, edges_high: np.ndarray, counts: np.ndarray) -> float:
    """Standard deviation (p.e.) of a charge histogram (bin centres); NaN when empty."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    centres = 0.5 * (np.asarray(edges_low, float) + np.asarray(edges_high, float))
    mean = np.sum(counts * centres) / total
    return float(np.sqrt(np.sum(counts * (centres - mean) ** 2) / total))


def histogram_skewness(
    edges_low: np.ndarray, edges_high: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    """
    Skewness (third standardised moment, bin centres) of a charge histogram and its
    statistical error ``sqrt(6 / n)`` for ``n`` independent charges; NaN when empty.

    NSB photo-electrons make the pedestal charges skewed, Gaussian electronic noise
    does not: `iactpipe.simulation.tuning.PedestalTuner` fits the extra noise with it.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 2:
        return float("nan"), float("nan")
    centres = 0.5 * (np.asarray(edges_low, float) + np.asarray(edges_high, float))
    mean = np.sum(counts * centres) / total
    variance = np.sum(counts * (centres - mean) ** 2) / total
    if variance <= 0:
        return float("nan"), float("nan")
    third = np.sum(counts * (centres - mean) ** 3) / total
    return float(third / variance**1.5), float(np.sqrt(6.0 / total))
