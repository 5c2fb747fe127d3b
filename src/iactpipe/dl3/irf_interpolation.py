"""
Interpolation of IRFs in cos(zenith) between the two library nodes that bracket a run
(pyirf's estimators).

Effective area: `pyirf.interpolation.EffectiveAreaEstimator` (linear in log area,
``GridDataInterpolator``; bins that are 0 at either node stay 0, NaN stays NaN);
energy dispersion: `EnergyDispersionEstimator` with ``MomentMorphInterpolator`` along
the migration axis (identical node PDFs give that PDF back; the quantile interpolator
distorts a 30-bin migration PDF by up to 90 % in single bins); PSF table:
`PSFTableEstimator` (``QuantileInterpolator`` along the source-offset axis: pyirf
0.15's moment morphing fails on the PSF's units; single bins of the 100-bin table
differ by up to 90 % from identical node PDFs, the bulk is kept); RAD_MAX:
`RadMaxEstimator` (``GridDataInterpolator``); background: ``GridDataInterpolator``
(linear). The gammaness and theta cuts that select the events
are interpolated linearly in cos(zenith) per reconstructed-energy bin; a bin without a
cut (fill value: gammaness 1) at either node gets none. Both nodes must share binning,
event selection (fingerprint) and IRF type.
"""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
from astropy.io import fits
from pyirf.interpolation import (
    EffectiveAreaEstimator,
    EnergyDispersionEstimator,
    GridDataInterpolator,
    MomentMorphInterpolator,
    PSFTableEstimator,
    QuantileInterpolator,
    RadMaxEstimator,
)

from ..io import InputFileError
from .irf_file import IRFFile

__all__ = ["interpolate_irf_files"]

#: (HDU, column) per IRF, and the columns whose binning must agree between the nodes
IRF_COLUMNS = {
    "EFFECTIVE AREA": "EFFAREA",
    "ENERGY DISPERSION": "MATRIX",
    "PSF": "RPSF",
    "RAD_MAX": "RAD_MAX",
    "BACKGROUND": "BKG",
}
AXIS_COLUMNS = ("ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI", "MIGRA_LO", "RAD_LO", "RAD_HI")
MIN_AREA = 1e-6 * u.m**2


def _check_same_binning(name: str, hdus: list[fits.BinTableHDU]) -> None:
    for column in AXIS_COLUMNS:
        if column in hdus[0].columns.names:
            a, b = (np.asarray(h.data[column][0]) for h in hdus)
            if a.shape != b.shape or not np.allclose(a, b):
                raise InputFileError(f"IRF interpolation: {name} {column} differs between nodes")


def _effective_area(grid, stack, target):
    area = u.Quantity(stack, u.m**2)
    estimator = EffectiveAreaEstimator(grid, area, min_effective_area=MIN_AREA)
    result = estimator(target)[0].to_value(u.m**2)
    result[np.any(stack <= 0, axis=0)] = 0.0
    result[np.any(~np.isfinite(stack), axis=0)] = np.nan
    return result


def _pdf(
    estimator_cls,
    grid,
    bins,
    stack,
    target,
    axis,
    unit=None,
    interpolator_cls=MomentMorphInterpolator,
):
    """Discrete-PDF interpolation; bins whose PDF is empty at either node stay empty."""
    clean = np.nan_to_num(stack)
    empty = np.any(clean.sum(axis=axis, keepdims=True) <= 0, axis=0)
    safe = np.where(np.broadcast_to(empty, clean.shape[1:])[None], 1.0, clean)
    with np.errstate(all="ignore"):
        pdf = safe if unit is None else u.Quantity(safe, unit)
        estimator = estimator_cls(grid, bins, pdf, axis=axis, interpolator_cls=interpolator_cls)
        result = estimator(target)[0]
    result = np.nan_to_num(np.asarray(u.Quantity(result).value))
    return np.where(np.broadcast_to(empty, result.shape), 0.0, result)


