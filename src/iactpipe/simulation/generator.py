"""Primary particles: energy, core, direction, first interaction, sub-showers.

A gamma-ray (or electron) shower is one electromagnetic cascade. A proton shower is
represented, as a toy, by a chain of hadronic interactions along the primary axis, each
feeding a few electromagnetic sub-showers (from neutral pions) tilted away from the axis by
the pions' transverse momentum. The image model then renders every electromagnetic
(sub-)shower the same way.

References
----------
- Interaction lengths: gamma 9/7 X0 (Rossi & Greisen 1941), proton about 80 g/cm^2
  (Gaisser, Engel & Resconi, "Cosmic Rays and Particle Physics").
- Pion interaction length about 120 g/cm^2 (Matthews 2005).
- Transverse momentum of secondary pions about 0.35 GeV/c; inelasticity about 0.5;
  about a third of the energy lost per interaction goes to neutral pions (Heitler-Matthews
  model, J. Matthews, Astropart. Phys. 22 (2005) 387).
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import AstroQuantity, CaselessStrEnum, Float, Int
from numba import njit

from ..instrument import ONDREJOV_HEIGHT_M
from ..io.traits import BoundedQuantity, check_ordered
from .atmosphere import SCALE_HEIGHT_M, X0_G_CM2, height_of_vertical_depth
from .geometry import altaz_to_ground_vector, fov_to_altaz

__all__ = [
    "PARTICLE_IDS",
    "ShowerBatch",
    "ShowerGenerator",
    "hadronic_subshowers",
    "impact_distances",
    "sample_log_parabola",
    "sample_power_law",
    "shower_truth_rows",
]

#: CORSIKA particle ids (as stored in ``shower_primary_id``)
PARTICLE_IDS = {"gamma": 0, "electron": 3, "proton": 14}

PROTON_INTERACTION_LENGTH_G_CM2 = 80.0
PION_PT_GEV = 0.35
PION_INTERACTION_LENGTH_G_CM2 = 120.0
MIN_SUBSHOWER_ENERGY_TEV = 0.003
SUBSHOWER_DTYPE = [
    ("energy_tev", "f8"),
    ("x_start_g_cm2", "f8"),
    ("tilt_rad", "f8"),
    ("phi_rad", "f8"),
    ("offset_1_m", "f8"),
    ("offset_2_m", "f8"),
]


@dataclass
class ShowerBatch:
    """True parameters of ``n`` showers (plain arrays, SI units: TeV, m, rad, g/cm^2)."""

    particle: str
    energy_tev: np.ndarray
    core_x_m: np.ndarray
    core_y_m: np.ndarray
    alt_rad: np.ndarray
    az_rad: np.ndarray
    x_first_g_cm2: np.ndarray
    pointing_alt_rad: np.ndarray
    pointing_az_rad: np.ndarray
    #: height of the array above sea level (m) the showers are observed from
    obs_height_m: float

    def __len__(self) -> int:
        return len(self.energy_tev)


def sample_power_law(
    rng: np.random.Generator, n: int, index: float, e_min: float, e_max: float
) -> np.ndarray:
    """Energies from dN/dE ~ E^-index between ``e_min`` and ``e_max`` (inverse CDF)."""
    u_ = rng.uniform(size=n)
    if abs(index - 1.0) < 1e-9:
        return e_min * (e_max / e_min) ** u_
    g = 1.0 - index
    return (e_min**g + u_ * (e_max**g - e_min**g)) ** (1.0 / g)


def sample_log_parabola(
    rng: np.random.Generator,
    n: int,
    alpha: float,
    beta: float,
    e_min: float,
    e_max: float,
    e_ref: float = 1.0,
) -> np.ndarray:
    """Energies from dN/dE ~ (E/E_ref)^-(alpha + beta log10(E/E_ref)), by rejection.

    The proposal is a power law with the hardest local index in the range.
    """
    if beta == 0.0:
        return sample_power_law(rng, n, alpha, e_min, e_max)
    log_min, log_max = np.log10(e_min / e_ref), np.log10(e_max / e_ref)
    index_prop = alpha + 2 * beta * min(log_min, log_max) if beta > 0 else alpha
    index_prop = min(index_prop, alpha + 2 * beta * log_max)
    grid = np.geomspace(e_min, e_max, 512)

    def ratio(e):
        x = e / e_ref
        return x ** (-(alpha + beta * np.log10(x))) / x ** (-index_prop)

    r_max = 1.05 * ratio(grid).max()
    out = np.empty(0)
    while len(out) < n:
        trial = sample_power_law(rng, 2 * (n - len(out)) + 16, index_prop, e_min, e_max)
        keep = rng.uniform(size=len(trial)) * r_max < ratio(trial)
        out = np.concatenate([out, trial[keep]])
    return out[:n]


@njit(cache=True)
def _dirichlet(rng, n, alpha):
    """``rng.dirichlet(np.full(n, alpha))`` (alpha >= 0.1: normalised gamma variates,
    numpy's algorithm and draw order)."""
    out = np.empty(n)
    acc = 0.0
    for j in range(n):
        out[j] = rng.standard_gamma(alpha)
        acc = acc + out[j]
    inv = 1.0 / acc
    for j in range(n):
        out[j] = out[j] * inv
    return out


@njit(cache=True)
def _append(rows, n, e_sub, x, tilt, phi, off1, off2):
    if n == rows.shape[0]:
        grown = np.empty((2 * n, 6))
        grown[:n] = rows
        rows = grown
    rows[n, 0] = e_sub
    rows[n, 1] = x
    rows[n, 2] = tilt
    rows[n, 3] = phi
    rows[n, 4] = off1
    rows[n, 5] = off2
    return rows, n + 1


@njit(cache=True)
def _pion_subshowers(rng, e_em, x, off1, off2, tx0, ty0, rows, n):
    """Neutral-pion sub-showers sharing ``e_em`` at depth ``x``, starting at the lateral
    offset (``off1``, ``off2``) (m, basis perpendicular to the primary axis), each tilted
    by p_T / E plus the parent's tilt vector (``tx0``, ``ty0``) (small angles, rad);
    appended to ``rows`` (``n`` used), returns (rows, n)."""
    n_pi = 1 + rng.poisson(1.0 + 1.5 * np.log10(1.0 + 1e3 * e_em))
    for frac in _dirichlet(rng, n_pi, 0.7):
        e_sub = e_em * frac
        if e_sub < MIN_SUBSHOWER_ENERGY_TEV:
            continue
        pt = rng.exponential(PION_PT_GEV)
        phi = rng.uniform(0, 2 * np.pi)
        kick = min(pt / (e_sub * 1e3), 0.3)
        tx, ty = tx0 + kick * np.cos(phi), ty0 + kick * np.sin(phi)
        rows, n = _append(
            rows, n, e_sub, x, min(np.hypot(tx, ty), 0.3), np.arctan2(ty, tx), off1, off2
        )
    return rows, n


@njit(cache=True)
def _hadronic_rows(rng, energy_tev, x_first_g_cm2, cos_zenith):
    """The cascade of `hadronic_subshowers` (numba), rows of its six fields."""
    rows = np.empty((256, 6))
    n = 0
    e_lead = energy_tev
    x = x_first_g_cm2
    while e_lead > 10 * MIN_SUBSHOWER_ENERGY_TEV and x < 1100.0:
        inelasticity = rng.uniform(0.3, 0.7)
        e_lost = inelasticity * e_lead
        e_lead -= e_lost
        rows, n = _pion_subshowers(rng, e_lost / 3.0, x, 0.0, 0.0, 0.0, 0.0, rows, n)
        e_charged = e_lost * (2.0 / 3.0) * rng.uniform(0.2, 0.6)
        n_ch = 1 + rng.poisson(1.0 + 3.0 * np.log10(1.0 + 1e3 * e_charged))
        for frac in _dirichlet(rng, n_ch, 0.7):
            e_pi = e_charged * frac
            if e_pi < MIN_SUBSHOWER_ENERGY_TEV:
                continue
            angle = min(rng.exponential(PION_PT_GEV) / (e_pi * 1e3), 0.3)
            phi = rng.uniform(0, 2 * np.pi)
            x_pi = x + rng.exponential(PION_INTERACTION_LENGTH_G_CM2)
            if x_pi >= 1100.0:
                continue
            path_m = SCALE_HEIGHT_M / cos_zenith * np.log(x_pi / max(x, 1e-3))
            c, s = np.cos(phi), np.sin(phi)
            rows, n = _pion_subshowers(
                rng,
                e_pi,
                x_pi,
                angle * path_m * c,
                angle * path_m * s,
                angle * c,
                angle * s,
                rows,
                n,
            )
        x += rng.exponential(PROTON_INTERACTION_LENGTH_G_CM2)
    return rows[:n]


def hadronic_subshowers(
    rng: np.random.Generator, energy_tev: float, x_first_g_cm2: float, cos_zenith: float = 1.0
) -> np.ndarray:
    """Electromagnetic sub-showers of a toy proton cascade.

    The leading particle interacts every ``PROTON_INTERACTION_LENGTH_G_CM2`` (exponential)
    losing a fraction 0.3-0.7 of its energy: a third to neutral pions (sub-showers at the
    interaction), two thirds to charged pions. Of those, a fraction 0.2-0.6 cascades
    further into neutral pions: each charged pion leaves the axis at p_T / E, interacts
    after ``PION_INTERACTION_LENGTH_G_CM2`` (exponential) and feeds sub-showers there,
    displaced laterally by its angle times its path (exponential atmosphere) and tilted by
    its angle plus their own p_T / E (Heitler-Matthews picture, Matthews 2005).

    Returns a structured array with fields ``energy_tev``, ``x_start_g_cm2`` (slant depth
    along the primary axis of the start), ``tilt_rad`` and ``phi_rad`` (direction of the
    sub-shower relative to the primary axis) and ``offset_1_m``, ``offset_2_m`` (lateral
    offset of the start from the primary axis, basis perpendicular to it). Runs in numba
    with numpy's algorithms for every draw (same sub-showers as drawing them in Python).
    """
    rows = _hadronic_rows(rng, float(energy_tev), float(x_first_g_cm2), float(cos_zenith))
    out = np.empty(len(rows), dtype=SUBSHOWER_DTYPE)
    for k, (name, _) in enumerate(SUBSHOWER_DTYPE):
        out[name] = rows[:, k]
    return out


class ShowerGenerator(Component):
    """Draw primary particles: energy spectrum, core position, direction, first interaction.

    Energies follow a log-parabola dN/dE ~ (E/1 TeV)^-(index + curvature log10(E/1 TeV))
    (a power law for curvature 0). Cores are uniform in a disc in the ground plane.
    Directions are a point source at ``source_offset`` from the pointing (position angle
    ``source_position_angle``), or diffuse, uniform in solid angle within ``viewcone``.
    """

    particle = CaselessStrEnum(
        list(PARTICLE_IDS), default_value="gamma", help="Primary particle type"
    ).tag(config=True)
    spectral_index = Float(2.0, help="Spectral index (positive: dN/dE ~ E^-index)").tag(config=True)
    spectral_curvature = Float(
        0.0, help="Log-parabola curvature beta (dN/dE ~ E^-(index + beta log10(E/TeV)))"
    ).tag(config=True)
    energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Minimum energy",
    ).tag(config=True)
    energy_max = BoundedQuantity(
        default_value=100.0 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Maximum energy",
    ).tag(config=True)
    max_scatter_radius = BoundedQuantity(
        default_value=500.0 * u.m,
        physical_type=u.physical.length,
        min=0 * u.m,
        help="Radius of the disc (ground plane, around the array centre) of core positions",
    ).tag(config=True)
    viewcone = BoundedQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=180 * u.deg,
        help="Diffuse mode: directions uniform within this radius of the pointing (0: point)",
    ).tag(config=True)
    source_offset = BoundedQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        help="Point-source mode: offset of the source from the pointing (wobble)",
    ).tag(config=True)
    source_position_angle = AstroQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        help="Point-source mode: direction of the offset in the camera (0: +fov_lon)",
    ).tag(config=True)
    zenith = BoundedQuantity(
        default_value=20.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        max=90 * u.deg,
        help="Zenith angle of the pointing (MC production)",
    ).tag(config=True)
    azimuth = AstroQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        help="Azimuth of the pointing (MC production, from north towards east)",
    ).tag(config=True)
    observatory_height_m = Float(
        ONDREJOV_HEIGHT_M,
        help="Height of the array above sea level (m); default: the SST-1M site, "
        "iactpipe.instrument.ONDREJOV_LOCATION (ONDREJOV_HEIGHT_M)",
    ).tag(config=True)
    n_showers = Int(1000, min=1, help="Number of showers to generate (MC production)").tag(
        config=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_ordered(self, [("energy_min", "energy_max")])

    @property
    def is_diffuse(self) -> bool:
        """True when directions are drawn within a view cone."""
        return self.viewcone.to_value(u.rad) > 0

    @property
    def particle_id(self) -> int:
        """CORSIKA id of the primary."""
        return PARTICLE_IDS[self.particle]

    def __call__(
        self,
        rng: np.random.Generator,
        n: int,
        pointing_alt_rad: np.ndarray | None = None,
        pointing_az_rad: np.ndarray | None = None,
        offsets_rad: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> ShowerBatch:
        """Draw ``n`` showers.

        The pointing defaults to the ``zenith``/``azimuth`` traits; ``offsets_rad``
        (fov_lon, fov_lat) overrides the direction model (e.g. a tracked source).
        """
        if pointing_alt_rad is None:
            pointing_alt_rad = np.full(n, np.pi / 2 - self.zenith.to_value(u.rad))
            pointing_az_rad = np.full(n, self.azimuth.to_value(u.rad))
        energy = sample_log_parabola(
            rng,
            n,
            self.spectral_index,
            self.spectral_curvature,
            self.energy_min.to_value(u.TeV),
            self.energy_max.to_value(u.TeV),
        )
        r = self.max_scatter_radius.to_value(u.m) * np.sqrt(rng.uniform(size=n))
        phi = rng.uniform(0, 2 * np.pi, size=n)
        lon, lat = self._offsets(rng, n) if offsets_rad is None else offsets_rad
        alt = np.empty(n)
        az = np.empty(n)
        for i in range(n):
            alt[i], az[i] = fov_to_altaz(lon[i], lat[i], pointing_alt_rad[i], pointing_az_rad[i])
        mean_first = 9.0 / 7.0 * X0_G_CM2
        if self.particle == "proton":
            mean_first = PROTON_INTERACTION_LENGTH_G_CM2
        return ShowerBatch(
            particle=self.particle,
            energy_tev=energy,
            core_x_m=r * np.cos(phi),
            core_y_m=r * np.sin(phi),
            alt_rad=alt,
            az_rad=az,
            x_first_g_cm2=rng.exponential(mean_first, size=n),
            pointing_alt_rad=np.asarray(pointing_alt_rad, dtype=float),
            pointing_az_rad=np.asarray(pointing_az_rad, dtype=float),
            obs_height_m=float(self.observatory_height_m),
        )

    def _offsets(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Direction offsets (fov_lon, fov_lat) in rad from the pointing."""
        if self.is_diffuse:
            cos_max = np.cos(self.viewcone.to_value(u.rad))
            theta = np.arccos(rng.uniform(cos_max, 1.0, size=n))
            psi = rng.uniform(0, 2 * np.pi, size=n)
            # exact for a spherical offset: lon/lat of a point at angle theta, angle psi
            lat = np.arcsin(np.sin(theta) * np.sin(psi))
            lon = np.arctan2(np.sin(theta) * np.cos(psi), np.cos(theta))
            return lon, lat
        theta = self.source_offset.to_value(u.rad)
        psi = self.source_position_angle.to_value(u.rad)
        lat = np.full(n, np.arcsin(np.sin(theta) * np.sin(psi)))
        lon = np.full(n, np.arctan2(np.sin(theta) * np.cos(psi), np.cos(theta)))
        return lon, lat

    def first_interaction_height_m(self, batch: ShowerBatch) -> np.ndarray:
        """Height above sea level (m) of the first interaction."""
        cos_zen = np.sin(batch.alt_rad)
        return np.array(
            [
                height_of_vertical_depth(x * c)
                for x, c in zip(batch.x_first_g_cm2, cos_zen, strict=False)
            ]
        )

    def axis_vector(self, batch: ShowerBatch, i: int) -> np.ndarray:
        """Ground-frame unit vector towards where shower ``i`` comes from."""
        return altaz_to_ground_vector(batch.alt_rad[i], batch.az_rad[i])


def impact_distances(batch: ShowerBatch, positions: np.ndarray) -> np.ndarray:
    """
    Distance of each telescope to each shower's axis.

    The component of telescope position minus core perpendicular to the axis, summed
    term by term as ``np.dot`` and ``np.linalg.norm`` sum three components: the values of
    ``np.linalg.norm(rel - np.dot(rel, axis) * axis)`` per shower and telescope, with the
    axis of `altaz_to_ground_vector` (numba's cos and sin give numpy's values; tested).

    Parameters
    ----------
    batch : ShowerBatch
        The showers.
    positions : np.ndarray
        Telescope positions (m), (n telescopes, 3), ground frame.

    Returns
    -------
    np.ndarray
        (n showers, n telescopes), m.
    """
    alt, az = batch.alt_rad, batch.az_rad
    cos_alt = np.cos(alt)
    axis = np.stack([cos_alt * np.cos(az), -cos_alt * np.sin(az), np.sin(alt)], axis=1)
    axis = axis[:, np.newaxis]
    core = np.stack([batch.core_x_m, batch.core_y_m, np.zeros(len(batch))], axis=1)
    rel = positions[np.newaxis] - core[:, np.newaxis]
    along = rel[..., 0] * axis[..., 0] + rel[..., 1] * axis[..., 1]
    along = along + rel[..., 2] * axis[..., 2]
    perp = rel - along[..., np.newaxis] * axis
    squared = perp[..., 0] * perp[..., 0] + perp[..., 1] * perp[..., 1]
    return np.sqrt(squared + perp[..., 2] * perp[..., 2])


def shower_truth_rows(batch: ShowerBatch, h_first_int_m: np.ndarray) -> list[dict[str, float]]:
    """
    The shower truth of `iactpipe.io.event_block.MCEventBlockBuilder.add_event` (but
    ``x_max_g_cm2``), one dict of Python floats per shower: indexing the batch's arrays
    shower by shower costs more.

    Parameters
    ----------
    batch : ShowerBatch
        The showers.
    h_first_int_m : np.ndarray
        Height of the first interaction above the observatory (m), per shower.

    Returns
    -------
    list of dict
        ``energy_tev``, ``alt_rad``, ``az_rad``, ``core_x_m``, ``core_y_m``,
        ``h_first_int_m``, ``pointing_alt_rad``, ``pointing_az_rad`` of each shower.
    """
    columns = {
        "energy_tev": batch.energy_tev,
        "alt_rad": batch.alt_rad,
        "az_rad": batch.az_rad,
        "core_x_m": batch.core_x_m,
        "core_y_m": batch.core_y_m,
        "h_first_int_m": h_first_int_m,
        "pointing_alt_rad": batch.pointing_alt_rad,
        "pointing_az_rad": batch.pointing_az_rad,
    }
    names = list(columns)
    rows = zip(*(np.asarray(c, dtype=np.float64).tolist() for c in columns.values()), strict=True)
    return [dict(zip(names, row, strict=True)) for row in rows]
