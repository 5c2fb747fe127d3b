"""
Performance of selected and cut MC DL2 events: energy bias and resolution, angular
resolution, ROC/AUC per energy bin, effective area before and after cuts, background
rate and the differential point-source sensitivity.

The numerics are pyirf's (``pyirf.benchmarks``, ``pyirf.irf``, ``pyirf.sensitivity``,
``pyirf.spectral``) and scikit-learn's (``roc_auc_score``); this module only chooses the
events, bins and conventions. The sensitivity follows the standard convention: 5 sigma
Li & Ma significance in 50 h with 5 OFF regions (alpha = 0.2), at least 10 excess
events and an excess of at least 5 % of the background in the ON region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int, UseEnum
from ctapipe.irf import SPECTRA, Spectra
from pyirf.benchmarks import angular_resolution, energy_bias_resolution
from pyirf.binning import calculate_bin_indices, create_histogram_table
from pyirf.irf import effective_area_per_energy
from pyirf.sensitivity import calculate_sensitivity, estimate_background
from pyirf.utils import cone_solid_angle
from sklearn.metrics import roc_auc_score

from ..io import InputFileError
from ..io.dataformat import GH_CUTS_HDU, THETA_CUTS_HDU
from ..io.traits import BoundedQuantity, check_ordered
from .binning import TrueEnergyBinning
from .cuts import GammaCuts
from .events import LoadedEvents, event_weights

__all__ = [
    "PerformanceMaker",
    "PerformanceResult",
    "REFERENCE_COLUMNS",
    "angular_resolution_table",
    "background_rate_table",
    "effective_area_table",
    "energy_resolution_table",
    "read_irf_cuts",
    "read_reference_curves",
    "roc_auc_table",
    "sensitivity_table",
]

#: Columns a reference-curve ECSV may hold, with the physical type each must have.
REFERENCE_COLUMNS = {
    "energy": u.physical.energy,
    "sensitivity": u.Unit("erg cm-2 s-1").physical_type,  # E^2 dN/dE
    "relative_sensitivity": u.physical.dimensionless,  # fraction of the Crab
    "angular_resolution": u.physical.angle,
    "energy_resolution": u.physical.dimensionless,
    "energy_bias": u.physical.dimensionless,
}


def energy_resolution_table(events: QTable, true_energy_bins: u.Quantity) -> QTable:
    """
    Energy bias (median of reco/true - 1) and resolution (half the 16-84 % inter-quantile
    distance) in bins of true energy, pyirf's `energy_bias_resolution`.
    """
    return energy_bias_resolution(events, true_energy_bins, energy_type="true")


def angular_resolution_table(events: QTable, true_energy_bins: u.Quantity) -> QTable:
    """68 % containment radius of ``theta`` in bins of true energy (pyirf)."""
    return angular_resolution(events, true_energy_bins, energy_type="true")


def effective_area_table(
    stages: dict[str, QTable], sim_info, true_energy_bins: u.Quantity
) -> QTable:
    """
    Effective area in bins of true energy after each selection stage.

    Parameters
    ----------
    stages : dict[str, QTable]
        Stage name (e.g. ``selection``, ``gh``, ``gh_theta``) -> events that pass it.
    sim_info : pyirf.simulations.SimulatedEventsInfo
        The simulated showers of the events.
    true_energy_bins : Quantity
        Bin edges.

    Returns
    -------
    QTable
        ``true_energy_low/center/high``, ``n_<stage>`` and ``effective_area_<stage>`` (m2).
    """
    table = _bin_table("true_energy", true_energy_bins)
    for name, events in stages.items():
        index, valid = calculate_bin_indices(events["true_energy"], true_energy_bins)
        table[f"n_{name}"] = np.bincount(index[valid], minlength=len(table))
        with np.errstate(invalid="ignore", divide="ignore"):  # bins outside the simulation
            area = effective_area_per_energy(events, sim_info, true_energy_bins)
        table[f"effective_area_{name}"] = area.to(u.m**2)
    return table


def roc_auc_table(gammas: QTable, background: QTable, reco_energy_bins: u.Quantity) -> QTable:
    """
    Area under the ROC curve of the gammaness (gammas vs background, unweighted) in bins
    of reconstructed energy and over all events (``meta['AUC']``, a FITS keyword),
    scikit-learn's `~sklearn.metrics.roc_auc_score`. Bins without both classes: NaN.
    """
    table = _bin_table("reco_energy", reco_energy_bins)
    g_index, g_valid = calculate_bin_indices(gammas["reco_energy"], reco_energy_bins)
    b_index, b_valid = calculate_bin_indices(background["reco_energy"], reco_energy_bins)
    auc = np.full(len(table), np.nan)
    n_g = np.zeros(len(table), dtype=int)
    n_b = np.zeros(len(table), dtype=int)
    for i in range(len(table)):
        g = np.asarray(gammas["gh_score"])[g_valid & (g_index == i)]
        b = np.asarray(background["gh_score"])[b_valid & (b_index == i)]
        n_g[i], n_b[i] = len(g), len(b)
        if len(g) and len(b):
            auc[i] = _auc(g, b)
    table["n_gamma"] = n_g
    table["n_background"] = n_b
    table["auc"] = auc
    table.meta["AUC"] = (
        _auc(np.asarray(gammas["gh_score"]), np.asarray(background["gh_score"]))
        if len(gammas) and len(background)
        else np.nan
    )
    return table


def background_rate_table(
    background: QTable,
    reco_energy_bins: u.Quantity,
    theta_cuts: QTable,
    obs_time: u.Quantity,
    fov_offset_min: u.Quantity,
    fov_offset_max: u.Quantity,
) -> QTable:
    """
    Rate of weighted background events in the ON region (the theta cut) in bins of
    reconstructed energy, from pyirf's `estimate_background` (events between
    ``fov_offset_min`` and ``fov_offset_max`` scaled to the ON-region solid angle).

    Returns
    -------
    QTable
        ``reco_energy_low/center/high``, ``n`` (raw events in the ring),
        ``background_rate`` (1/s in the ON region) and ``background_rate_per_sr``
        (1 / (s sr TeV), differential).
    """
    on = estimate_background(
        background, reco_energy_bins, theta_cuts, 1.0, fov_offset_min, fov_offset_max
    )
    table = _bin_table("reco_energy", reco_energy_bins)
    index, valid = calculate_bin_indices(background["reco_energy"], reco_energy_bins)
    ring = (background["reco_source_fov_offset"] >= fov_offset_min) & (
        background["reco_source_fov_offset"] < fov_offset_max
    )
    table["n"] = np.bincount(index[valid & ring], minlength=len(table))
    table["theta_cut"] = u.Quantity(
        np.interp(table["reco_energy_center"], theta_cuts["center"], theta_cuts["cut"])
    )
    table["background_rate"] = (u.Quantity(on["n_weighted"]) / obs_time).to(1 / u.s)
    width = table["reco_energy_high"] - table["reco_energy_low"]
    table["background_rate_per_sr"] = (
        table["background_rate"] / cone_solid_angle(table["theta_cut"]) / width
    ).to(1 / (u.s * u.sr * u.TeV))
    return table


def sensitivity_table(
    signal_hist: QTable,
    background_hist: QTable,
    alpha: float,
    reference_spectrum,
    min_significance: float = 5.0,
    min_signal_events: float = 10,
    min_excess_over_background: float = 0.05,
) -> QTable:
    """
    Differential point-source sensitivity, pyirf's `calculate_sensitivity`, in units of
    the reference spectrum and as a flux.

    Parameters
    ----------
    signal_hist : QTable
        Weighted signal counts (``n``, ``n_weighted``) in the ON region for the
        observation time, in bins of reconstructed energy.
    background_hist : QTable
        Weighted background counts in the OFF regions (``estimate_background`` with
        ``alpha``).
    alpha : float
        ON / OFF exposure ratio (1 / number of OFF regions).
    reference_spectrum : pyirf spectral model
        The spectrum the signal is weighted to (the Crab).
    min_significance, min_signal_events, min_excess_over_background : float
        The detection conditions.

    Returns
    -------
    QTable
        pyirf's columns (``n_signal_weighted`` is the excess at the sensitivity flux,
        ``n_background_weighted`` the OFF counts), ``relative_sensitivity`` (fraction of
        the reference), ``crab_percent``, ``flux_sensitivity`` (1 / (TeV cm2 s)),
        ``energy_flux_sensitivity`` (E^2 dN/dE, erg / (cm2 s)) and ``limited_by``
        (``significance``, ``min_signal_events``, ``min_excess_over_background``,
        ``no_signal``).
    """
    table = calculate_sensitivity(
        signal_hist,
        background_hist,
        alpha=alpha,
        min_significance=min_significance,
        min_signal_events=min_signal_events,
        min_excess_over_background=min_excess_over_background,
    )
    relative = np.asarray(table["relative_sensitivity"], dtype=float)
    energy = u.Quantity(table["reco_energy_center"])
    flux = relative * reference_spectrum(energy)
    table["crab_percent"] = u.Quantity(100 * relative, u.percent)
    table["flux_sensitivity"] = flux.to(1 / (u.TeV * u.cm**2 * u.s))
    table["energy_flux_sensitivity"] = (energy**2 * flux).to(u.erg / (u.cm**2 * u.s))
    excess = np.asarray(table["n_signal_weighted"], dtype=float)
    on_background = alpha * np.asarray(table["n_background_weighted"], dtype=float)
    limited = np.full(len(table), "significance", dtype="<U26")
    with np.errstate(invalid="ignore"):
        need = np.maximum(min_signal_events, min_excess_over_background * on_background)
        scaled = np.isclose(excess, need, rtol=1e-6)
    limited[scaled & (min_signal_events >= min_excess_over_background * on_background)] = (
        "min_signal_events"
    )
    limited[scaled & (min_signal_events < min_excess_over_background * on_background)] = (
        "min_excess_over_background"
    )
    limited[~np.isfinite(relative)] = "no_signal"
    table["limited_by"] = limited
    # as FITS keywords: ON/OFF ratio, significance, excess events, excess / ON background
    table.meta.update(
        ALPHA=alpha,
        MINSIGMA=min_significance,
        MINEXCES=min_signal_events,
        MINFRAC=min_excess_over_background,
    )
    return table


@dataclass
class PerformanceResult:
    """The performance tables (QTables with units), keyed as written (HDU names)."""

    tables: dict[str, QTable] = field(default_factory=dict)

    def __getitem__(self, key: str) -> QTable:
        return self.tables[key]


class PerformanceMaker(TrueEnergyBinning, Component):
    """
    Computes the performance tables of point-like gammas (and diffuse protons) for given
    cuts.

    Energy bias and resolution use gammas after the gammaness and theta cuts, the angular
    resolution gammas after the gammaness cut only (a theta cut would truncate it); both
    in bins of true energy. The effective area is given after the event selection, after
    the gammaness cut and after both cuts. ROC/AUC compare the gammaness of all selected
    gammas and protons per reconstructed-energy bin. The background (protons after the
    gammaness cut, within ``background_fov_offset_min/max`` of the pointing) is scaled to
    the ON region and to ``1 / alpha`` OFF regions; the signal is the gammas after both
    cuts weighted to ``reference_spectrum`` for ``obs_time``.
    """

    true_energy_n_bins_per_decade = Int(5, min=1, help="True-energy bins per decade").tag(
        config=True
    )
    obs_time = BoundedQuantity(
        default_value=50 * u.hour,
        physical_type=u.physical.time,
        min=0 * u.s,
        exclusive_min=True,
        help="Observation time of the sensitivity",
    ).tag(config=True)
    n_off_regions = Int(5, min=1, help="OFF regions (alpha = 1 / n_off_regions)").tag(config=True)
    min_significance = Float(5.0, min=0.0, help="Li & Ma significance of a detection").tag(
        config=True
    )
    min_signal_events = Float(10.0, min=0.0, help="Minimum number of excess events").tag(
        config=True
    )
    min_excess_over_background = Float(
        0.05, min=0.0, help="Minimum excess as a fraction of the ON-region background"
    ).tag(config=True)
    background_fov_offset_min = BoundedQuantity(
        default_value=0.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        help="Inner radius of the FoV ring whose protons estimate the background",
    ).tag(config=True)
    background_fov_offset_max = BoundedQuantity(
        default_value=1.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Outer radius of the FoV ring whose protons estimate the background",
    ).tag(config=True)
    reference_spectrum = UseEnum(
        Spectra, default_value=Spectra.CRAB_HEGRA, help="Spectrum of the signal (sensitivity unit)"
    ).tag(config=True)
    proton_spectrum = UseEnum(
        Spectra, default_value=Spectra.IRFDOC_PROTON_SPECTRUM, help="Spectrum of the protons"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_ordered(
            self,
            [
                ("true_energy_min", "true_energy_max"),
                ("background_fov_offset_min", "background_fov_offset_max"),
            ],
        )

    @property
    def alpha(self) -> float:
        """ON / OFF exposure ratio."""
        return 1.0 / self.n_off_regions

    def __call__(
        self, gammas: LoadedEvents, cuts: GammaCuts, protons: LoadedEvents | None = None
    ) -> PerformanceResult:
        """
        Compute the tables.

        Parameters
        ----------
        gammas : LoadedEvents
            Selected point-like gammas.
        cuts : GammaCuts
            Gammaness and theta cuts (their bins are the reconstructed-energy bins).
        protons : LoadedEvents, optional
            Selected diffuse protons; without them there is no ROC, background or
            sensitivity table.

        Returns
        -------
        PerformanceResult
        """
        if not gammas.point_like:
            raise InputFileError(f"{gammas.path}: the performance needs point-like gammas")
        events = gammas.events
        events["weight"] = event_weights(gammas, SPECTRA[self.reference_spectrum], self.obs_time)
        gh = cuts.gh_mask(events)
        both = gh & cuts.theta_mask(events)
        true_bins, reco_bins = self.true_energy_bins, cuts.reco_energy_bins
        tables = {
            "ENERGY_RESOLUTION": energy_resolution_table(events[both], true_bins),
            "ANGULAR_RESOLUTION": angular_resolution_table(events[gh], true_bins),
            "EFFECTIVE_AREA": effective_area_table(
                {"selection": events, "gh": events[gh], "gh_theta": events[both]},
                gammas.sim_info,
                true_bins,
            ),
        }
        if protons is not None:
            bkg = protons.events
            bkg["weight"] = event_weights(protons, SPECTRA[self.proton_spectrum], self.obs_time)
            tables["ROC_AUC"] = roc_auc_table(events, bkg, reco_bins)
            bkg_gh = bkg[cuts.gh_mask(bkg)]
            ring = (self.background_fov_offset_min, self.background_fov_offset_max)
            tables["BACKGROUND_RATE"] = background_rate_table(
                bkg_gh, reco_bins, cuts.theta_cuts, self.obs_time, *ring
            )
            signal = create_histogram_table(events[both], reco_bins, key="reco_energy")
            off = estimate_background(bkg_gh, reco_bins, cuts.theta_cuts, self.alpha, *ring)
            tables["SENSITIVITY"] = sensitivity_table(
                signal,
                off,
                self.alpha,
                SPECTRA[self.reference_spectrum],
                self.min_significance,
                self.min_signal_events,
                self.min_excess_over_background,
            )
            tables["SENSITIVITY"].meta["OBSTIME"] = str(self.obs_time.to(u.h))
        tables[GH_CUTS_HDU] = cuts.gh_cuts
        tables[THETA_CUTS_HDU] = cuts.theta_cuts
        return PerformanceResult(tables)


def read_irf_cuts(path: Path | str) -> tuple[GammaCuts, fits.Header]:
    """
    The gammaness and theta cuts stored in an ``iactpipe-irf`` file.

    Returns
    -------
    tuple[GammaCuts, Header]
        The cuts and the primary header (``SELFP`` is the event-selection fingerprint).

    Raises
    ------
    InputFileError
        Missing file or a file without ``GH_CUTS`` / ``THETA_CUTS``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header.copy()
            gh = QTable.read(hdul[GH_CUTS_HDU])
            theta = QTable.read(hdul[THETA_CUTS_HDU])
    except (OSError, KeyError) as err:
        raise InputFileError(
            f"{path}: not an iactpipe-irf file with GH_CUTS and THETA_CUTS"
        ) from err
    cuts = GammaCuts(
        gh,
        theta,
        float(header.get("GAMMAEFF", np.nan)),
        float(header.get("THETACNT", np.nan)),
        f"from {path.name}",
    )
    return cuts, header


