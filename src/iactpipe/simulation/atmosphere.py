"""Isothermal exponential atmosphere used by the toy simulator.

All functions work on plain floats in SI-like units (metres above sea level,
g/cm^2, g/cm^3) so that they can be called from numba kernels.

References
----------
- Isothermal atmosphere, scale height 8.4 km: e.g. T. K. Gaisser, R. Engel,
  E. Resconi, "Cosmic Rays and Particle Physics", 2nd ed., ch. 5.
- Refractive index n - 1 = 2.9e-4 at sea level scaling with density.
"""

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.atmosphere import TableAtmosphereDensityProfile
from numba import njit

__all__ = [
    "RHO0_G_CM3",
    "SCALE_HEIGHT_M",
    "X0_G_CM2",
    "cherenkov_cos_angle",
    "density",
    "height_of_vertical_depth",
    "mean_refractive_excess",
    "refractive_excess",
    "table_profile",
    "vertical_depth",
]

#: sea-level density of air (g/cm^3)
RHO0_G_CM3 = 1.225e-3
#: scale height of the isothermal atmosphere (m)
SCALE_HEIGHT_M = 8400.0
#: radiation length of air (g/cm^2)
X0_G_CM2 = 36.7
#: refractive excess n - 1 at sea level
N_EXCESS0 = 2.9e-4


@njit(cache=True)
def density(h_m: float) -> float:
    """Air density (g/cm^3) at height ``h_m`` above sea level."""
    return RHO0_G_CM3 * np.exp(-h_m / SCALE_HEIGHT_M)


@njit(cache=True)
def vertical_depth(h_m: float) -> float:
    """Vertical atmospheric depth (g/cm^2) above height ``h_m``."""
    return RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M * np.exp(-h_m / SCALE_HEIGHT_M)


@njit(cache=True)
def height_of_vertical_depth(x_g_cm2: float) -> float:
    """Height above sea level (m) at which the vertical depth is ``x_g_cm2``."""
    x_sea = RHO0_G_CM3 * 100.0 * SCALE_HEIGHT_M
    return SCALE_HEIGHT_M * np.log(x_sea / max(x_g_cm2, 1e-3))


@njit(cache=True)
def refractive_excess(h_m: float) -> float:
    """Refractive excess n - 1 at height ``h_m``."""
    return N_EXCESS0 * np.exp(-h_m / SCALE_HEIGHT_M)


@njit(cache=True)
def mean_refractive_excess(h1_m: float, h2_m: float) -> float:
    """Mean n - 1 along a straight path between heights ``h1_m`` and ``h2_m``."""
    dh = h2_m - h1_m
    if abs(dh) < 1.0:
        return refractive_excess(0.5 * (h1_m + h2_m))
    return (
        N_EXCESS0
        * SCALE_HEIGHT_M
        * (np.exp(-h1_m / SCALE_HEIGHT_M) - np.exp(-h2_m / SCALE_HEIGHT_M))
        / dh
    )


@njit(cache=True)
def cherenkov_cos_angle(h_m: float) -> float:
    """Cosine of the Cherenkov angle of an ultra-relativistic particle at ``h_m``."""
    return 1.0 / (1.0 + refractive_excess(h_m))


def table_profile(max_height: u.Quantity = 40 * u.km) -> TableAtmosphereDensityProfile:
    """The simulator's atmosphere as a ctapipe ``TableAtmosphereDensityProfile``.

    Tabulated so that ctapipe's ``DataWriter`` can store it in simulation files.
    """
    heights = np.linspace(0.0, max_height.to_value(u.m), 201)
    table = Table(
        {
            "height": (heights * u.m).to(u.km),
            "density": RHO0_G_CM3 * np.exp(-heights / SCALE_HEIGHT_M) * u.g / u.cm**3,
            "column_density": RHO0_G_CM3
            * 100.0
            * SCALE_HEIGHT_M
            * np.exp(-heights / SCALE_HEIGHT_M)
            * u.g
            / u.cm**2,
        }
    )
    return TableAtmosphereDensityProfile(table)
