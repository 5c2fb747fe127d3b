"""Single electromagnetic showers rendered without a field of view (`render_one_shower_pe`,
the `render_kernels.render_subshowers` kernel on one sub-shower) and the light-pool
envelope tabulated with them (`tabulate_light_pool_envelope`, the table of `light_pool`).
"""

import numpy as np

from ..instrument import ONDREJOV_HEIGHT_M
from .atmosphere import height_of_vertical_depth
from .geometry import altaz_to_ground_vector
from .light_pool import ENVELOPE_ENERGY_TEV, ENVELOPE_IMPACT_M, ENVELOPE_SHAPE, ENVELOPE_YIELD
from .render_kernels import PHOTONS_PER_RADIATION_LENGTH, model_params, render_subshowers

__all__ = ["render_one_shower_pe", "tabulate_light_pool_envelope"]


def tabulate_light_pool_envelope(
    n_bunches: int = 6000,
    seed: int = 5,
    energies_tev=None,
    impacts_m=None,
    obs_height_m: float = ONDREJOV_HEIGHT_M,
    shape: tuple = ENVELOPE_SHAPE,
    light_yield: float = ENVELOPE_YIELD,
) -> np.ndarray:
    """Maximum total p.e. per TeV (no field-of-view cut) versus impact distance.

    Renders single electromagnetic showers with the shape traits ``shape`` (as
    `light_pool.ENVELOPE_SHAPE`) and light yield ``light_yield`` (track fraction x mirror
    area x efficiency) for first-interaction
    depths 0-1000 g/cm^2 and zenith angles 0, 30, 50 deg onto telescopes across and
    along (both sides) the shower axis, observed at ``obs_height_m`` (the shipped table
    was made at 511.0 m); returns the maximum (rows: energies), made non-increasing with
    distance by taking at each distance the maximum over it and all larger ones. When the
    defaults change: tabulate with the new shape and yield, paste the table into
    `light_pool` with its shape and yield (`light_pool.ENVELOPES`).
    """
    energies = ENVELOPE_ENERGY_TEV if energies_tev is None else np.asarray(energies_tev)
    impacts = ENVELOPE_IMPACT_M if impacts_m is None else np.asarray(impacts_m)
    rng = np.random.default_rng(seed)
    params = model_params(*shape[:4], 0.04, *shape[4:])
    per_track = light_yield * PHOTONS_PER_RADIATION_LENGTH
    obs = obs_height_m
    table = np.zeros((len(energies), len(impacts)))
    zero = np.zeros_like(impacts)
    for zenith in np.deg2rad([0.0, 30.0, 50.0]):
        d = altaz_to_ground_vector(np.pi / 2 - zenith, 0.0)
        along = impacts / np.cos(zenith)
        pos = np.concatenate(
            [np.c_[zero, impacts, zero], np.c_[along, zero, zero], np.c_[-along, zero, zero]]
        )
        for ie, energy in enumerate(energies):
            for x_start in (0.0, 30.0, 60.0, 120.0, 250.0, 450.0, 700.0, 1000.0):
                pe = render_one_shower_pe(
                    energy, x_start, d, pos, obs, np.pi / 2, per_track, params, n_bunches, rng
                )
                per_tev = pe.reshape(3, len(impacts)).max(axis=0) / energy
                table[ie] = np.maximum(table[ie], per_tev)
    # non-increasing with distance, still an upper bound: the maximum from each distance out
    return np.maximum.accumulate(table[:, ::-1], axis=1)[:, ::-1]


def render_one_shower_pe(
    energy_tev, x_start, direction, positions, obs_height_m, alt0, per_track, params, n_bunches, rng
) -> np.ndarray:
    """Total p.e. of one electromagnetic shower (first interaction at ``x_start`` g/cm^2,
    axis ``direction`` through the origin) on telescopes at ``positions``, without a
    field-of-view cut: the `render_subshowers` kernel on a single sub-shower. Used by the
    light-pool envelope and by the comparison with CORSIKA (benchmarks/toy_vs_corsika.py)."""
    d = direction
    start = ((height_of_vertical_depth(x_start * d[2]) - obs_height_m) / d[2] * d)[None]
    pe = np.zeros((len(positions), 1))
    render_subshowers(
        np.array([energy_tev]),
        np.array([x_start]),
        start,
        d[None],
        np.array([n_bunches]),
        per_track,
        d,
        np.zeros(3),
        rng.uniform(1e-12, 1, (n_bunches, 5)),
        np.zeros((len(positions), n_bunches, 2)),
        np.ones(len(positions), bool),
        positions,
        obs_height_m,
        alt0,
        0.0,
        1.0,
        np.zeros((1, 1), np.int32),
        -1e3,
        -1e3,
        1e4,
        params,
        pe,
        pe.copy(),
        pe.copy(),
    )
    return pe[:, 0]
