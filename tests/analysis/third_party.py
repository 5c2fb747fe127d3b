"""
GADF DL3 data sets of "another instrument", made without any iactpipe code: events
sampled by gammapy's ``MapDatasetEventSampler`` from the CTAO prod5 IRFs
(../shared/data/irf, full enclosure: multi-Gauss PSF, BKG_3D) or from IRFs derived
from them, written by gammapy's ``Observation.write`` and indexed by gammapy's
``DataStore.from_events_files`` (HDU rows corrected for what each file holds, since
gammapy's index maker assumes PSF_3GAUSS and BKG_3D).

IRF kinds (`write_third_party_dl3` arguments):

- ``kind="full-enclosure"``: ``psf="3gauss"`` (the prod5 file) or ``"table"``
  (PSF_TABLE, gammapy ``to_psf3d``); ``bkg="3d"`` (the prod5 BKG_3D), ``"2d"``
  (BKG_2D, gammapy ``to_2d``) or ``None``.
- ``kind="point-like"``: the effective area is the full-enclosure one times the PSF
  containment inside the cut, ``rad_max="energy"`` (RAD_MAX_2D HDU: the PSF 68 %
  containment radius per energy and offset, clipped to 0.05-0.25 deg) or ``"fixed"``
  (no RAD_MAX HDU, a ``RAD_MAX`` = 0.12 deg header keyword in the AEFF and EDISP HDUs,
  read by gammapy's ``RadMax2D.from_irf``); ``bkg=None`` (what pyirf, lstchain and
  MAGIC write) or ``"3d"``/``"2d"``. The events are the same physical events as in
  the full-enclosure case (background included): only the IRFs differ.

Sources (``source=``): ``"point"``, a Crab-like log-parabola (`CRAB_LP`, the MAGIC
2015 Crab) at `SOURCE`; ``"gaussian"`` (sigma `GAUSS_SIGMA`) or ``"shell"`` (radius
`SHELL_RADIUS`, width `SHELL_WIDTH`) with the same spectrum; ``None``: background only.

Runs: one per entry of ``offsets`` (wobble offsets, position angles 0, 90, 180, 270 deg
in turn), ``livetime`` each, one every ``livetime`` + 2 min from ``start`` (one night).
Geometry for the sampling is coarse (0.04 deg pixels, 4 deg wide, 6 reco / 10 true energy
bins per decade above 0.1 TeV): a few seconds per run.
"""

from __future__ import annotations

import functools
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time

__all__ = ["CRAB_LP", "PROD5_NORTH", "SOURCE", "crab_lp", "source_model", "write_third_party_dl3"]

REPO = Path(__file__).resolve().parents[2]
#: ../shared/data beside the repository (or beside the folder of git worktrees)
SHARED_DATA = next(
    (
        p
        for p in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data")
        if p.is_dir()
    ),
    REPO.parent / "shared" / "data",
)
PROD5_NORTH = SHARED_DATA / "irf" / "Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz"
#: source position (the Crab)
SOURCE = SkyCoord(83.63308, 22.0145, unit="deg", frame="icrs")
#: MAGIC 2015 Crab log-parabola in gammapy's convention (ln): dN/dE = A (E/1 TeV)^(-alpha
#: - beta ln(E/1 TeV)), beta = 0.24 / ln 10
CRAB_LP = {
    "amplitude": 3.23e-11 * u.Unit("TeV-1 cm-2 s-1"),
    "reference": 1 * u.TeV,
    "alpha": 2.47,
    "beta": 0.24 / np.log(10),
}
GAUSS_SIGMA = 0.2 * u.deg
SHELL_RADIUS, SHELL_WIDTH = 0.3 * u.deg, 0.1 * u.deg
#: the fixed RAD_MAX of the point-like "fixed" variant
FIXED_RAD_MAX = 0.12 * u.deg
#: energy-dependent RAD_MAX: 68 % PSF containment clipped to this range
RAD_MAX_RANGE = (0.05 * u.deg, 0.25 * u.deg)


