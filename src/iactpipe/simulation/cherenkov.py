"""Semi-analytic Cherenkov images of electromagnetic (sub-)showers.

Emission points ("bunches") are sampled along each shower axis from the Greisen
longitudinal profile, spread laterally with an NKG-like distribution scaled by the local
Moliere radius; each bunch has an electron direction spread around the axis and emits on
its Cherenkov cone (angle from the local refractive index). For every telescope the
photon density from a bunch is its weight times the angular emission density towards the
telescope over the squared distance, times atmospheric transmission, mirror area and
photon-detection efficiency. The image position is the bunch direction seen from the
telescope (plus the optical PSF); the arrival time is the shower-front time at the bunch
plus the light path with the mean refractive index. Displacement with impact and height,
length with longitudinal extent, width with lateral spread, the time gradient and the
Cherenkov light-pool ring all follow from the geometry.

References
----------
- K. Greisen, Prog. Cosmic Ray Phys. 3 (1956) 1: longitudinal profile.
- K. Kamata, J. Nishimura, Prog. Theor. Phys. Suppl. 6 (1958) 93; K. Greisen, Ann. Rev.
  Nucl. Sci. 10 (1960) 63 (NKG lateral distribution, here at age 1).
- A. M. Hillas, J. Phys. G 8 (1982) 1461 and 1475: electron angular distribution and
  Cherenkov light of showers; Proc. 19th ICRC (1985) 445: image parameters.
- M. de Naurois, L. Rolland, Astropart. Phys. 32 (2009) 231; M. Lemoine-Goumard et al.,
  Astropart. Phys. 25 (2006) 195: semi-analytic shower models for image fitting.
"""

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int
from ctapipe.instrument import CameraGeometry

from .atmosphere import (
    RHO0_G_CM3,
    SCALE_HEIGHT_M,
    X0_G_CM2,
    height_of_vertical_depth,
)
from .generator import SUBSHOWER_DTYPE, ShowerBatch, hadronic_subshowers
from .geometry import altaz_to_ground_vector
from .light_pool import (
    ENVELOPES,
    LIGHT_POOL_ENVELOPE,
    envelope_per_tev,
)
from .pixel_lookup import PixelLookup
from .render_kernels import (
    C_M_PER_NS,
    CRITICAL_ENERGY_TEV,
    MIN_DISTANCE_M,
    PHOTONS_PER_RADIATION_LENGTH,
    _perpendicular_basis,
    draw_and_render_subshowers,
    model_params,
    render_bunches,
    render_subshowers,
    subshower_track,
    time_moments,
)
from .single_shower import render_one_shower_pe, tabulate_light_pool_envelope

__all__ = [
    "LIGHT_POOL_ENVELOPE",
    "TUNED_MODEL",
    "UNTUNED_MODEL",
    "model_params",
    "CherenkovImageModel",
    "PixelLookup",
    "ShowerImages",
    "greisen_profile",
    "envelope_per_tev",
    "render_bunches",
    "render_subshowers",
    "subshower_track",
    # re-exported from `render_kernels` and `single_shower` (they lived here before)
    "C_M_PER_NS",
    "CRITICAL_ENERGY_TEV",
    "MIN_DISTANCE_M",
    "PHOTONS_PER_RADIATION_LENGTH",
    "render_one_shower_pe",
    "tabulate_light_pool_envelope",
]

DEPTH_GRID_G_CM2 = np.arange(0.0, 1500.0, 5.0)
#: the shower-model and detector-yield defaults of `CherenkovImageModel`, tuned to CORSIKA
#: (prod4 run 102, ``benchmarks/toy_vs_corsika.py``; docs/simulate.rst)
TUNED_MODEL = {
    "track_fraction": 0.55,
    "lateral_scale": 0.19,
    "electron_angle_deg": 4.5,
    "post_max_quench_per_x0": 0.3,
    "yield_energy_index": 0.07,
    "mirror_area_m2": 9.25 * 0.82,
    "photon_detection_efficiency": 0.131 / 0.545,
}
#: the model before the tuning to CORSIKA (issue 19): ``Config({"CherenkovImageModel":
#: UNTUNED_MODEL})`` gives the old images, bit for bit
UNTUNED_MODEL = {
    "track_fraction": 0.1,
    "lateral_scale": 0.5,
    "electron_angle_deg": 0.7,
    "post_max_quench_per_x0": 0.0,
    "yield_energy_index": 0.0,
    "mirror_area_m2": 6.5,
    "photon_detection_efficiency": 0.12,
}


