"""
The light-pool envelope of the toy Cherenkov model: an upper bound of the total p.e.
a telescope can receive from a shower, used to skip rendering telescopes that cannot
trigger (regenerate with `iactpipe.simulation.cherenkov.tabulate_light_pool_envelope`).
"""

import numpy as np

__all__ = [
    "ENVELOPE_ENERGY_TEV",
    "ENVELOPE_IMPACT_M",
    "ENVELOPE_SHAPE",
    "ENVELOPE_YIELD",
    "LIGHT_POOL_ENVELOPE",
    "envelope_per_tev",
]

#: maximum expected total p.e. per TeV (any field of view, default yield and shape traits)
#: versus impact distance from the (sub-)shower axis (`ENVELOPE_IMPACT_M`, rows:
#: `ENVELOPE_ENERGY_TEV`), over first-interaction depths 0-1000 g/cm^2 and zenith angles
#: 0-50 deg, made non-increasing with distance; tabulated with 6000 emission points by
#: `~iactpipe.simulation.cherenkov.tabulate_light_pool_envelope`
ENVELOPE_ENERGY_TEV = np.geomspace(0.003, 300.0, 9)
# fmt: off
ENVELOPE_IMPACT_M = np.array([0, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 300, 325, 350, 375, 400, 450, 500, 550, 600, 650, 700, 750, 800, 850, 900, 950, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000], dtype=float)
LIGHT_POOL_ENVELOPE = np.array(
    [
        [503.9, 503.9, 352.7, 193.7, 116.4, 75.14, 52.59, 38.59, 25.9, 21.17, 16.34, 12.27, 9.764, 7.962, 6.459, 5.223, 4.327, 3.2, 2.394, 1.824, 1.459, 1.161, 0.956, 0.783, 0.653, 0.573, 0.487, 0.378, 0.325, 0.232, 0.179, 0.119, 0.108, 0.084, 0.068, 0.06, 0.048, 0.048, 0.03],
        [460.4, 460.4, 330.7, 191.7, 107.1, 73.11, 52.48, 35.84, 26.91, 20.53, 15.44, 12.35, 9.954, 7.974, 6.393, 5.138, 4.163, 3.063, 2.334, 1.787, 1.388, 1.097, 0.885, 0.713, 0.608, 0.508, 0.418, 0.333, 0.264, 0.188, 0.128, 0.093, 0.075, 0.061, 0.061, 0.061, 0.042, 0.03, 0.024],
        [451.7, 451.7, 312.7, 167.2, 110.9, 72.47, 51.06, 34.41, 27.61, 20.72, 15.32, 12.13, 9.488, 7.522, 6.152, 5.078, 4.276, 3.104, 2.216, 1.696, 1.327, 1, 0.784, 0.619, 0.511, 0.444, 0.387, 0.324, 0.269, 0.179, 0.101, 0.088, 0.067, 0.059, 0.04, 0.032, 0.027, 0.026, 0.015],
        [413.3, 413.3, 293.2, 166.6, 103.7, 70.84, 45.66, 36.26, 27.65, 20.01, 15.64, 12.27, 9.398, 7.263, 6.016, 4.997, 4.163, 2.936, 2.078, 1.637, 1.27, 1.009, 0.777, 0.596, 0.476, 0.389, 0.32, 0.256, 0.205, 0.147, 0.092, 0.071, 0.049, 0.038, 0.027, 0.027, 0.019, 0.017, 0.017],
        [401.2, 401.2, 262.2, 164.2, 102.2, 67.38, 46.22, 35.73, 25.69, 19.78, 15.12, 11.87, 9.399, 7.713, 6.449, 5.35, 4.395, 2.903, 2.095, 1.494, 1.167, 0.904, 0.688, 0.515, 0.404, 0.328, 0.274, 0.224, 0.179, 0.099, 0.066, 0.045, 0.034, 0.029, 0.029, 0.02, 0.02, 0.01, 0.01],
        [359.6, 359.6, 265.3, 159.9, 101, 63.32, 46.64, 33.13, 25.85, 20.3, 15.21, 11.68, 9.169, 7.425, 6.013, 4.859, 3.909, 2.635, 1.938, 1.461, 1.071, 0.74, 0.522, 0.418, 0.316, 0.257, 0.207, 0.171, 0.146, 0.096, 0.05, 0.043, 0.04, 0.022, 0.015, 0.015, 0.014, 0.008, 0.008],
        [360.3, 360.3, 260.3, 157.5, 93.31, 64.33, 47.11, 32.83, 24.89, 19.02, 14.82, 11.46, 9.087, 7.186, 5.737, 4.609, 3.686, 2.598, 1.763, 1.203, 0.807, 0.632, 0.492, 0.362, 0.269, 0.206, 0.135, 0.088, 0.078, 0.063, 0.033, 0.029, 0.016, 0.014, 0.014, 0.014, 0.014, 0.011, 0.011],
        [348.2, 348.2, 244.1, 148.7, 91.25, 64.35, 44.56, 33.7, 24.88, 19.21, 15.09, 11.68, 9.079, 7.077, 5.511, 4.321, 3.454, 2.289, 1.576, 1.078, 0.733, 0.51, 0.427, 0.325, 0.234, 0.19, 0.162, 0.128, 0.09, 0.052, 0.038, 0.024, 0.024, 0.015, 0.012, 0.011, 0.011, 0.005, 0.004],
        [327.9, 327.9, 239.9, 144.8, 92.2, 63.05, 43.86, 32.26, 24.68, 19.02, 14.6, 11.23, 8.581, 6.645, 5.214, 4.162, 3.356, 2.25, 1.498, 0.993, 0.68, 0.472, 0.342, 0.246, 0.194, 0.158, 0.13, 0.094, 0.058, 0.05, 0.025, 0.017, 0.013, 0.013, 0.005, 0.002, 0.001, 0.001, 0.001],
    ]
)
# fmt: on
#: shape traits (lateral scale, electron angle (deg), ring width, extinction depth) and
#: light yield (track fraction x mirror area x efficiency) of the envelope
ENVELOPE_SHAPE = (0.5, 0.7, 0.25, 2500.0, 0.0, 0.0)
ENVELOPE_YIELD = 0.1 * 6.5 * 0.12


def envelope_per_tev(energy_tev: np.ndarray, impact_m: np.ndarray) -> np.ndarray:
    """`LIGHT_POOL_ENVELOPE` at (energy, impact): the larger of the two bracketing energy
    rows, linear in impact distance (constant beyond the table)."""
    energy_tev, impact_m = np.broadcast_arrays(energy_tev, impact_m)
    n_r = len(ENVELOPE_IMPACT_M)
    log_e = np.log(ENVELOPE_ENERGY_TEV)
    j = np.clip(np.searchsorted(log_e, np.log(energy_tev)), 1, len(log_e) - 1)
    rows = np.maximum(LIGHT_POOL_ENVELOPE[j - 1], LIGHT_POOL_ENVELOPE[j])
    pos = np.interp(impact_m, ENVELOPE_IMPACT_M, np.arange(n_r))
    k = np.minimum(pos.astype(int), n_r - 2)
    f = pos - k
    low = np.take_along_axis(rows, k[..., np.newaxis], -1)[..., 0]
    high = np.take_along_axis(rows, (k + 1)[..., np.newaxis], -1)[..., 0]
    return low * (1 - f) + high * f