def crab_lp(scale: float = 1.0):
    """`CRAB_LP` as a gammapy ``LogParabolaSpectralModel`` (amplitude times ``scale``)."""
    from gammapy.modeling.models import LogParabolaSpectralModel

    return LogParabolaSpectralModel(
        amplitude=scale * CRAB_LP["amplitude"],
        reference=CRAB_LP["reference"],
        alpha=CRAB_LP["alpha"],
        beta=CRAB_LP["beta"],
    )


def source_model(source: str | None, scale: float = 1.0):
    """The injected gammapy ``SkyModel`` named "source" (None for ``source=None``)."""
    from gammapy.modeling.models import (
        GaussianSpatialModel,
        PointSpatialModel,
        ShellSpatialModel,
        SkyModel,
    )

    if source is None:
        return None
    lon, lat = SOURCE.ra, SOURCE.dec
    spatial = {
        "point": lambda: PointSpatialModel(lon_0=lon, lat_0=lat, frame="icrs"),
        "gaussian": lambda: GaussianSpatialModel(
            lon_0=lon, lat_0=lat, sigma=GAUSS_SIGMA, frame="icrs"
        ),
        "shell": lambda: ShellSpatialModel(
            lon_0=lon, lat_0=lat, radius=SHELL_RADIUS, width=SHELL_WIDTH, frame="icrs"
        ),
    }[source]()
    return SkyModel(spectral_model=crab_lp(scale), spatial_model=spatial, name="source")


def _point_like_irfs(irfs: dict, rad_max: str) -> dict:
    """AEFF times the PSF containment within RAD_MAX; EDISP marked point-like."""
    from gammapy.irf import EffectiveAreaTable2D, EnergyDispersion2D, RadMax2D

    aeff, psf = irfs["aeff"], irfs["psf"]
    energy, offset = aeff.axes["energy_true"], aeff.axes["offset"]
    e, o = energy.center[:, np.newaxis], offset.center[np.newaxis, :]
    if rad_max == "energy":
        r68 = psf.containment_radius(0.68, energy_true=e, offset=o).to(u.deg)
        radius = (
            np.clip(
                np.nan_to_num(r68.value, nan=RAD_MAX_RANGE[1].value),
                *(r.to_value(u.deg) for r in RAD_MAX_RANGE),
            )
            * u.deg
        )
        meta = {}
    else:
        radius = np.full((energy.nbin, offset.nbin), FIXED_RAD_MAX.to_value(u.deg)) * u.deg
        meta = {"RAD_MAX": float(FIXED_RAD_MAX.to_value(u.deg))}
    containment = u.Quantity(psf.containment(rad=radius, energy_true=e, offset=o)).value
    containment = np.nan_to_num(containment)
    point_aeff = EffectiveAreaTable2D(
        axes=aeff.axes,
        data=aeff.quantity * containment,
        is_pointlike=True,
        meta={**aeff.meta, **meta},
    )
    edisp = irfs["edisp"]
    point_edisp = EnergyDispersion2D(
        axes=edisp.axes, data=edisp.quantity, is_pointlike=True, meta={**edisp.meta, **meta}
    )
    out = {"aeff": point_aeff, "edisp": point_edisp}
    if rad_max == "energy":
        out["rad_max"] = RadMax2D(
            axes=[energy.copy(name="energy"), offset],
            data=radius.value,
            unit=u.deg,
            is_pointlike=True,
        )
    return out


@functools.lru_cache(maxsize=16)
def written_irfs(irf_file: Path, kind: str, psf: str, bkg: str | None, rad_max: str) -> dict:
    """The IRFs of one kind, from the full-enclosure ones of ``irf_file`` (cached)."""
    irfs = load_irfs(irf_file)
    if kind == "point-like":
        out = _point_like_irfs(irfs, rad_max)
    elif kind == "full-enclosure":
        out = {
            "aeff": irfs["aeff"],
            "edisp": irfs["edisp"],
            "psf": irfs["psf"] if psf == "3gauss" else irfs["psf"].to_psf3d(),
        }
    else:
        raise ValueError(f"kind {kind!r}: full-enclosure or point-like")
    if bkg is not None:
        out["bkg"] = irfs["bkg"] if bkg == "3d" else irfs["bkg"].to_2d()
    return out


