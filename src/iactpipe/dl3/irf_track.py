"""
IRFs of a run averaged over its zenith track (``IRFSelector.method = track``).

A run that drifts in zenith collects N(E) = integral over t of A_eff(E, zd(t)) F(E) dt
events: its effective area is the live-time average of the effective area along its
pointing track, not the effective area at its mean zenith. `track_slices` cuts the
run's good time intervals into slices of at most ``max_zenith_step`` in zenith (equal
wall-clock slices; each weighted by its time inside the GTIs, the dead-time fraction
being one number per run); the IRF of each slice is the library IRF interpolated at the
slice's zenith (`iactpipe.dl3.irf_interpolation`), and `average_irfs` combines them:

* effective area and background rate: live-time weighted mean;
* energy dispersion and PSF (probability densities per true energy and offset): the
  mixture weighted by live time x effective area of each slice at that true energy and
  offset (the share of the expected signal the slice contributes), so each row stays
  normalised; where no slice has area, live-time weights;
* RAD_MAX, and the gammaness and theta cuts of the events (per reconstructed-energy
  bin): the same live time x effective area weights, the area taken at the bin's
  energy. The ON region then matches the signal-weighted mixture of the slices'
  containment radii; a cut shared by all slices (a fixed theta cut, the ``theta_max``
  cap, a bin without gammaness cut) is kept exactly. One cut for the whole run is an
  approximation (each slice's area was made with its own cut); its error is of second
  order in the cut's variation along the track, as for the interpolated cuts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import astropy.units as u
import numpy as np
from astropy.io import fits

from ..io import InputFileError
from .irf_file import IRFFile
from .irf_interpolation import AXIS_COLUMNS, IRF_COLUMNS

__all__ = ["PointingTrack", "TrackSlices", "average_irfs", "track_slices"]

#: the fill value of the gammaness cut table: no cut in that bin
NO_GH_CUT = 1.0


@dataclass
class PointingTrack:
    """
    A run's pointing sampled in time, and its good time intervals.

    Attributes
    ----------
    time : Quantity
        Sample times (s, increasing, from any origin shared with ``gti_start``).
    zenith, azimuth : Quantity
        Pointing at the sample times.
    gti_start, gti_stop : Quantity
        Good time intervals (s, same origin).
    """

    time: u.Quantity
    zenith: u.Quantity
    azimuth: u.Quantity
    gti_start: u.Quantity
    gti_stop: u.Quantity


@dataclass
class TrackSlices:
    """The slices of a track: pointing at each slice and its time inside the GTIs."""

    zenith: u.Quantity
    azimuth: u.Quantity
    live_time: u.Quantity


def _gti_overlap(lo: float, hi: float, starts: np.ndarray, stops: np.ndarray):
    """(time inside the GTIs, GTI-weighted mean time) of the interval [lo, hi]."""
    a, b = np.maximum(starts, lo), np.minimum(stops, hi)
    length = np.clip(b - a, 0.0, None)
    total = float(length.sum())
    if total <= 0:
        return 0.0, np.nan
    return total, float(np.sum(length * (a + b) / 2) / total)


def track_slices(
    track: PointingTrack, max_zenith_step: u.Quantity = 0.5 * u.deg, max_slices: int = 64
) -> TrackSlices:
    """
    Cut a track into equal wall-clock slices of at most ``max_zenith_step`` in zenith.

    The number of slices is the zenith path length of the samples (the sum of the
    absolute zenith steps, so a run through culmination counts both ways) over
    ``max_zenith_step``, rounded up, between 1 and ``max_slices``. Each slice keeps its
    time inside the GTIs (slices without any are dropped) and the pointing at the
    GTI-weighted mean time of that part (linear between samples).

    Raises
    ------
    ValueError
        No time inside the GTIs, or fewer than one sample.
    """
    time = track.time.to_value(u.s)
    zenith, azimuth = track.zenith.to_value(u.deg), track.azimuth.to_value(u.deg)
    starts, stops = track.gti_start.to_value(u.s), track.gti_stop.to_value(u.s)
    if len(time) == 0 or np.sum(np.clip(stops - starts, 0, None)) <= 0:
        raise ValueError("pointing track without samples or time inside the GTIs")
    path = float(np.sum(np.abs(np.diff(zenith))))
    n = int(np.clip(np.ceil(path / max_zenith_step.to_value(u.deg) - 1e-9), 1, max_slices))
    edges = np.linspace(starts.min(), stops.max(), n + 1)
    parts = [_gti_overlap(lo, hi, starts, stops) for lo, hi in pairwise(edges)]
    live, middle = np.array(parts, dtype=np.float64).T
    keep = live > 0
    # azimuth continuous through north before the linear interpolation
    unwrapped = np.rad2deg(np.unwrap(np.deg2rad(azimuth)))
    return TrackSlices(
        np.interp(middle[keep], time, zenith) * u.deg,
        (np.interp(middle[keep], time, unwrapped) % 360) * u.deg,
        live[keep] * u.s,
    )


def _column(hdu: fits.BinTableHDU, name: str) -> np.ndarray:
    return np.asarray(hdu.data[name][0], dtype=np.float64)


def _centres(hdu: fits.BinTableHDU, axis: str) -> np.ndarray:
    lo, hi = _column(hdu, f"{axis}_LO"), _column(hdu, f"{axis}_HI")
    return np.sqrt(lo * hi) if axis == "ENERG" else (lo + hi) / 2


def _bin_of(edges_lo: np.ndarray, edges_hi: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the bin holding each value (the first or last bin beyond the range)."""
    return np.clip(np.searchsorted(edges_hi, values, side="right"), 0, len(edges_lo) - 1)


