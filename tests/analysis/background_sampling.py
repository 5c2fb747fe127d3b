"""
Background-only runs sampled directly from a GADF background IRF (the CTAO prod5
``BKG`` of ../shared/data/irf, a RA/Dec-aligned Background3D), in memory as gammapy
``Observation`` objects: Poisson counts in fine (energy, FoV lon, FoV lat) cells, each
event uniform in its cell. Also the true mean rate of the IRF over any coarser
(energy, offset) or (energy, lon, lat) binning, integrated on the same fine cells, so
that the acceptance model made from the events is compared bin by bin with the truth.
Used by tests/analysis/test_acceptance.py and benchmarks/acceptance_model.py.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

REPO = Path(__file__).resolve().parents[2]
_NAME = "Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz"
#: the prod5 IRF in ../shared/data beside the repository (or beside the worktrees' folder)
PROD5 = next(
    (
        d / "shared" / "data" / "irf" / _NAME
        for d in (REPO.parent, REPO.parents[1])
        if (d / "shared" / "data" / "irf" / _NAME).exists()
    ),
    REPO.parent / "shared" / "data" / "irf" / _NAME,
)

FINE_DEG = 0.05
ENERGY_EDGES = np.geomspace(0.05, 100, 67) * u.TeV  # 20 per decade


def fine_cells(bkg, half_width_deg: float = 3.0):
    """Fine cell centres (energy, lon, lat) and expected rate x solid angle x dE (s-1)."""
    e_lo, e_hi = ENERGY_EDGES[:-1], ENERGY_EDGES[1:]
    e_c = np.sqrt(e_lo * e_hi)
    x = np.arange(-half_width_deg + FINE_DEG / 2, half_width_deg, FINE_DEG)
    lon, lat = np.meshgrid(x, x, indexing="ij")
    rate = bkg.evaluate(energy=e_c[:, None, None], fov_lon=lon * u.deg, fov_lat=lat * u.deg)
    omega = np.deg2rad(FINE_DEG) ** 2 * np.cos(np.deg2rad(lat))
    per_s = (rate * (e_hi - e_lo)[:, None, None]).to_value("s-1 sr-1") * omega
    return e_lo, e_hi, lon, lat, per_s


def sample_run(
    bkg,
    obs_id: int,
    pointing: SkyCoord,
    livetime: u.Quantity,
    tstart: Time,
    rng: np.random.Generator,
    location,
    extra: SkyCoord | None = None,
):
    """One background-only run (plus the ``extra`` events, e.g. a fake source)."""
    from gammapy.data import GTI, EventList, FixedPointingInfo, Observation
    from gammapy.utils.coordinates import FoVICRSFrame
    from gammapy.utils.time import time_ref_to_dict

    e_lo, e_hi, lon, lat, per_s = fine_cells(bkg)
    n = rng.poisson(per_s * livetime.to_value(u.s))
    idx = np.repeat(np.arange(n.size), n.ravel())
    ie, il = np.unravel_index(idx, n.shape)[0], np.unravel_index(idx, n.shape)[1:]
    ev_lon = lon[il] + (rng.random(idx.size) - 0.5) * FINE_DEG
    ev_lat = lat[il] + (rng.random(idx.size) - 0.5) * FINE_DEG
    log_e = np.log(e_lo[ie].value) + rng.random(idx.size) * np.log(e_hi[ie] / e_lo[ie]).value
    sky = SkyCoord(ev_lon * u.deg, ev_lat * u.deg, frame=FoVICRSFrame(origin=pointing)).icrs
    ra, dec, energy = sky.ra.deg, sky.dec.deg, np.exp(log_e)
    if extra is not None:
        ra = np.concatenate([ra, extra.ra.deg])
        dec = np.concatenate([dec, extra.dec.deg])
        energy = np.concatenate([energy, np.full(len(extra), 1.0)])
    reference = Time("2024-01-01T00:00:00", scale="utc")
    meta = {**time_ref_to_dict(reference), "TIMEUNIT": "s", "TIMEREF": "LOCAL", "DEADC": 1.0}
    # the GADF keywords gammapy's DataStore needs to read the run back from a file
    meta.update(
        {
            "OBS_ID": obs_id,
            "RA_PNT": pointing.ra.deg,
            "DEC_PNT": pointing.dec.deg,
            "GEOLON": location.lon.deg,
            "GEOLAT": location.lat.deg,
            "ALTITUDE": location.height.to_value(u.m),
            "ONTIME": livetime.to_value(u.s),
            "LIVETIME": livetime.to_value(u.s),
        }
    )
    offset_s = (tstart - reference).to_value(u.s)
    meta.update({"TSTART": offset_s, "TSTOP": offset_s + livetime.to_value(u.s)})
    time = offset_s + rng.random(len(ra)) * livetime.to_value(u.s)
    table = Table(
        {
            "EVENT_ID": np.arange(len(ra)),
            "TIME": reference + time * u.s,
            "RA": ra * u.deg,
            "DEC": dec * u.deg,
            "ENERGY": energy * u.TeV,
        },
        meta=meta,
    )
    gti = GTI.create(
        start=[offset_s] * u.s, stop=[offset_s] * u.s + livetime, reference_time=reference
    )
    return Observation(
        obs_id=obs_id,
        gti=gti,
        events=EventList(table),
        pointing=FixedPointingInfo(fixed_icrs=pointing),
        location=location,
    )


def true_rate(model, bkg, kind: str, n_sub: int = 8) -> np.ndarray:
    """
    Mean true rate (MeV-1 s-1 sr-1) in the bins of the acceptance ``model`` (radial or
    fov): the IRF integrated over each energy bin (``n_sub`` log steps) and averaged over
    the solid angle of each spatial bin on the fine grid.
    """
    x = np.arange(-3 + FINE_DEG / 2, 3, FINE_DEG)
    lon, lat = np.meshgrid(x, x, indexing="ij")
    omega = np.deg2rad(FINE_DEG) ** 2 * np.cos(np.deg2rad(lat))
    edges_e = model.axes["energy"].edges
    if kind == "radial":
        offset = np.rad2deg(np.arccos(np.cos(np.deg2rad(lon)) * np.cos(np.deg2rad(lat))))
        spatial = [np.digitize(offset, model.axes["offset"].edges.to_value(u.deg)) - 1]
    else:
        edges = model.axes["fov_lon"].edges.to_value(u.deg)
        spatial = [np.digitize(lon, edges) - 1, np.digitize(lat, edges) - 1]
    shape = tuple(model.data.shape[1:])
    inside = np.all([(s >= 0) & (s < n) for s, n in zip(spatial, shape, strict=True)], 0)
    index = tuple(s[inside] for s in spatial)
    solid = np.zeros(shape)
    np.add.at(solid, index, omega[inside])
    result = np.zeros(model.data.shape)
    for k in range(len(edges_e) - 1):
        sub = np.geomspace(edges_e[k], edges_e[k + 1], n_sub + 1)
        centre, width = np.sqrt(sub[:-1] * sub[1:]), np.diff(sub)
        rate = bkg.evaluate(energy=centre[:, None, None], fov_lon=lon * u.deg, fov_lat=lat * u.deg)
        mean = (rate * width[:, None, None]).sum(0) / (edges_e[k + 1] - edges_e[k])
        np.add.at(result[k], index, (mean.to_value("MeV-1 s-1 sr-1") * omega)[inside])
    with np.errstate(invalid="ignore", divide="ignore"):
        return result / solid


def load_prod5_bkg():
    """The prod5 North background IRF (Background3D, RA/Dec aligned)."""
    from gammapy.irf import load_irf_dict_from_file

    return load_irf_dict_from_file(PROD5)["bkg"]