@functools.lru_cache(maxsize=2)
def load_irfs(irf_file: Path) -> dict:
    """The full-enclosure IRFs of ``irf_file``, empty background bins interpolated (once)."""
    from gammapy.irf import load_irf_dict_from_file

    irfs = load_irf_dict_from_file(irf_file)
    irfs["bkg"].interp_missing_data(axis_name="energy")
    return irfs


@functools.lru_cache(maxsize=64)
def sampled_events(
    irf_file: Path,
    run: int,
    offset_deg: float,
    source: str | None,
    flux_scale: float,
    livetime_s: float,
    seed: int,
    start: str,
):
    """
    Events of run number ``run`` (0, 1, ...): source model + the IRF background,
    sampled by gammapy from the full-enclosure IRFs; cached, so that every IRF kind of a
    test session has the same events.
    """
    from gammapy.data import Observation
    from gammapy.datasets import MapDataset, MapDatasetEventSampler
    from gammapy.makers import MapDatasetMaker
    from gammapy.maps import MapAxis, WcsGeom
    from gammapy.modeling.models import FoVBackgroundModel, Models

    kwargs = _run_kwargs(run, offset_deg * u.deg, livetime_s * u.s, start)
    obs = Observation.create(irfs=load_irfs(irf_file), **kwargs)
    energy = MapAxis.from_energy_bounds(0.1, 100, 6, per_decade=True, unit="TeV", name="energy")
    true = MapAxis.from_energy_bounds(
        0.05, 150, 10, per_decade=True, unit="TeV", name="energy_true"
    )
    migra = MapAxis.from_bounds(0.2, 5, nbin=60, node_type="edges", name="migra")
    geom = WcsGeom.create(
        skydir=kwargs["pointing"].fixed_icrs,
        width=4 * u.deg,
        binsz=0.04,
        frame="icrs",
        axes=[energy],
    )
    empty = MapDataset.create(geom, energy_axis_true=true, migra_axis=migra, name="sampled")
    maker = MapDatasetMaker(
        selection=["exposure", "background", "psf", "edisp"], background_interp_missing_data=False
    )  # done in `load_irfs`
    dataset = maker.run(empty, obs)
    model = source_model(source, flux_scale)
    dataset.models = Models(
        ([model] if model else []) + [FoVBackgroundModel(dataset_name=dataset.name)]
    )
    return MapDatasetEventSampler(random_state=seed).run(dataset, obs)


def _run_kwargs(run: int, offset: u.Quantity, livetime: u.Quantity, start: str) -> dict:
    """``Observation.create`` arguments of run number ``run`` (wobble angle 90 deg x run)."""
    from gammapy.data import FixedPointingInfo, observatory_locations

    pointing = SOURCE.directional_offset_by(90 * u.deg * (run % 4), offset)
    return {
        "pointing": FixedPointingInfo(fixed_icrs=pointing),
        "livetime": livetime,
        "location": observatory_locations["cta_north"],
        "obs_id": 100 + run,
        "tstart": Time(start) + run * (livetime + 2 * u.min),
    }