def _area_at(aeff: fits.BinTableHDU, energy: np.ndarray, theta: np.ndarray | None):
    """Effective area (m2, >= 0) at true energies (TeV) and offsets (deg): (offset, energy)."""
    area = np.nan_to_num(_column(aeff, "EFFAREA"), nan=0.0).clip(min=0)
    i_e = _bin_of(_column(aeff, "ENERG_LO"), _column(aeff, "ENERG_HI"), energy)
    if theta is None:  # cuts tables: no offset axis, the first offset bin
        return area[:1, i_e]
    i_t = _bin_of(_column(aeff, "THETA_LO"), _column(aeff, "THETA_HI"), theta)
    return area[np.ix_(i_t, i_e)]


def _mixture(stacked: np.ndarray, weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """sum_i w_i x_i / sum_i w_i over axis 0, ``fallback`` weights where sum_i w_i = 0."""
    total = weights.sum(axis=0)
    empty = total <= 0
    weights = np.where(empty[None], fallback.reshape((-1,) + (1,) * total.ndim), weights)
    return np.sum(weights * stacked, axis=0) / weights.sum(axis=0)


def _average_hdu(hdus: list[fits.BinTableHDU], live: np.ndarray, aeffs) -> fits.BinTableHDU:
    name = hdus[0].name
    column = IRF_COLUMNS[name]
    stack = np.stack([_column(h, column) for h in hdus])
    shape = (-1,) + (1,) * (stack.ndim - 1)
    if name in ("EFFECTIVE AREA", "BACKGROUND"):  # rates and areas: per unit live time
        value = np.sum(live.reshape(shape) * stack, axis=0) / live.sum()
    else:
        energy, theta = _centres(hdus[0], "ENERG"), _centres(hdus[0], "THETA")
        area = np.stack([_area_at(a, energy, theta) for a in aeffs])
        weights = live.reshape((-1, 1, 1)) * area  # (slice, offset, energy)
        if name == "ENERGY DISPERSION":  # MATRIX (offset, migration, true energy)
            weights = weights[:, :, None, :]
        elif name == "PSF":  # RPSF (source offset, offset, true energy)
            weights = weights[:, None, :, :]
        value = _mixture(stack, np.broadcast_to(weights, stack.shape), live)
    # a value shared by all slices is kept bit for bit (no rounding of w x / w)
    value = np.where(np.all(stack == stack[0], axis=0), stack[0], value)
    data = hdus[0].data.copy()
    data[column][0] = value
    header = hdus[0].header.copy()
    header.remove("IRF_INTP", ignore_missing=True)
    header["IRF_TRCK"] = (len(hdus), "averaged over slices of the zenith track")
    return fits.BinTableHDU(data=data, header=header)


def _average_cut(irfs: list[IRFFile], attribute: str, live, aeffs, fill) -> object:
    tables = [getattr(irf, attribute) for irf in irfs]
    low = u.Quantity(tables[0]["low"])
    if not all(np.allclose(u.Quantity(t["low"]).value, low.value) for t in tables):
        raise InputFileError("IRF track average: the cut binning differs between slices")
    cuts = [u.Quantity(t["cut"]) for t in tables]
    unit = cuts[0].unit
    stack = np.stack([c.to_value(unit) for c in cuts])
    energy = u.Quantity(tables[0]["center"]).to_value(u.TeV)
    area = np.stack([_area_at(a, energy, None)[0] for a in aeffs])
    value = _mixture(stack, live[:, None] * area, live)
    value = np.where(np.all(stack == stack[0], axis=0), stack[0], value)  # shared cut: kept
    if fill is not None:
        value = np.where(np.any(stack == fill, axis=0), fill, value)
    out = tables[0].copy()
    out["cut"] = value * unit
    out.meta.pop("INTERP", None)
    out.meta["TRACK"] = "averaged over the zenith track"
    return out


def _check_compatible(irfs: list[IRFFile]) -> None:
    first = irfs[0]
    names = [h.name for h in first.hdus]
    for other in irfs[1:]:
        if (
            other.selection_fingerprint != first.selection_fingerprint
            or other.irf_type != first.irf_type
            or [h.name for h in other.hdus] != names
        ):
            raise InputFileError(
                f"IRF track average: {first.path} and {other.path} differ in event "
                "selection, IRF type or HDUs"
            )
        for a, b in zip(first.hdus, other.hdus, strict=True):
            for column in AXIS_COLUMNS:
                if column in a.columns.names:
                    x, y = _column(a, column), _column(b, column)
                    if x.shape != y.shape or not np.allclose(x, y):
                        raise InputFileError(
                            f"IRF track average: {a.name} {column} differs between slices"
                        )


def average_irfs(irfs: list[IRFFile], live_time: u.Quantity) -> IRFFile:
    """
    The IRFs of a run from the IRFs of its track's slices (see the module docstring).

    Parameters
    ----------
    irfs : list of IRFFile
        The IRF at each slice (node or interpolated), same selection, type and binning.
    live_time : Quantity
        Live time of each slice (only the ratios matter).

    Returns
    -------
    IRFFile
        The first slice's file with averaged IRF HDUs and cuts; a single slice (or
        identical slices' weights on one IRF) gives that IRF unchanged.

    Raises
    ------
    InputFileError
        Slices of different selection, IRF type, HDUs or binning.
    """
    live = u.Quantity(live_time, u.s).to_value(u.s).astype(np.float64)
    if len(irfs) != len(live) or len(irfs) == 0 or np.any(live < 0) or live.sum() <= 0:
        raise ValueError("average_irfs: one positive live time per slice IRF")
    if len(irfs) == 1 or all(irf is irfs[0] for irf in irfs):
        return irfs[0]
    _check_compatible(irfs)
    aeffs = [next(h for h in irf.hdus if h.name == "EFFECTIVE AREA") for irf in irfs]
    hdus = [
        _average_hdu([irf.hdus[k] for irf in irfs], live, aeffs) for k in range(len(irfs[0].hdus))
    ]
    gh = _average_cut(irfs, "gh_cuts", live, aeffs, NO_GH_CUT)
    theta = _average_cut(irfs, "theta_cuts", live, aeffs, None)
    return replace(irfs[0], hdus=hdus, gh_cuts=gh, theta_cuts=theta, gh_efficiency=None)