#: the per-(sub-)shower arrays of `CherenkovImageModel.subshowers` (rows of `cascade_setup`)
_ROW_KEYS = ("energy", "x_start", "start", "d_sub", "n_bunch")


def greisen_profile(b: float, t: np.ndarray) -> np.ndarray:
    """Greisen's number of particles at depth ``t`` (radiation lengths), b = ln(E/Ec)."""
    s = 3 * t / (t + 2 * b)
    return 0.31 / np.sqrt(b) * np.exp(t * (1 - 1.5 * np.log(s)))


class ShowerImages:
    """Expected photo-electron images and arrival-time moments for each telescope."""

    def __init__(self, n_tel: int, n_pix: int):
        self.pe = np.zeros((n_tel, n_pix))
        self.t_sum = np.zeros((n_tel, n_pix))
        self.t2_sum = np.zeros((n_tel, n_pix))
        #: which telescopes were rendered (the others cannot trigger, see `max_total_pe`)
        self.rendered = np.ones(n_tel, dtype=bool)
        #: the electromagnetic (sub-)showers (`CherenkovImageModel.subshowers`)
        self.subs = None

    @property
    def profile(self) -> np.ndarray:
        """Summed particle profile on `DEPTH_GRID_G_CM2` (slant depth along the axis)."""
        # all sub-showers at once (a proton has about a hundred), the same element-wise
        # arithmetic as one by one, then summed in sub-shower order as before
        t_prof = (DEPTH_GRID_G_CM2 - self.subs["x_start"][:, np.newaxis]) / X0_G_CM2
        valid = t_prof > 0
        b = np.log(self.subs["energy"] / CRITICAL_ENERGY_TEV)[:, np.newaxis]
        per_sub = np.where(valid, greisen_profile(b, np.where(valid, t_prof, 1.0)), 0.0)
        profile = np.zeros(len(DEPTH_GRID_G_CM2))
        for row in per_sub:
            profile += row
        return profile

    @property
    def x_max_g_cm2(self) -> float:
        """Slant depth of the maximum of the summed particle profile."""
        return float(DEPTH_GRID_G_CM2[np.argmax(self.profile)])

    def time_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """`mean_time` and `time_spread` in one pass (one numba kernel)."""
        mean, spread = np.empty_like(self.pe), np.empty_like(self.pe)
        time_moments(self.pe, self.t_sum, self.t2_sum, mean, spread)
        return mean, spread

    def mean_time(self) -> np.ndarray:
        """Light-weighted mean arrival time per pixel (ns), 0 where there is no light."""
        return self.time_moments()[0]

    def time_spread(self) -> np.ndarray:
        """Light-weighted RMS of the arrival time per pixel (ns)."""
        return self.time_moments()[1]


