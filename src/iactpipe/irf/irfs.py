"""
IRF HDUs (GADF) from selected events and cuts, with ctapipe's IRF makers (pyirf).

`IRFMaker` owns the binning and the target spectra and composes
`ctapipe.irf.EffectiveArea2dMaker`, `EnergyDispersion2dMaker`, `PSF3DMaker` and
`BackgroundRate2dMaker`; nothing is binned or integrated here.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.io import fits
from ctapipe.core import Component
from ctapipe.core.traits import Int, UseEnum
from ctapipe.irf import (
    SPECTRA,
    BackgroundRate2dMaker,
    EffectiveArea2dMaker,
    EnergyDispersion2dMaker,
    PSF3DMaker,
    Spectra,
)
from pyirf.io import create_rad_max_hdu

from ..io.traits import BoundedQuantity, check_ordered
from .binning import TrueEnergyBinning
from .cuts import GammaCuts
from .events import LoadedEvents, event_weights

__all__ = ["IRFMaker"]


class IRFMaker(TrueEnergyBinning, Component):
    """
    Effective area, energy dispersion, PSF table and background rate, full-enclosure
    (gammaness cut only) or point-like (gammaness and theta cut, with ``RAD_MAX``).

    Full-enclosure IRFs of diffuse gammas are binned in ``fov_offset_n_bins`` offset
    bins up to ``fov_offset_max``; IRFs of point-like gammas have one offset bin
    ``[0, 2 x source offset]`` (centred on the simulated offset). The background is
    binned in ``background_fov_offset_n_bins`` up to ``background_fov_offset_max``.
    True-energy bins without selected gammas have zero effective area and a zero
    migration column (gammapy treats both as no response); bins whose cut could not be
    defined (fewer than ``EventCuts.min_events_per_bin`` gammas) reject every event.
    """

    true_energy_n_bins_per_decade = Int(10, min=1, help="True-energy bins per decade").tag(
        config=True
    )
    reco_energy_min = BoundedQuantity(
        default_value=0.3 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Lowest reco energy",
    ).tag(config=True)
    reco_energy_max = BoundedQuantity(
        default_value=300 * u.TeV,
        physical_type=u.physical.energy,
        min=0 * u.TeV,
        exclusive_min=True,
        help="Highest reco energy",
    ).tag(config=True)
    reco_energy_n_bins_per_decade = Int(
        5, min=1, help="Background reco-energy bins per decade"
    ).tag(config=True)
    fov_offset_max = BoundedQuantity(
        default_value=2.5 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Outer edge of the FoV offset bins (diffuse gammas)",
    ).tag(config=True)
    fov_offset_n_bins = Int(5, min=1, help="FoV offset bins (diffuse gammas)").tag(config=True)
    background_fov_offset_max = BoundedQuantity(
        default_value=3.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="Outer edge of the background FoV offset bins",
    ).tag(config=True)
    background_fov_offset_n_bins = Int(3, min=1, help="Background FoV offset bins").tag(config=True)
    source_offset_max = BoundedQuantity(
        default_value=1.0 * u.deg,
        physical_type=u.physical.angle,
        min=0 * u.deg,
        exclusive_min=True,
        help="PSF table extent",
    ).tag(config=True)
    source_offset_n_bins = Int(100, min=1, help="PSF table bins").tag(config=True)
    energy_migration_n_bins = Int(30, min=1, help="Migration bins between 0.2 and 5").tag(
        config=True
    )
    obs_time = BoundedQuantity(
        default_value=50 * u.hour,
        physical_type=u.physical.time,
        min=0 * u.s,
        exclusive_min=True,
        help="Observation time the weights are normalised to",
    ).tag(config=True)
    gamma_target_spectrum = UseEnum(
        Spectra, default_value=Spectra.CRAB_HEGRA, help="Spectrum the gammas are weighted to"
    ).tag(config=True)
    proton_target_spectrum = UseEnum(
        Spectra,
        default_value=Spectra.IRFDOC_PROTON_SPECTRUM,
        help="Cosmic-ray proton spectrum the protons are weighted to",
    ).tag(config=True)
    electron_target_spectrum = UseEnum(
        Spectra,
        default_value=Spectra.IRFDOC_ELECTRON_SPECTRUM,
        help="Cosmic-ray electron spectrum the electrons are weighted to",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_ordered(
            self, [("true_energy_min", "true_energy_max"), ("reco_energy_min", "reco_energy_max")]
        )

    def _energy(self, kind: str) -> dict:
        return {
            f"{kind}_energy_min": getattr(self, f"{kind}_energy_min"),
            f"{kind}_energy_max": getattr(self, f"{kind}_energy_max"),
            f"{kind}_energy_n_bins_per_decade": getattr(self, f"{kind}_energy_n_bins_per_decade"),
        }

    def fov_offset_bins(self, gammas: LoadedEvents) -> dict:
        """Offset binning traits of the ctapipe makers for ``gammas``."""
        if gammas.point_like:
            offset = np.median(u.Quantity(gammas.events["true_source_fov_offset"]).to(u.deg))
            if not np.isfinite(offset):
                offset = 0.0 * u.deg
            return dict(
                fov_offset_min=0 * u.deg,
                fov_offset_max=max(2 * offset, 0.1 * u.deg),
                fov_offset_n_bins=1,
            )
        return dict(
            fov_offset_min=0 * u.deg,
            fov_offset_max=self.fov_offset_max,
            fov_offset_n_bins=self.fov_offset_n_bins,
        )

    def weight(self, loaded: LoadedEvents, kind: str) -> None:
        """Set ``loaded.events['weight']`` to the target spectrum of ``kind``."""
        spectrum = SPECTRA[getattr(self, f"{kind}_target_spectrum")]
        loaded.events["weight"] = event_weights(loaded, spectrum, self.obs_time)

    def __call__(
        self,
        gammas: LoadedEvents,
        cuts: GammaCuts,
        point_like: bool,
        backgrounds: list[LoadedEvents] | None = None,
    ) -> list[fits.BinTableHDU]:
        """
        The IRF HDUs.

        Parameters
        ----------
        gammas : LoadedEvents
            Selected gammas (point-like or diffuse).
        cuts : GammaCuts
            The cuts to apply.
        point_like : bool
            Apply the theta cut and write ``RAD_MAX`` (no PSF) instead of full enclosure.
        backgrounds : list of LoadedEvents, optional
            Weighted protons (and electrons): the ``BACKGROUND`` HDU.

        Returns
        -------
        list of BinTableHDU
        """
        events = gammas.events
        selected = cuts.gh_mask(events)
        psf_events = events[selected]
        if point_like:
            selected &= cuts.theta_mask(events)
        offsets = self.fov_offset_bins(gammas)
        true_e = self._energy("true")
        aeff = EffectiveArea2dMaker(parent=self, **true_e, **offsets)
        edisp = EnergyDispersion2dMaker(
            parent=self, **true_e, **offsets, energy_migration_n_bins=self.energy_migration_n_bins
        )
        hdus = [
            aeff(
                events[selected],
                spatial_selection_applied=point_like,
                signal_is_point_like=gammas.point_like,
                sim_info=gammas.sim_info,
            ),
            edisp(events[selected], spatial_selection_applied=point_like),
        ]
        if point_like:
            theta = cuts.theta_cuts
            hdus.append(
                create_rad_max_hdu(
                    rad_max=u.Quantity(theta["cut"]).reshape(-1, 1),
                    reco_energy_bins=np.append(theta["low"], theta["high"][-1]),
                    fov_offset_bins=aeff.fov_offset_bins,
                )
            )
        else:
            psf = PSF3DMaker(
                parent=self,
                **true_e,
                **offsets,
                source_offset_max=self.source_offset_max,
                source_offset_n_bins=self.source_offset_n_bins,
            )
            hdus.append(psf(psf_events))
        if backgrounds:
            from astropy.table import vstack

            bkg = vstack([b.events[cuts.gh_mask(b.events)] for b in backgrounds])
            maker = BackgroundRate2dMaker(
                parent=self,
                **self._energy("reco"),
                fov_offset_min=0 * u.deg,
                fov_offset_max=self.background_fov_offset_max,
                fov_offset_n_bins=self.background_fov_offset_n_bins,
            )
            hdus.append(maker(bkg, self.obs_time))
        return hdus
