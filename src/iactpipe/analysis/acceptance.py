"""
Background acceptance model made from the runs themselves: the rate of events per
energy, solid angle and live time across the field of view, measured on the runs' own
events outside the exclusion regions, for data whose IRFs carry no background
(point-like DL3 of pyirf, lstchain, MAGIC) or when the IRF background is not trusted.

Method (that of BAccMod, the acceptance modelisation package of the LST-1 analyses):

- each run's events are put in field-of-view coordinates, the offset from the pointing
  (`RadialBackgroundAcceptanceModel`, a GADF ``BKG_2D``) or (lon, lat) in the FoV frame
  aligned with Alt/Az or RA/Dec (`FoV2DBackgroundAcceptanceModel`, a GADF ``BKG_3D``);
- events inside the exclusion regions are dropped and the solid angle of each bin is
  reduced by the excluded part (evaluated on a finer grid; for Alt/Az alignment at
  several times during the run, since the sky turns in the camera);
- the runs are grouped in bins of cos(zenith), each bin holding at least
  ``zenith_min_livetime``; in a bin counts and live-time-weighted solid angles are summed
  (stacking over runs with their live time) and divided: rate = N / (T Omega dE);
- the model of a run is the linear interpolation in cos(zenith) between the bins' mean
  cos(zenith) (clamped outside).

BAccMod itself (``baccmod`` 0.4.1) is not a dependency: it requires ``numpy<2.5`` and
``astropy<8`` and so would downgrade both in iactpipe's environment (numpy 2.5,
astropy 8); see docs/analysis.rst. The NSB level is not a binning variable yet (third
party DL3 carry no NSB column).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity, CaselessStrEnum, Int

from ..io.traits import BoundedQuantity

__all__ = [
    "BackgroundAcceptanceModel",
    "FoV2DBackgroundAcceptanceModel",
    "RadialBackgroundAcceptanceModel",
    "ZenithBinnedAcceptance",
    "cos_zenith_groups",
    "interpolation_weights",
    "observation_cos_zenith",
    "write_background_files",
]


def cos_zenith_groups(cos_zenith: np.ndarray, livetime_s: np.ndarray, min_livetime_s: float):
    """
    Runs grouped in contiguous cos(zenith) bins of at least ``min_livetime_s`` each.

    Runs are sorted by cos(zenith) and accumulated until a group holds the minimum
    live time; a last group short of it joins the previous one. Returns a list of index
    arrays into the input.
    """
    order = np.argsort(-np.asarray(cos_zenith, dtype=float), kind="stable")
    groups, current, total = [], [], 0.0
    for i in order:
        current.append(i)
        total += float(livetime_s[i])
        if total >= min_livetime_s:
            groups.append(np.array(current))
            current, total = [], 0.0
    if current:
        if groups:
            groups[-1] = np.concatenate([groups[-1], current])
        else:
            groups.append(np.array(current))
    return groups


def interpolation_weights(nodes: np.ndarray, x: float) -> np.ndarray:
    """Weights of the linear interpolation at ``x`` between ``nodes`` (clamped at the ends)."""
    nodes = np.asarray(nodes, dtype=float)
    weights = np.zeros(len(nodes))
    order = np.argsort(nodes)
    sorted_nodes = nodes[order]
    if x <= sorted_nodes[0] or len(nodes) == 1:
        weights[order[0]] = 1.0
    elif x >= sorted_nodes[-1]:
        weights[order[-1]] = 1.0
    else:
        j = np.searchsorted(sorted_nodes, x)
        frac = (x - sorted_nodes[j - 1]) / (sorted_nodes[j] - sorted_nodes[j - 1])
        weights[order[j - 1]], weights[order[j]] = 1.0 - frac, frac
    return weights


def observation_cos_zenith(obs) -> float:
    """cos(zenith) of a run's pointing at mid time (from the pointing, else the header)."""
    try:
        altaz = obs.get_pointing_altaz(obs.tmid)
        return float(np.sin(altaz.alt.to_value(u.rad)))
    except Exception:
        meta = obs.events.table.meta
        if "ALT_PNT" in meta:
            return float(np.sin(np.deg2rad(float(meta["ALT_PNT"]))))
        if "ZEN_PNT" in meta:
            return float(np.cos(np.deg2rad(float(meta["ZEN_PNT"]))))
        raise ValueError(f"obs {obs.obs_id}: no pointing zenith (location or ALT_PNT)") from None