class CherenkovImageModel(Component):
    """Expected photo-electron images of a shower in each telescope (semi-analytic)."""

    bunches_per_shower = Int(
        2000, help="Emission points sampled for a 1 TeV electromagnetic shower"
    ).tag(config=True)
    max_bunches = Int(20000, help="Upper limit of emission points per (sub-)shower").tag(
        config=True
    )
    track_fraction = Float(
        TUNED_MODEL["track_fraction"],
        help=(
            "Fraction of the Greisen track length above Cherenkov threshold (light yield; "
            "tuned to CORSIKA, before 0.1)"
        ),
    ).tag(config=True)
    photon_detection_efficiency = Float(
        TUNED_MODEL["photon_detection_efficiency"],
        help=(
            "Photon (300-600 nm) to p.e. efficiency: mirror, window, SiPM PDE. The default "
            "is the SST-1M's 0.131 per 240-900 nm photon (sim_telarray-calibrated, see "
            "CorsikaPhotonImager) divided by the 0.545 of a lambda^-2 spectrum in "
            "300-600 nm (before 0.12)"
        ),
    ).tag(config=True)
    mirror_area_m2 = Float(
        TUNED_MODEL["mirror_area_m2"],
        help=(
            "Effective mirror area after shadowing (m^2); default the SST-1M's 9.25 m^2 "
            "times the mast transmission 0.82 (before 6.5)"
        ),
    ).tag(config=True)
    lateral_scale = Float(
        TUNED_MODEL["lateral_scale"],
        help=(
            "Lateral spread of emitting electrons in units of the Moliere radius (tuned to "
            "CORSIKA, before 0.5)"
        ),
    ).tag(config=True)
    electron_angle_deg = Float(
        TUNED_MODEL["electron_angle_deg"],
        help=(
            "Mean angle of Cherenkov-emitting electrons to the axis (deg; tuned to CORSIKA, "
            "before 0.7)"
        ),
    ).tag(config=True)
    post_max_quench_per_x0 = Float(
        TUNED_MODEL["post_max_quench_per_x0"],
        min=0.0,
        help=(
            "Past the shower maximum the Cherenkov emission falls faster than the Greisen "
            "particle number (the electrons age below threshold): extra factor "
            "exp(-quench (t - t_max)), t in radiation lengths (1/X0; tuned to CORSIKA, 0 "
            "gives the plain Greisen profile of before)"
        ),
    ).tag(config=True)
    yield_energy_index = Float(
        TUNED_MODEL["yield_energy_index"],
        help=(
            "Photons per TeV of a (sub-)shower grow as (E / 1 TeV)^index (tuned to CORSIKA; "
            "0: proportional to the track length, as before)"
        ),
    ).tag(config=True)
    ring_width = Float(0.25, help="Relative width of the Cherenkov cone (scattering)").tag(
        config=True
    )
    extinction_depth_g_cm2 = Float(
        2500.0, help="Vertical atmospheric depth for one e-fold of light extinction"
    ).tag(config=True)
    psf_sigma_deg = Float(0.04, help="Optical PSF (sigma per axis, deg)").tag(config=True)
    proton_yield_scale = Float(
        1.0, help="Extra light-yield factor for hadronic sub-showers (toy tuning)"
    ).tag(config=True)
    preselection_safety = Float(
        3.0,
        help=(
            "Safety factor on the light-pool upper bound of the total p.e. below which a "
            "telescope is not rendered (it cannot trigger); 0 renders every telescope"
        ),
    ).tag(config=True)

    points_per_pe = Float(
        10.0,
        help=(
            "Emission points per expected p.e. (upper bound of the brightest telescope): "
            "faint (sub-)showers are rendered with fewer points than "
            "``bunches_per_shower``; 0 keeps ``bunches_per_shower`` x sqrt(E / TeV)"
        ),
    ).tag(config=True)
    min_bunches = Int(
        50,
        help=(
            "Fewest emission points per shower, shared among its sub-showers (a gamma: "
            "per shower; a proton's sub-showers each get at least "
            "``min_bunches_per_subshower``)"
        ),
    ).tag(config=True)
    min_bunches_per_subshower = Int(
        10,
        min=1,
        help=(
            "Fewest emission points per hadronic sub-shower (``points_per_pe`` per expected "
            "p.e. still applies: faint sub-showers need no more)"
        ),
    ).tag(config=True)

    def __init__(self, geometry: CameraGeometry, focal_length: u.Quantity, **kwargs):
        super().__init__(**kwargs)
        self.lookup = PixelLookup(geometry)
        self.focal_m = focal_length.to_value(u.m)
        self.params = model_params(
            self.lateral_scale,
            self.electron_angle_deg,
            self.ring_width,
            self.extinction_depth_g_cm2,
            self.psf_sigma_deg,
            self.post_max_quench_per_x0,
            self.yield_energy_index,
        )
        shape = (
            self.lateral_scale,
            self.electron_angle_deg,
            self.ring_width,
            self.extinction_depth_g_cm2,
            self.post_max_quench_per_x0,
            self.yield_energy_index,
        )
        # the light-pool envelope tabulated for this shape (tuned or untuned model), if any
        self._envelope, envelope_yield = ENVELOPES.get(shape, (None, 1.0))
        self._envelope_valid = self._envelope is not None
        self._yield_ratio = (
            (self.track_fraction * self.mirror_area_m2 * self.photon_detection_efficiency)
            / envelope_yield
            * max(1.0, self.proton_yield_scale)
        )

    def subshowers(
        self, rng: np.random.Generator, batch: ShowerBatch, i: int, obs_height_m: float
    ) -> dict[str, np.ndarray]:
        """Electromagnetic (sub-)showers of shower ``i``: energy, start depth, start point,
        direction, number of emission points; for protons drawn from ``rng``."""
        d = altaz_to_ground_vector(batch.alt_rad[i], batch.az_rad[i])
        core = np.array([batch.core_x_m[i], batch.core_y_m[i], 0.0])
        if batch.particle == "proton":
            subs = hadronic_subshowers(
                rng, batch.energy_tev[i], batch.x_first_g_cm2[i], max(d[2], 0.05)
            )
        else:
            subs = np.zeros(1, dtype=SUBSHOWER_DTYPE)
            subs["energy_tev"], subs["x_start_g_cm2"] = batch.energy_tev[i], batch.x_first_g_cm2[i]
        e1, e2 = _perpendicular_basis(d)
        x_start = subs["x_start_g_cm2"]
        h0 = np.array([height_of_vertical_depth(x * d[2]) for x in x_start])
        min_points = self._min_points(len(subs))
        out = self._subshower_geometry(subs, h0, d, e1, e2, core, obs_height_m, min_points)
        out["d_main"], out["core"] = d, core
        return out

    def _subshower_geometry(self, subs, h0, d, e1, e2, core, obs_height_m, min_points):
        """Start point, direction and emission points (at least ``min_points``) of
        (sub-)showers ``subs`` (`SUBSHOWER_DTYPE`) starting at heights ``h0`` off axes
        ``d`` (bases ``e1``, ``e2``, cores ``core``): the sub-showers of one shower (``d``
        of shape (3,)) or one shower per row (shape (n, 3)), the same element-wise
        arithmetic either way."""
        start = core + ((h0 - obs_height_m) / d[..., 2])[:, np.newaxis] * d
        start += subs["offset_1_m"][:, np.newaxis] * e1 + subs["offset_2_m"][:, np.newaxis] * e2
        tilt, phi = subs["tilt_rad"][:, np.newaxis], subs["phi_rad"][:, np.newaxis]
        d_sub = np.cos(tilt) * d + np.sin(tilt) * (np.cos(phi) * e1 + np.sin(phi) * e2)
        energy = subs["energy_tev"]
        n_b = np.clip(self.bunches_per_shower * np.sqrt(energy), min_points, None)
        n_b = np.minimum(n_b, self.max_bunches)
        return {
            "energy": energy,
            "x_start": subs["x_start_g_cm2"],
            "start": start,
            "d_sub": d_sub,
            "n_bunch": n_b.astype(np.int64),
        }

    def cascade_setup(
        self, batch: ShowerBatch, tel_pos_m: np.ndarray, obs_height_m: float
    ) -> dict[str, np.ndarray] | None:
        """The render set-up of every shower of a batch of one-cascade primaries (gammas,
        electrons) at once: what `subshowers` and `max_pe_per_subshower` give shower by
        shower, one row per shower (``bound``: the light-pool bound per telescope).

        The same arithmetic element by element, so `__call__` with it renders the same
        images (tested) without the per-shower numpy calls on 1-element arrays. None for
        protons (their sub-showers are drawn per shower).
        """
        if batch.particle == "proton":
            return None
        n = len(batch)
        d, e1, e2 = np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 3))
        h0 = np.empty(n)
        # the per-shower numba functions of `subshowers`, so the same bits
        for i in range(n):
            d[i] = altaz_to_ground_vector(batch.alt_rad[i], batch.az_rad[i])
            e1[i], e2[i] = _perpendicular_basis(d[i])
            h0[i] = height_of_vertical_depth(batch.x_first_g_cm2[i] * d[i, 2])
        subs = np.zeros(n, dtype=SUBSHOWER_DTYPE)
        subs["energy_tev"], subs["x_start_g_cm2"] = batch.energy_tev, batch.x_first_g_cm2
        core = np.column_stack([batch.core_x_m, batch.core_y_m, np.zeros(n)])
        setup = self._subshower_geometry(
            subs, h0, d, e1, e2, core, obs_height_m, self._min_points(1)
        )
        setup["bound"] = self.max_pe_per_subshower(setup, tel_pos_m)
        setup["d_main"], setup["core"] = d, core
        # the emission points `__call__` gives a rendered shower (`_faint_points`), for
        # all rows at once (0.2 ms per 2000 showers instead of about 8 µs per shower)
        if self.points_per_pe > 0:
            setup["n_faint"] = self._faint_points(setup, setup["bound"], self._min_points(1))
        return setup

    def _min_points(self, n_sub: int) -> int:
        """Fewest emission points of each of ``n_sub`` sub-showers: ``min_bunches`` shared
        among them, at least ``min_bunches_per_subshower``, at most ``max_bunches``."""
        shared = -(-self.min_bunches // max(n_sub, 1))
        return min(max(self.min_bunches_per_subshower, shared), self.max_bunches)

    def max_pe_per_subshower(
        self, subs: dict[str, np.ndarray], tel_pos_m: np.ndarray
    ) -> np.ndarray:
        """Upper bound of the expected total p.e. (any field of view) of each
        (sub-)shower in each telescope, shape (n_sub, n_tel).

        From the light-pool envelope of the model's shape traits (`light_pool.ENVELOPES`:
        maximum p.e. per TeV versus impact distance from the (sub-)shower axis, over
        first-interaction depths and zenith angles 0-50 deg; tabulated for the defaults
        and for the untuned model) scaled with the light yield. Infinity (no bound) when
        no envelope was tabulated for the shape traits.
        """
        if not self._envelope_valid:
            return np.full((len(subs["energy"]), len(tel_pos_m)), np.inf)
        rel = tel_pos_m[np.newaxis, :, :] - subs["start"][:, np.newaxis, :]
        along = np.einsum("stj,sj->st", rel, subs["d_sub"])
        impact = np.sqrt(np.clip(np.sum(rel**2, axis=2) - along**2, 0.0, None))
        per_tev = envelope_per_tev(subs["energy"][:, np.newaxis], impact, self._envelope)
        return per_tev * subs["energy"][:, np.newaxis] * self._yield_ratio

    def may_render(
        self, batch: ShowerBatch, tel_pos_m: np.ndarray, obs_height_m: float, min_total_pe: float
    ) -> np.ndarray:
        """Which showers of ``batch`` may have a telescope rendered by `__call__` (bool per
        shower), for all showers at once.

        For one-cascade primaries (gammas, electrons) the light-pool bound of `__call__`
        is computed vectorised, 0.1 % looser, so that a shower it rejects is one that
        `__call__` would not render either (rejecting it early changes no output, the
        random streams being per shower); all True for protons (their sub-showers are
        random) and when the pre-selection is off.
        """
        n = len(batch)
        if batch.particle == "proton" or not (min_total_pe > 0 and self.preselection_safety > 0):
            return np.ones(n, dtype=bool)
        if not self._envelope_valid:
            return np.ones(n, dtype=bool)
        cos_alt = np.cos(batch.alt_rad)
        d = np.column_stack(
            [cos_alt * np.cos(batch.az_rad), -cos_alt * np.sin(batch.az_rad), np.sin(batch.alt_rad)]
        )
        x_sea = RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M
        h0 = SCALE_HEIGHT_M * np.log(x_sea / np.maximum(batch.x_first_g_cm2 * d[:, 2], 1e-3))
        core = np.column_stack([batch.core_x_m, batch.core_y_m, np.zeros(n)])
        start = core + ((h0 - obs_height_m) / d[:, 2])[:, np.newaxis] * d
        rel = tel_pos_m[np.newaxis, :, :] - start[:, np.newaxis, :]
        along = np.einsum("stj,sj->st", rel, d)
        impact = np.sqrt(np.clip(np.sum(rel**2, axis=2) - along**2, 0.0, None))
        energy = batch.energy_tev[:, np.newaxis]
        bound = envelope_per_tev(energy, impact, self._envelope) * energy * self._yield_ratio
        return np.any(bound * self.preselection_safety * 1.001 >= min_total_pe, axis=1)

    def _faint_points(
        self, subs: dict[str, np.ndarray], per_sub: np.ndarray, n_min: int | None = None
    ) -> np.ndarray:
        """Emission points of faint (sub-)showers: fewer than ``subs["n_bunch"]``, never
        fewer than ``points_per_pe`` per expected p.e. (``per_sub``: the upper bound, every
        telescope) nor than ``n_min`` (default `_min_points` of the rows of ``subs``)."""
        wanted = np.ceil(self.points_per_pe * per_sub.max(axis=1))
        if n_min is None:
            n_min = self._min_points(len(subs["energy"]))
        # np.maximum: the values of np.clip(..., n_min, None) at a tenth of its overhead
        return np.maximum(np.minimum(subs["n_bunch"], wanted), n_min).astype(np.int64)

    def max_total_pe(self, subs: dict[str, np.ndarray], tel_pos_m: np.ndarray) -> np.ndarray:
        """Upper bound of the expected total p.e. (any field of view) per telescope
        (the sum of `max_pe_per_subshower` over the sub-showers)."""
        return self.max_pe_per_subshower(subs, tel_pos_m).sum(axis=0)

    def __call__(
        self,
        rng: np.random.Generator,
        batch: ShowerBatch,
        i: int,
        tel_pos_m: np.ndarray,
        obs_height_m: float,
        min_total_pe: float = 0.0,
        setup: dict[str, np.ndarray] | None = None,
    ) -> ShowerImages:
        """Expected images of shower ``i`` of ``batch`` in telescopes at ``tel_pos_m``.

        Telescopes whose bound `max_total_pe` times `preselection_safety` is below
        ``min_total_pe`` are not rendered (their images stay empty; ``images.rendered``
        tells which were). The random numbers used do not depend on that choice.
        ``setup``: `cascade_setup` of ``batch`` for the same telescopes and height (same
        images, less Python per shower).
        """
        images = ShowerImages(len(tel_pos_m), self.lookup.n_pixels)
        if setup is None:
            subs = self.subshowers(rng, batch, i, obs_height_m)
            per_sub = self.max_pe_per_subshower(subs, tel_pos_m)
        else:
            subs = {key: setup[key][i : i + 1] for key in _ROW_KEYS}
            subs["d_main"], subs["core"] = setup["d_main"][i], setup["core"][i]
            per_sub = setup["bound"][i : i + 1]
        images.subs = subs
        if min_total_pe > 0 and self.preselection_safety > 0:
            bound = per_sub.sum(axis=0) * self.preselection_safety
            images.rendered = bound >= min_total_pe
        if not images.rendered.any():
            return images
        if self.points_per_pe > 0:
            if setup is None:
                subs["n_bunch"] = self._faint_points(subs, per_sub)
            else:
                subs["n_bunch"] = setup["n_faint"][i : i + 1]
        yield_scale = self.proton_yield_scale if batch.particle == "proton" else 1.0
        photons_per_track = (
            self.track_fraction
            * PHOTONS_PER_RADIATION_LENGTH
            * yield_scale
            * self.mirror_area_m2
            * self.photon_detection_efficiency
        )
        # rng.uniform(1e-12, 1.0, (n_total, 5)), then rng.standard_normal((n_tel, n_total,
        # 2)), drawn inside the kernel (the same numbers)
        draw_and_render_subshowers(
            rng,
            subs["energy"],
            subs["x_start"],
            subs["start"],
            subs["d_sub"],
            subs["n_bunch"],
            photons_per_track,
            subs["d_main"],
            subs["core"],
            images.rendered,
            tel_pos_m,
            obs_height_m,
            batch.pointing_alt_rad[i],
            batch.pointing_az_rad[i],
            self.focal_m,
            self.lookup.table,
            self.lookup.x0,
            self.lookup.y0,
            self.lookup.cell_m,
            self.params,
            images.pe,
            images.t_sum,
            images.t2_sum,
        )
        return images
