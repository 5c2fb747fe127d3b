"""
DL2 event loading and the event selection shared by the IRF and DL3 steps.

`DL2EventSelection` holds every quality criterion (image intensity and leakage per
telescope, multiplicity, validity of the reconstructions, stereo consistency); a DL3
tool composes the same Component so that its fingerprint, stored in each IRF file, can
be compared with the one used for the events. `load_dl2_events` reads the selected events
of an MC DL2 file (`iactpipe.io.dl2.DL2EventReader`) with pyirf's column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.table import QTable, vstack
from ctapipe.coordinates import NominalFrame
from ctapipe.core import Component
from ctapipe.core.traits import Float, Int, Unicode
from ctapipe.io import TableLoader
from pyirf.simulations import SimulatedEventsInfo
from pyirf.spectral import PowerLaw, calculate_event_weights
from pyirf.utils import calculate_source_fov_offset, calculate_theta
from tables import NoSuchNodeError

from ..io import InputFileError
from ..io.dl2 import DL2EventReader

__all__ = [
    "DL2EventSelection",
    "LoadedEvents",
    "event_weights",
    "load_dl2_events",
    "simulation_info",
]


class DL2EventSelection(Component):
    """
    Quality selection of DL2 events before any gammaness or direction cut.

    A telescope counts for an event when it took part in the energy, particle and
    geometry reconstruction and its image passes the intensity and leakage cuts; the
    event is kept when at least ``min_multiplicity`` telescopes count, all three
    reconstructions are valid and the stereo consistency cuts pass (a cut set to
    ``inf`` is off; NaN values, e.g. of mono events, pass an ``inf`` cut only).
    """

    energy_prefix = Unicode("EnergyModel", help="Prefix of the reconstructed energy").tag(
        config=True
    )
    classifier_prefix = Unicode("ParticleModel", help="Prefix of the gammaness").tag(config=True)
    geometry_prefix = Unicode("disp", help="Prefix of the reconstructed direction").tag(config=True)
    min_multiplicity = Int(2, min=1, help="Minimum number of telescopes that count").tag(
        config=True
    )
    min_intensity_pe = Float(
        50.0, min=0.0, help="Minimum image intensity (p.e.) of a telescope"
    ).tag(config=True)
    max_leakage_intensity_width_2 = Float(
        0.2, min=0.0, help="Maximum fraction of the intensity in the two outermost pixel rings"
    ).tag(config=True)
    max_log_energy_std = Float(
        np.inf, min=0.0, help="Maximum std of log10(E) between telescopes (stereo consistency)"
    ).tag(config=True)
    max_gammaness_std = Float(
        np.inf, min=0.0, help="Maximum std of the gammaness between telescopes (stereo consistency)"
    ).tag(config=True)
    max_disp_distance_deg = Float(
        np.inf, min=0.0, help="Maximum distance (deg) between the telescopes' disp directions"
    ).tag(config=True)

    @property
    def prefixes(self) -> tuple[str, str, str]:
        """The (energy, classifier, geometry) prefixes."""
        return self.energy_prefix, self.classifier_prefix, self.geometry_prefix

    def telescope_mask(self, intensity: np.ndarray, leakage: np.ndarray) -> np.ndarray:
        """Which telescope images pass the intensity and leakage cuts."""
        return (intensity >= self.min_intensity_pe) & (
            leakage <= self.max_leakage_intensity_width_2
        )

    def event_mask(self, events: QTable, multiplicity: np.ndarray) -> np.ndarray:
        """Which events pass, given the number of telescopes that count per event."""
        e, c, g = self.prefixes
        mask = multiplicity >= self.min_multiplicity
        for prefix in self.prefixes:
            mask &= np.asarray(events[f"{prefix}_is_valid"], dtype=bool)
        for column, limit in (
            (f"{e}_log_energy_std", self.max_log_energy_std),
            (f"{c}_prediction_std", self.max_gammaness_std),
            (f"{g}_disp_distance", self.max_disp_distance_deg),
        ):
            if np.isfinite(limit):
                values = u.Quantity(events[column]).value
                mask &= np.nan_to_num(values, nan=np.inf) <= limit
        return mask


@dataclass
class LoadedEvents:
    """
    Selected events of one DL2 file with pyirf's column names.

    Attributes
    ----------
    events : QTable
        true/reco energy, alt, az, pointing, gh_score, theta, fov offsets, multiplicity.
    sim_info : SimulatedEventsInfo
        The simulated showers (from the simulation configuration and shower distribution).
    n_raw : int
        Subarray events in the file before the selection.
    point_like : bool
        Whether the showers were simulated at a single point in the field of view.
    pointing : tuple[Quantity, Quantity]
        Zenith and azimuth of the (fixed) pointing.
    path : Path
        The file.
    """

    events: QTable
    sim_info: SimulatedEventsInfo
    n_raw: int
    point_like: bool
    pointing: tuple[u.Quantity, u.Quantity]
    path: Path


def simulation_info(loader: TableLoader, path: Path) -> SimulatedEventsInfo:
    """
    The simulated showers of a file as pyirf's `SimulatedEventsInfo`.

    Raises
    ------
    InputFileError
        Without simulation configuration, or when runs of the file differ in energy
        range, spectral index, scatter radius or view cone, or the number of showers
        in the shower distribution disagrees with the configuration.
    """
    try:
        config = loader.read_simulation_configuration()
    except (NoSuchNodeError, KeyError, OSError) as err:
        raise InputFileError(f"{path}: no simulation configuration (not an MC DL2 file)") from err
    if len(config) == 0:
        raise InputFileError(f"{path}: empty simulation configuration (not an MC DL2 file)")
    for column in (
        "spectral_index",
        "energy_range_min",
        "energy_range_max",
        "max_scatter_range",
        "max_viewcone_radius",
        "min_viewcone_radius",
    ):
        if len(np.unique(config[column])) > 1:
            raise InputFileError(f"{path}: '{column}' differs between the simulation runs")
    n_config = int((config["n_showers"] * config["shower_reuse"]).sum())
    try:
        n_dist = int(loader.read_shower_distribution()["n_entries"].sum())
    except (NoSuchNodeError, KeyError):
        n_dist = n_config
    if n_dist != n_config:
        raise InputFileError(
            f"{path}: {n_dist} showers in the shower distribution, {n_config} in the "
            "simulation configuration"
        )
    return SimulatedEventsInfo(
        n_showers=n_config,
        energy_min=config["energy_range_min"].quantity[0],
        energy_max=config["energy_range_max"].quantity[0],
        max_impact=config["max_scatter_range"].quantity[0],
        spectral_index=float(config["spectral_index"][0]),
        viewcone_min=config["min_viewcone_radius"].quantity[0],
        viewcone_max=config["max_viewcone_radius"].quantity[0],
    )


def _derived_columns(chunk, selection: DL2EventSelection) -> QTable:
    e, c, g = selection.prefixes
    events = QTable(
        {
            "obs_id": chunk["obs_id"],
            "event_id": chunk["event_id"],
            "true_energy": u.Quantity(chunk["true_energy"], u.TeV),
            "true_alt": u.Quantity(chunk["true_alt"], u.deg),
            "true_az": u.Quantity(chunk["true_az"], u.deg),
            "reco_energy": u.Quantity(chunk[f"{e}_energy"], u.TeV),
            "reco_alt": u.Quantity(chunk[f"{g}_alt"], u.deg),
            "reco_az": u.Quantity(chunk[f"{g}_az"], u.deg),
            "pointing_alt": u.Quantity(chunk["subarray_pointing_lat"], u.deg),
            "pointing_az": u.Quantity(chunk["subarray_pointing_lon"], u.deg),
            "gh_score": np.asarray(chunk[f"{c}_prediction"], dtype=np.float64),
        }
    )
    events["theta"] = calculate_theta(
        events, assumed_source_az=events["true_az"], assumed_source_alt=events["true_alt"]
    )
    events["true_source_fov_offset"] = calculate_source_fov_offset(events, prefix="true")
    events["reco_source_fov_offset"] = calculate_source_fov_offset(events, prefix="reco")
    pointing = SkyCoord(alt=events["pointing_alt"], az=events["pointing_az"], frame=AltAz())
    reco = SkyCoord(alt=events["reco_alt"], az=events["reco_az"], frame=AltAz())
    nominal = reco.transform_to(NominalFrame(origin=pointing))
    events["reco_fov_lon"] = u.Quantity(-nominal.fov_lon)  # GADF sign
    events["reco_fov_lat"] = u.Quantity(nominal.fov_lat)
    events["weight"] = np.ones(len(events))
    return events


def load_dl2_events(
    path: Path | str, selection: DL2EventSelection, chunk_size: int = 100_000
) -> LoadedEvents:
    """
    Read an MC DL2 file chunk by chunk and keep the events that pass ``selection``.

    Parameters
    ----------
    path : Path or str
        ctapipe/iactpipe DL2 HDF5 file with simulation information.
    selection : DL2EventSelection
        The quality selection.
    chunk_size : int
        Subarray events read at once.

    Returns
    -------
    LoadedEvents

    Raises
    ------
    InputFileError
        Missing file, simulation information, DL2 columns, or a pointing that varies.
    """
    reader = DL2EventReader(path, selection, chunk_size, simulated=True, observation_info=True)
    path = reader.path
    chunks = []
    with reader:
        sim_info = simulation_info(reader.loader, path)
        for selected in reader:
            events = _derived_columns(selected.events, selection)
            events["multiplicity"] = selected.multiplicity.astype(np.int16)
            chunks.append(events)
    n_raw = reader.n_raw
    events = vstack(chunks, metadata_conflicts="silent")
    alt = u.Quantity(events["pointing_alt"]) if len(events) else u.Quantity([90.0], u.deg)
    if len(events) and np.ptp(alt.to_value(u.deg)) > 1e-3:
        raise InputFileError(f"{path}: the pointing varies; IRFs need a fixed pointing")
    zenith = (90 * u.deg - alt[0]).to(u.deg)
    azimuth = u.Quantity(events["pointing_az"][0] if len(events) else 0 * u.deg).to(u.deg)
    point_like = bool(sim_info.viewcone_max == sim_info.viewcone_min)
    return LoadedEvents(events, sim_info, n_raw, point_like, (zenith, azimuth), path)


def event_weights(loaded: LoadedEvents, target_spectrum, obs_time: u.Quantity) -> np.ndarray:
    """
    Weights that re-weight the simulated power law to ``target_spectrum``.

    Parameters
    ----------
    loaded : LoadedEvents
        Events and their simulation info.
    target_spectrum : pyirf spectral model
        E.g. ``pyirf.spectral.CRAB_HEGRA`` (point source) or
        ``IRFDOC_PROTON_SPECTRUM`` (diffuse).
    obs_time : Quantity
        Observation time; weights then give expected counts in ``obs_time``.
    """
    simulated = PowerLaw.from_simulation(loaded.sim_info, obstime=obs_time)
    if not simulated.normalization.unit.is_equivalent(target_spectrum.normalization.unit):
        raise InputFileError(
            f"{loaded.path}: simulated spectrum ({simulated.normalization.unit}) and target "
            f"spectrum ({target_spectrum.normalization.unit}) are not both point-like or "
            "both diffuse"
        )
    return calculate_event_weights(
        loaded.events["true_energy"],
        target_spectrum=target_spectrum,
        simulated_spectrum=simulated,
    )