def _allowed(exclusion_mask, coords: SkyCoord) -> np.ndarray:
    """True where ``coords`` are outside the exclusion regions (gammapy mask: True = keep)."""
    if exclusion_mask is None:
        return np.ones(coords.shape, dtype=bool)
    mask = exclusion_mask
    if mask.geom.axes:
        mask = mask.reduce_over_axes(func=np.logical_and)
    values = mask.get_by_coord({"skycoord": coords}, fill_value=1)
    return np.asarray(values, dtype=float) > 0.5


@dataclass
class ZenithBinnedAcceptance:
    """Acceptance models in bins of cos(zenith), interpolated for each run."""

    cos_zenith: np.ndarray
    models: list
    livetime: u.Quantity
    obs_ids: list = field(default_factory=list)

    def evaluate_cos_zenith(self, cos_zenith: float):
        """Background IRF interpolated linearly in cos(zenith) (clamped outside)."""
        weights = interpolation_weights(self.cos_zenith, cos_zenith)
        first = self.models[0]
        data = sum(w * m.quantity for w, m in zip(weights, self.models, strict=True))
        return first.__class__(
            axes=first.axes, data=data.value, unit=data.unit, **_alignment_kwargs(first)
        )

    def for_observation(self, obs):
        """The background IRF of ``obs`` (interpolated at its cos zenith)."""
        return self.evaluate_cos_zenith(observation_cos_zenith(obs))

    def attach(self, observations) -> list:
        """Copies of ``observations`` whose background is this model (in memory)."""
        return [obs.copy(in_memory=True, bkg=self.for_observation(obs)) for obs in observations]


def _alignment_kwargs(irf) -> dict:
    return {"fov_alignment": irf.fov_alignment} if hasattr(irf, "fov_alignment") else {}


