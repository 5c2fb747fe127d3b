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
        [1810, 1810, 1021, 568.3, 357.9, 245.4, 180.2, 137.6, 110.2, 84.35, 72.44, 53.27, 47.2, 38.38, 34.15, 29.25, 27.8, 19.66, 15.16, 12.39, 10.94, 8.592, 7.776, 7.693, 6.244, 6.014, 5.167, 4.618, 4.001, 3.177, 2.778, 2.278, 2.064, 1.902, 1.599, 1.457, 1.294, 1.294, 1.003],
        [1487, 1487, 1138, 672.9, 393, 276.8, 214.7, 147.8, 113.4, 97.02, 79.17, 59.07, 50.38, 41.96, 37.32, 35.46, 28.09, 22.71, 17.87, 13.53, 10.73, 10.11, 8.817, 7.331, 5.995, 5.851, 5.848, 4.643, 4.02, 3.762, 3.244, 2.755, 2.182, 1.976, 1.767, 1.537, 1.537, 1.434, 1.068],
        [1735, 1735, 1207, 724, 432.9, 288.5, 216.3, 157.3, 131, 94.65, 70.89, 59.22, 52.57, 45.29, 38.21, 32.45, 27.68, 23.79, 18.49, 14.93, 12.86, 11.11, 9.03, 8.002, 7.772, 6.023, 5.721, 5.637, 5.637, 3.984, 3.072, 2.76, 2.234, 1.959, 1.959, 1.959, 1.844, 1.075, 0.927],
        [2043, 2043, 1259, 775.5, 487.1, 331.9, 217.9, 157.3, 119.8, 106.4, 82.34, 65.46, 56.38, 45.93, 41.43, 38.09, 33.36, 24.14, 19.57, 16.98, 13.87, 12.7, 11.74, 9.432, 7.206, 6.916, 6.382, 4.996, 4.685, 4.422, 3.585, 3.131, 2.521, 2.521, 2.521, 1.821, 1.577, 1.577, 1.29],
        [2007, 2007, 1425, 811.9, 485.2, 325.7, 216.8, 166.8, 132.2, 110.8, 91.63, 78.49, 66.46, 58.45, 50.13, 41.3, 32.43, 29.01, 22.05, 17.76, 15.78, 14.03, 11.92, 10.91, 9.358, 7.69, 7.356, 6.611, 5.213, 4.724, 3.663, 3.625, 2.64, 2.64, 2.229, 1.627, 1.529, 1.529, 1.11],
        [2196, 2196, 1374, 802.2, 524.7, 404.2, 267.8, 189.1, 136.6, 112.2, 94.65, 83.43, 76.12, 58.77, 49.35, 43.55, 38.76, 29.59, 24.9, 21.04, 15.56, 13.72, 12.8, 10.1, 9.035, 8.411, 7.562, 7.217, 5.793, 4.742, 4.604, 3.716, 2.475, 2.377, 2.377, 1.636, 1.357, 1.313, 1.034],
        [2011, 2011, 1429, 929.7, 616.5, 391.4, 289.9, 206.2, 179.2, 134.3, 106.3, 81.48, 73.46, 60.64, 53.63, 45.07, 40.37, 33.75, 30.3, 23.43, 20.48, 16.93, 13.53, 12.19, 10.19, 8.52, 8.125, 7.948, 6.965, 4.893, 4.223, 3.773, 3.539, 2.748, 2.596, 2.428, 2.029, 1.396, 1.321],
        [2311, 2311, 1710, 973.2, 613.3, 422.2, 323.4, 225, 173, 145.1, 119.6, 94.19, 78.7, 71.87, 71.87, 54.21, 47.08, 36.84, 29.44, 24.15, 20.22, 16.96, 15.65, 13.53, 10.55, 9.948, 9.848, 8.7, 6.669, 5.445, 4.604, 4.023, 2.914, 2.423, 2.174, 2.174, 1.916, 1.576, 1.375],
        [2610, 2610, 1811, 1157, 686.1, 511.5, 352.8, 270.8, 209, 159.4, 121.3, 104.9, 91.86, 72.07, 65.52, 57.93, 52.42, 42.25, 32.75, 26.63, 21.45, 18.63, 16.28, 14.39, 11.79, 11.75, 8.353, 7.945, 7.47, 5.588, 5.312, 4.477, 3.649, 3.091, 2.593, 2.593, 2.593, 1.707, 1.43],
    ]
)
# fmt: on
#: shape traits (lateral scale, electron angle (deg), ring width, extinction depth (g/cm^2),
#: quench past the maximum (1/X0), energy index of the yield) and light yield (track
#: fraction x mirror area (m^2) x efficiency) of the envelope: the CherenkovImageModel
#: defaults (tuned to CORSIKA, issue 19)
ENVELOPE_SHAPE = (0.19, 4.5, 0.25, 2500.0, 0.3, 0.07)
ENVELOPE_YIELD = 0.55 * (9.25 * 0.82) * (0.131 / 0.545)


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