def _index(directory: Path, paths: list[Path], irf_path: Path, written: dict) -> None:
    """gammapy's HDU and OBS index, HDU rows fixed to what the files hold."""
    from gammapy.data import DataStore
    from gammapy.irf.io import IRF_DL3_HDU_SPECIFICATION

    store = DataStore.from_events_files(paths, irfs_paths=[irf_path] * len(paths))
    hdu = store.hdu_table
    keep = np.ones(len(hdu), dtype=bool)
    for i, row in enumerate(hdu):
        irf = written.get(str(row["HDU_TYPE"]).strip())
        if irf is not None:
            hdu["HDU_CLASS"][i] = irf.tag
            hdu["HDU_NAME"][i] = IRF_DL3_HDU_SPECIFICATION[irf.tag]["extname"]
        keep[i] = irf is not None or row["HDU_TYPE"] in ("events", "gti")
    hdu = hdu[keep]
    if "rad_max" in written:
        for path in paths:
            obs_id = int(fits.getheader(path, "EVENTS")["OBS_ID"])
            hdu.add_row(
                {
                    "OBS_ID": obs_id,
                    "HDU_TYPE": "rad_max",
                    "HDU_CLASS": "rad_max_2d",
                    "FILE_DIR": ".",
                    "FILE_NAME": irf_path.name,
                    "HDU_NAME": "RAD_MAX",
                }
            )
        hdu.sort(["OBS_ID"])
    # relative FILE_DIR, as index files usually are (the directory can be moved)
    hdu["FILE_DIR"] = ["." for _ in range(len(hdu))]
    hdu.write(directory / "hdu-index.fits.gz", overwrite=True)
    store.obs_table.write(directory / "obs-index.fits.gz", overwrite=True)


def write_third_party_dl3(
    directory: Path | str,
    kind: str = "full-enclosure",
    offsets=(0.5 * u.deg, 0.5 * u.deg),
    source: str | None = "point",
    livetime: u.Quantity = 3 * u.min,
    psf: str = "3gauss",
    bkg: str | None = "auto",
    rad_max: str = "energy",
    flux_scale: float = 1.0,
    seed: int = 1,
    start: str = "2024-01-10T22:00:00",
    irf_file: Path = PROD5_NORTH,
) -> Path:
    """
    Write one run per wobble offset and gammapy's index files into ``directory``.

    Parameters
    ----------
    directory : Path
        Output directory (created).
    kind : {"full-enclosure", "point-like"}
        IRF kind written (the events are sampled from the full-enclosure IRFs).
    offsets : sequence of Quantity
        Wobble offset of each run.
    source : {"point", "gaussian", "shell", None}
        Injected source (`source_model`).
    livetime : Quantity
        Live time of each run.
    psf : {"3gauss", "table"}
        PSF HDU of full-enclosure runs.
    bkg : {"auto", "3d", "2d", None}
        Background HDU; "auto": "3d" for full enclosure, None for point-like.
    rad_max : {"energy", "fixed"}
        Point-like cut: RAD_MAX_2D HDU, or a fixed RAD_MAX header keyword.
    flux_scale : float
        Source amplitude in units of `CRAB_LP`.
    seed : int
        Random seed of the first run (run i uses ``seed + i``).
    start : str
        Start of the first run (ISO, UTC).
    irf_file : Path
        Full-enclosure GADF IRF file.

    Returns
    -------
    Path
        ``directory``; files ``obs<OBS_ID>.fits.gz`` (OBS_ID 100, 101, ...).
    """
    from gammapy.data import Observation

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if bkg == "auto":
        bkg = "3d" if kind == "full-enclosure" else None
    written = written_irfs(Path(irf_file), kind, psf, bkg, rad_max)
    # the IRFs once for all runs (as CTAO's data challenges do), not compressed: writing
    # the prod5 energy dispersion per run costs seconds
    irf_path = directory / "irfs.fits"
    hdus = [fits.PrimaryHDU()] + [irf.to_table_hdu(format="gadf-dl3") for irf in written.values()]
    fits.HDUList(hdus).writeto(irf_path, overwrite=True)
    paths = []
    for i, offset in enumerate(offsets):
        offset_deg = float(u.Quantity(offset).to_value(u.deg))
        events = sampled_events(
            Path(irf_file),
            i,
            offset_deg,
            source,
            float(flux_scale),
            float(livetime.to_value(u.s)),
            seed + i,
            start,
        )
        obs = Observation.create(
            irfs=written, **_run_kwargs(i, offset_deg * u.deg, livetime, start)
        )
        obs._events = events  # gammapy's own simulation recipe sets it the same way
        path = directory / f"obs{100 + i:06d}.fits.gz"
        obs.write(path, include_irfs=False, overwrite=True)
        paths.append(path)
    _index(directory, paths, irf_path, written)
    return directory