class BackgroundAcceptanceModel(Component):
    """
    Base of the background acceptance models made from the runs' own events (see the
    module docstring). Implementations fill per-run counts and exposure histograms.
    """

    energy_min = BoundedQuantity(
        min=0 * u.TeV,
        exclusive_min=True,
        default_value=0.05 * u.TeV,
        physical_type=u.physical.energy,
        help="Lower edge of the model's reconstructed-energy axis",
    ).tag(config=True)
    energy_max = BoundedQuantity(
        min=0 * u.TeV,
        exclusive_min=True,
        default_value=100 * u.TeV,
        physical_type=u.physical.energy,
        help="Upper edge of the model's reconstructed-energy axis",
    ).tag(config=True)
    energy_bins_per_decade = Int(5, min=1, help="Energy bins per decade of the model").tag(
        config=True
    )
    offset_max = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=2.5 * u.deg,
        physical_type=u.physical.angle,
        help="Field-of-view radius (radial) or half width (2D) covered by the model",
    ).tag(config=True)
    bin_size = BoundedQuantity(
        min=0 * u.deg,
        exclusive_min=True,
        default_value=0.1 * u.deg,
        physical_type=u.physical.angle,
        help="Spatial bin of the model (offset, or FoV lon and lat)",
    ).tag(config=True)
    oversampling = Int(
        5,
        min=1,
        help="Sub-pixels per bin (per axis) on which the excluded solid angle is evaluated",
    ).tag(config=True)
    zenith_min_livetime = AstroQuantity(
        default_value=1.0 * u.h,
        physical_type=u.physical.time,
        help="Minimum live time of a cos(zenith) bin (runs are grouped until they reach it)",
    ).tag(config=True)

    def energy_axis(self):
        """Reconstructed-energy axis of the model."""
        from gammapy.maps import MapAxis

        return MapAxis.from_energy_bounds(
            self.energy_min,
            self.energy_max,
            self.energy_bins_per_decade,
            per_decade=True,
            name="energy",
        )

    def _spatial_edges(self) -> u.Quantity:
        n = int(np.ceil((self.offset_max / self.bin_size).to_value(u.one) - 1e-9))
        return np.arange(-n, n + 1) * self.bin_size.to(u.deg)

    def _fine_grid(self):
        """Sub-pixel centres (lon, lat) covering the model and their solid angles."""
        edges = self._spatial_edges().to_value(u.deg)
        step = (edges[1] - edges[0]) / self.oversampling
        centres = np.arange(edges[0] + step / 2, edges[-1], step)
        lon, lat = np.meshgrid(centres, centres, indexing="ij")
        omega = np.deg2rad(step) ** 2 * np.cos(np.deg2rad(lat))
        return lon, lat, omega

    def __call__(self, observations, exclusion_mask=None) -> ZenithBinnedAcceptance:
        """
        Models in cos(zenith) bins from ``observations`` (gammapy), outside
        ``exclusion_mask`` (a gammapy boolean sky map, True where events may be used).
        """
        observations = list(observations)
        if not observations:
            raise ValueError("no observation to make a background acceptance model from")
        energy = self.energy_axis()
        cos_zen = np.array([observation_cos_zenith(obs) for obs in observations])
        livetime = u.Quantity([obs.observation_live_time_duration for obs in observations])
        groups = cos_zenith_groups(
            cos_zen, livetime.to_value(u.s), self.zenith_min_livetime.to_value(u.s)
        )
        models, nodes = [], []
        for group in groups:
            counts, exposure = 0.0, 0.0
            for i in group:
                n, e = self.run_histograms(observations[i], energy, exclusion_mask)
                counts, exposure = counts + n, exposure + e
            models.append(self._irf(energy, counts, exposure))
            nodes.append(np.average(cos_zen[group], weights=livetime[group].to_value(u.s)))
            self.log.info(
                "cos zenith bin %.3f: %d runs, %.0f s, %d events",
                nodes[-1],
                len(group),
                livetime[group].sum().to_value(u.s),
                int(np.sum(counts)),
            )
        return ZenithBinnedAcceptance(
            cos_zenith=np.array(nodes),
            models=models,
            livetime=livetime.sum(),
            obs_ids=[int(o.obs_id) for o in observations],
        )

    def _rate(self, energy, counts, exposure):
        """Rate per energy, solid angle and time (0 where nothing was exposed)."""
        de = energy.bin_width.to_value(u.MeV).reshape((-1,) + (1,) * (counts.ndim - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(exposure > 0, counts / (exposure * de), 0.0)
        return rate, u.Unit("MeV-1 s-1 sr-1")

    @abstractmethod
    def run_histograms(self, obs, energy, exclusion_mask):
        """Counts (energy, spatial...) and exposure (s sr per spatial bin) of one run."""

    @abstractmethod
    def _irf(self, energy, counts, exposure):
        """The gammapy background IRF of a rate histogram."""


class RadialBackgroundAcceptanceModel(BackgroundAcceptanceModel):
    """Radially symmetric acceptance (energy, offset): a GADF ``BKG_2D``."""

    def offset_axis(self):
        """Offset axis from 0 to ``offset_max``."""
        from gammapy.maps import MapAxis

        edges = self._spatial_edges()
        return MapAxis.from_edges(edges[edges >= 0], name="offset")

    def run_histograms(self, obs, energy, exclusion_mask):
        """Counts per (energy, offset) outside the exclusion and exposure per offset."""
        pointing = obs.get_pointing_icrs(obs.tmid)
        events = obs.events.radec
        keep = _allowed(exclusion_mask, events)
        offset = events[keep].separation(pointing).deg
        edges = self.offset_axis().edges.to_value(u.deg)
        counts, _, _ = np.histogram2d(
            obs.events.energy[keep].to_value(u.TeV),
            offset,
            bins=[energy.edges.to_value(u.TeV), edges],
        )
        lon, lat, omega = self._fine_grid()
        frame = _icrs_fov_frame(pointing)
        sky = SkyCoord(lon * u.deg, lat * u.deg, frame=frame).icrs
        allowed = _allowed(exclusion_mask, sky)
        r = np.rad2deg(np.arccos(np.cos(np.deg2rad(lon)) * np.cos(np.deg2rad(lat))))
        total, _ = np.histogram(r, bins=edges, weights=omega)
        kept, _ = np.histogram(r, bins=edges, weights=omega * allowed)
        annulus = 2 * np.pi * (np.cos(np.deg2rad(edges[:-1])) - np.cos(np.deg2rad(edges[1:])))
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(total > 0, kept / total, 0.0)
        livetime = obs.observation_live_time_duration.to_value(u.s)
        return counts, livetime * annulus * fraction

    def _irf(self, energy, counts, exposure):
        from gammapy.irf import Background2D

        rate, unit = self._rate(energy, counts, exposure[np.newaxis, :])
        return Background2D(axes=[energy, self.offset_axis()], data=rate, unit=unit)


class FoV2DBackgroundAcceptanceModel(BackgroundAcceptanceModel):
    """Acceptance in (energy, FoV lon, FoV lat): a GADF ``BKG_3D``."""

    fov_alignment = CaselessStrEnum(
        ["ALTAZ", "RADEC"],
        default_value="ALTAZ",
        help="Orientation of the FoV frame: ALTAZ (the camera's, turns on the sky during a "
        "run) or RADEC",
    ).tag(config=True)
    n_time_steps = Int(
        6, help="Times per run at which the excluded solid angle is evaluated (ALTAZ)"
    ).tag(config=True)

    def fov_axes(self):
        """FoV lon and lat axes, symmetric about the pointing."""
        from gammapy.maps import MapAxis

        edges = self._spatial_edges()
        return MapAxis.from_edges(edges, name="fov_lon"), MapAxis.from_edges(edges, name="fov_lat")

    def _frames(self, obs):
        """(FoV frame, weight) at ``n_time_steps`` times (ALTAZ) or once (RADEC)."""
        if self.fov_alignment == "RADEC":
            return [(_icrs_fov_frame(obs.get_pointing_icrs(obs.tmid)), 1.0)]
        from gammapy.utils.coordinates import FoVAltAzFrame

        start, stop = obs.tstart, obs.tstop
        steps = (np.arange(self.n_time_steps) + 0.5) / self.n_time_steps
        frames = []
        for time in start + (stop - start) * steps:
            origin = obs.get_pointing_altaz(time)
            frames.append(
                (
                    FoVAltAzFrame(origin=origin, location=origin.location, obstime=time),
                    1.0 / self.n_time_steps,
                )
            )
        return frames

    def _event_fov(self, obs):
        """FoV (lon, lat) in deg of the events."""
        events = obs.events.radec
        if self.fov_alignment == "RADEC":
            fov = events.transform_to(_icrs_fov_frame(obs.get_pointing_icrs(obs.tmid)))
        else:
            from astropy.coordinates.erfa_astrom import ErfaAstromInterpolator, erfa_astrom
            from gammapy.utils.coordinates import FoVAltAzFrame

            times = obs.events.time
            # as gammapy does: the astrometry interpolated over 5 min, exact to < 1 arcsec
            with erfa_astrom.set(ErfaAstromInterpolator(300 * u.s)):
                origin = obs.get_pointing_altaz(times)
                location = origin.location
                altaz = events.transform_to(AltAz(location=location, obstime=times))
                frame = FoVAltAzFrame(origin=origin, location=location, obstime=times)
                fov = altaz.transform_to(frame)
        return fov.fov_lon.to_value(u.deg), fov.fov_lat.to_value(u.deg)

    def run_histograms(self, obs, energy, exclusion_mask):
        """Counts per (energy, lon, lat) outside the exclusion and exposure per (lon, lat)."""
        lon_axis, lat_axis = self.fov_axes()
        edges = lon_axis.edges.to_value(u.deg)
        keep = _allowed(exclusion_mask, obs.events.radec)
        lon, lat = self._event_fov(obs)
        sample = np.column_stack([obs.events.energy.to_value(u.TeV), lon, lat])[keep]
        counts, _ = np.histogramdd(sample, bins=[energy.edges.to_value(u.TeV), edges, edges])
        grid_lon, grid_lat, omega = self._fine_grid()
        allowed = np.zeros(grid_lon.shape)
        for frame, weight in self._frames(obs):
            sky = SkyCoord(grid_lon * u.deg, grid_lat * u.deg, frame=frame).icrs
            allowed += weight * _allowed(exclusion_mask, sky)
        kept, _, _ = np.histogram2d(
            grid_lon.ravel(),
            grid_lat.ravel(),
            bins=[edges, edges],
            weights=(omega * allowed).ravel(),
        )
        return counts, obs.observation_live_time_duration.to_value(u.s) * kept

    def _irf(self, energy, counts, exposure):
        from gammapy.irf import Background3D

        lon_axis, lat_axis = self.fov_axes()
        rate, unit = self._rate(energy, counts, exposure[np.newaxis, :, :])
        from gammapy.irf import FoVAlignment

        return Background3D(
            axes=[energy, lon_axis, lat_axis],
            data=rate,
            unit=unit,
            fov_alignment=FoVAlignment(self.fov_alignment.upper()),
        )


def _icrs_fov_frame(pointing: SkyCoord):
    from gammapy.utils.coordinates import FoVICRSFrame

    return FoVICRSFrame(origin=pointing)


def write_background_files(
    acceptance: ZenithBinnedAcceptance,
    observations,
    directory,
    hdu_index=None,
    overwrite: bool = False,
) -> list:
    """
    Write each run's interpolated model as a GADF ``BKG_2D``/``BKG_3D`` file
    ``directory/bkg_obs<OBS_ID>.fits`` (HDU ``BKG``) and, if ``hdu_index`` (a GADF HDU
    index file) is given, point its ``bkg`` rows of these runs to the new files (rows
    added where a run had none), so that ``gammapy.data.DataStore`` reads the model.
    All files are written atomically. Returns the paths written.
    """
    from pathlib import Path

    from astropy.io import fits

    from ..io.atomic import AtomicOutputFile

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for obs in observations:
        irf = acceptance.for_observation(obs)
        hdu = irf.to_table_hdu(format="gadf-dl3")
        hdu.name = "BKG"
        hdu.header["OBS_ID"] = int(obs.obs_id)
        hdu.header["COMMENT"] = "background acceptance model made from the runs (iactpipe)"
        path = directory / f"bkg_obs{int(obs.obs_id):06d}.fits"
        with AtomicOutputFile(path, overwrite=overwrite) as out:
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out.temporary_path)
        paths[int(obs.obs_id)] = (path, "bkg_2d" if irf.has_offset_axis else "bkg_3d")
    if hdu_index is not None:
        _update_hdu_index(Path(hdu_index), paths)
    return [p for p, _ in paths.values()]


def _update_hdu_index(index_path, paths: dict) -> None:
    """Replace (or add) the ``bkg`` rows of the runs in ``paths`` of a GADF HDU index."""
    import os

    from astropy.io import fits
    from astropy.table import Table, vstack

    from ..io.atomic import AtomicOutputFile

    table = Table.read(index_path, hdu="HDU_INDEX")
    hdu_type = np.char.strip(np.asarray(table["HDU_TYPE"], dtype=str))
    old = np.isin(np.asarray(table["OBS_ID"]), list(paths)) & (hdu_type == "bkg")
    rows = [
        {
            "OBS_ID": obs_id,
            "HDU_TYPE": "bkg",
            "HDU_CLASS": clas,
            "FILE_DIR": os.path.relpath(path.parent, index_path.parent),
            "FILE_NAME": path.name,
            "HDU_NAME": "BKG",
        }
        for obs_id, (path, clas) in paths.items()
    ]
    new = Table(rows=rows)
    for name in set(table.colnames) - set(new.colnames):
        new[name] = np.zeros(len(new), dtype=table[name].dtype)
    table = vstack([table[~old], new[table.colnames]], metadata_conflicts="silent")
    hdu = fits.table_to_hdu(table)
    hdu.name = "HDU_INDEX"
    hdus = fits.HDUList([fits.PrimaryHDU(), hdu])
    with AtomicOutputFile(index_path, overwrite=True) as out:
        if index_path.suffix == ".gz":
            from ..dl3.writer import write_fits_gz

            write_fits_gz(hdus, out.temporary_path)
        else:
            hdus.writeto(out.temporary_path)
