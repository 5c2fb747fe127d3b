"""High-level analysis of GADF DL3 data with gammapy: observation selection, theta² and
Li & Ma significance, exclusion regions, FoV- and ring-background sky maps, 1D spectrum
with reflected regions, light curve, integral flux upper limits, the background
acceptance model made from the runs and the quick-look report."""

from .acceptance import (
    BackgroundAcceptanceModel,
    FoV2DBackgroundAcceptanceModel,
    RadialBackgroundAcceptanceModel,
    ZenithBinnedAcceptance,
    write_background_files,
)
from .exclusion import ExclusionRegions, exclusion_mask, read_regions
from .lightcurve import LightCurveAnalysis, night_intervals
from .report import SUMMARY_KEYS, format_measurement, format_number, render_html, write_report
from .runs import run_rows, zenith_angle
from .selection import ObservationSelector, select_observations
from .skymaps import SkyMapAnalysis, SkyMaps, map_width
from .spectrum import (
    SPECTRAL_MODELS,
    SpectralFit,
    SpectrumAnalysis,
    injected_crab_model,
    make_spectral_model,
)
from .targets import CATALOGUE, Target, resolve_target
from .theta2 import (
    OnOffCounts,
    Theta2Analysis,
    cumulative_counts,
    li_ma_significance,
    on_off_counts,
)
from .upper_limits import UpperLimitEstimator, crab_integral_flux, n_sigma_for_confidence

__all__ = [
    "BackgroundAcceptanceModel",
    "CATALOGUE",
    "FoV2DBackgroundAcceptanceModel",
    "RadialBackgroundAcceptanceModel",
    "ZenithBinnedAcceptance",
    "ExclusionRegions",
    "LightCurveAnalysis",
    "ObservationSelector",
    "OnOffCounts",
    "SPECTRAL_MODELS",
    "SUMMARY_KEYS",
    "SkyMapAnalysis",
    "SkyMaps",
    "SpectralFit",
    "SpectrumAnalysis",
    "Target",
    "Theta2Analysis",
    "UpperLimitEstimator",
    "crab_integral_flux",
    "cumulative_counts",
    "exclusion_mask",
    "format_measurement",
    "format_number",
    "injected_crab_model",
    "li_ma_significance",
    "map_width",
    "make_spectral_model",
    "n_sigma_for_confidence",
    "night_intervals",
    "on_off_counts",
    "read_regions",
    "render_html",
    "resolve_target",
    "run_rows",
    "select_observations",
    "write_background_files",
    "write_report",
    "zenith_angle",
]