def _interpolate_hdu(name, hdus, grid, target):
    column = IRF_COLUMNS[name]
    stack = np.stack([np.asarray(h.data[column][0], dtype=np.float64) for h in hdus])
    if name == "EFFECTIVE AREA":
        return _effective_area(grid, stack, target)
    if name == "ENERGY DISPERSION":
        data = hdus[0].data
        bins = np.append(data["MIGRA_LO"][0], data["MIGRA_HI"][0][-1])
        return _pdf(EnergyDispersionEstimator, grid, bins, stack, target, axis=-2)
    if name == "PSF":
        data = hdus[0].data
        bins = u.Quantity(np.append(data["RAD_LO"][0], data["RAD_HI"][0][-1]), u.deg)
        return _pdf(
            PSFTableEstimator,
            grid,
            bins,
            stack,
            target,
            axis=1,
            unit=u.sr**-1,
            interpolator_cls=QuantileInterpolator,
        )
    if name == "RAD_MAX":
        return np.asarray(u.Quantity(RadMaxEstimator(grid, stack)(target)[0]).value)
    return GridDataInterpolator(grid, stack).interpolate(target)[0]


def _interpolate_cut(tables, cos_nodes, cos_target, fill):
    if not all(
        np.allclose(u.Quantity(t["low"]).value, u.Quantity(tables[0]["low"]).value) for t in tables
    ):
        raise InputFileError("IRF interpolation: the cut binning differs between nodes")
    w = (cos_target - cos_nodes[0]) / (cos_nodes[1] - cos_nodes[0])
    cuts = [u.Quantity(t["cut"]) for t in tables]
    out = tables[0].copy()
    value = (1 - w) * cuts[0] + w * cuts[1]
    if fill is not None:
        value = np.where((cuts[0] == fill) | (cuts[1] == fill), fill, value)
    out["cut"] = value
    out.meta["INTERP"] = "linear in cos(zenith)"
    return out


def interpolate_irf_files(
    files: list[IRFFile], cos_zenith_nodes: list[float], cos_zenith: float
) -> IRFFile:
    """
    IRFs and cuts at ``cos_zenith`` from two nodes.

    Parameters
    ----------
    files : list of IRFFile
        The two nodes' IRF files (`iactpipe.dl3.read_irf_file`).
    cos_zenith_nodes : list of float
        cos(zenith) of the two nodes (different).
    cos_zenith : float
        Target cos(zenith) (between the nodes; at a node the result is that node,
        unchanged: the PDF interpolators only approximate a node's PDF).

    Returns
    -------
    IRFFile
        The first file with interpolated IRF HDUs and cuts.

    Raises
    ------
    InputFileError
        Different selection fingerprints, IRF types, HDUs or binnings.
    """
    if len(files) != 2 or np.isclose(cos_zenith_nodes[0], cos_zenith_nodes[1]):
        raise InputFileError("IRF interpolation needs two nodes at different zeniths")
    if cos_zenith_nodes[0] > cos_zenith_nodes[1]:  # pyirf's 1D search wants ascending
        files, cos_zenith_nodes = files[::-1], cos_zenith_nodes[::-1]
    a, b = files
    if a.selection_fingerprint != b.selection_fingerprint or a.irf_type != b.irf_type:
        raise InputFileError(
            f"IRF interpolation: {a.path} and {b.path} differ in event selection or IRF type"
        )
    names_a, names_b = [h.name for h in a.hdus], [h.name for h in b.hdus]
    if names_a != names_b:
        raise InputFileError(f"IRF interpolation: HDUs differ ({names_a} vs {names_b})")
    for node, cos_node in zip(files, cos_zenith_nodes, strict=True):
        if abs(cos_zenith - cos_node) < 1e-9:  # at a node: that node, bin for bin
            return node
    grid = np.array(cos_zenith_nodes, dtype=np.float64).reshape(2, 1)
    target = np.array([[cos_zenith]], dtype=np.float64)
    hdus = []
    for hdu_a, hdu_b in zip(a.hdus, b.hdus, strict=True):
        _check_same_binning(hdu_a.name, [hdu_a, hdu_b])
        data = hdu_a.data.copy()
        value = _interpolate_hdu(hdu_a.name, [hdu_a, hdu_b], grid, target)
        data[IRF_COLUMNS[hdu_a.name]][0] = value
        header = hdu_a.header.copy()
        header["IRF_INTP"] = ("cos(zenith)", "interpolated between two library nodes")
        hdus.append(fits.BinTableHDU(data=data, header=header))
    gh = _interpolate_cut([a.gh_cuts, b.gh_cuts], cos_zenith_nodes, cos_zenith, 1.0)
    theta = _interpolate_cut([a.theta_cuts, b.theta_cuts], cos_zenith_nodes, cos_zenith, None)
    return replace(a, hdus=hdus, gh_cuts=gh, theta_cuts=theta, gh_efficiency=None)