def read_reference_curves(path: Path | str) -> QTable:
    """
    Reference curves (e.g. published points) from an ECSV file.

    The file needs an ``energy`` column and at least one of ``sensitivity`` (E^2 dN/dE),
    ``relative_sensitivity``, ``angular_resolution``, ``energy_resolution``,
    ``energy_bias``, each with a unit of the physical type in `REFERENCE_COLUMNS`
    (dimensionless columns may have no unit). ``meta['label']`` names the curve in plots
    (default: the file name).

    Raises
    ------
    InputFileError
        Missing or unreadable file, missing columns or units of the wrong kind.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such reference-curve file")
    try:
        table = QTable.read(path, format="ascii.ecsv")
    except Exception as err:  # astropy raises many types for malformed ECSV
        raise InputFileError(f"{path}: not a readable ECSV table ({err})") from err
    known = [c for c in REFERENCE_COLUMNS if c in table.colnames and c != "energy"]
    if "energy" not in table.colnames or not known:
        raise InputFileError(
            f"{path}: a reference curve needs 'energy' and one of "
            f"{[c for c in REFERENCE_COLUMNS if c != 'energy']}"
        )
    for name in ["energy", *known]:
        unit = getattr(table[name], "unit", None) or u.one
        if unit.physical_type != REFERENCE_COLUMNS[name]:
            raise InputFileError(
                f"{path}: column '{name}' has unit '{unit}', expected a "
                f"{REFERENCE_COLUMNS[name]} unit"
            )
        table[name] = u.Quantity(table[name], unit)
    table.meta.setdefault("label", path.stem)
    return table


def _bin_table(key: str, bins: u.Quantity) -> QTable:
    return QTable(
        {
            f"{key}_low": bins[:-1],
            f"{key}_center": np.sqrt(bins[:-1] * bins[1:]),
            f"{key}_high": bins[1:],
        }
    )


def _auc(gamma_scores: np.ndarray, background_scores: np.ndarray) -> float:
    labels = np.r_[np.ones(len(gamma_scores)), np.zeros(len(background_scores))]
    return float(roc_auc_score(labels, np.r_[gamma_scores, background_scores]))
