"""iactpipe-performance: resolutions, ROC/AUC, effective area, background and sensitivity."""

from __future__ import annotations

import gzip
from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
from astropy.io import fits
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Int, List, Path, flag

from ..io import (
    AtomicOutputFile,
    InputFileError,
    check_output_path,
    config_fingerprint,
    effective_config,
)
from ..io.config_guard import ALLOW_CONFIG_MISMATCH_FLAG, ConfigGuard
from ..io.dataformat import SELECTION_FINGERPRINT_KEYWORD, VERSION_KEYWORD
from ..io.inputs import check_hdf5_file
from ..irf.cuts import EventCuts
from ..irf.events import DL2EventSelection, load_dl2_events
from ..irf.performance import PerformanceMaker, read_irf_cuts, read_reference_curves
from ..version import __version__
from .base import IactpipeTool, writable_directory

__all__ = ["PerformanceTool", "main"]


class PerformanceTool(IactpipeTool):
    """
    Compute the performance of an MC DL2 production after the event selection and the
    gammaness/theta cuts of iactpipe-irf (computed here or read from an IRF file): energy
    bias and resolution, angular resolution, ROC AUC per energy bin, effective area before
    and after the cuts, background rate and the differential sensitivity (5 sigma Li & Ma,
    50 h, 5 OFF regions, >= 10 excess events, excess >= 5 % of the background) in % Crab
    and flux units. Writes a FITS file of tables, optionally the sensitivity as ECSV and a
    PNG figure with reference curves.
    """

    name = "iactpipe-performance"
    description = __doc__
    examples = """
    Cuts at 70 % gamma efficiency computed from the point gammas, figure and ECSV:
    > iactpipe-performance --gammas gamma_point.dl2.h5 --protons proton.dl2.h5 \\
        -o performance.fits --ecsv sensitivity.ecsv --plot performance.png

    The cuts of an IRF file, with published points overlaid:
    > iactpipe-performance --gammas gamma_point.dl2.h5 --protons proton.dl2.h5 \\
        --irf irfs/zd20_az000/nsb_dark/stereo/geff0.70/irf_point_like.fits.gz \\
        -o perf.fits --plot perf.png --reference examples/reference_sensitivity_sst1m.ecsv
    """

    point_gamma_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="DL2 of point-like gammas at the wobble offset",
    ).tag(config=True)
    proton_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="DL2 of diffuse protons (ROC, background, sensitivity)",
    ).tag(config=True)
    irf_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="iactpipe-irf file whose GH_CUTS/THETA_CUTS are used instead of EventCuts",
    ).tag(config=True)
    output_path = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="FITS file of the performance tables (.fits or .fits.gz)",
    ).tag(config=True)
    ecsv_path = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="ECSV file of the sensitivity table (optional)",
    ).tag(config=True)
    plot_path = Path(
        default_value=None, allow_none=True, directory_ok=False, help="PNG figure (optional)"
    ).tag(config=True)
    reference_files = List(
        Path(directory_ok=False),
        default_value=[],
        help="ECSV files of reference curves overlaid on the figure",
    ).tag(config=True)
    chunk_size = Int(100_000, min=1, help="Subarray events read at once").tag(config=True)

    aliases = {
        ("g", "gammas"): "PerformanceTool.point_gamma_file",
        ("p", "protons"): "PerformanceTool.proton_file",
        "irf": "PerformanceTool.irf_file",
        ("o", "output"): "PerformanceTool.output_path",
        "ecsv": "PerformanceTool.ecsv_path",
        "plot": "PerformanceTool.plot_path",
        "reference": "PerformanceTool.reference_files",
        "gamma-efficiency": "EventCuts.gamma_efficiency",
        "theta-containment": "EventCuts.theta_containment",
        "gh-cut-type": "EventCuts.gh_cut_type",
        "theta-cut-type": "EventCuts.theta_cut_type",
        "obs-time": "PerformanceMaker.obs_time",
        "n-off-regions": "PerformanceMaker.n_off_regions",
        "background-offset-max": "PerformanceMaker.background_fov_offset_max",
        "chunk-size": "PerformanceTool.chunk_size",
    }
    flags = {
        **flag(
            "overwrite",
            "PerformanceTool.overwrite",
            "Replace existing outputs",
            "Never replace existing outputs",
        ),
        **ALLOW_CONFIG_MISMATCH_FLAG,
    }
    classes = [DL2EventSelection, EventCuts, PerformanceMaker, ConfigGuard]

    def setup(self):
        if self.point_gamma_file is None or self.output_path is None:
            raise ToolConfigurationError("iactpipe-performance: give --gammas and --output")
        self.outputs = [p for p in (self.output_path, self.ecsv_path, self.plot_path) if p]
        for path in self.outputs:
            check_output_path(path, self.overwrite)
            writable_directory(PathlibPath(path).absolute().parent, "--output")
        for path in (self.point_gamma_file, self.proton_file):
            if path is not None:
                check_hdf5_file(path, "DL2")
        self.references = [read_reference_curves(p) for p in self.reference_files]
        self.selection = DL2EventSelection(parent=self)
        self.cut_maker = EventCuts(parent=self)
        self.maker = PerformanceMaker(parent=self)
        self.config_guard = ConfigGuard(parent=self)

    def _cuts(self, gammas):
        if self.irf_file is None:
            return self.cut_maker(gammas.events)
        cuts, header = read_irf_cuts(self.irf_file)
        theirs = header.get(SELECTION_FINGERPRINT_KEYWORD)
        ours = config_fingerprint(effective_config([self.selection]))
        self.config_guard.require_fingerprint(
            theirs,
            ours,
            f"{self.irf_file}: its cuts were made with another DL2EventSelection "
            f"(fingerprint {theirs}, here {ours})",
            "use them anyway",
        )
        return cuts

    def start(self):
        self.log.info("Loading gammas from %s", self.point_gamma_file)
        gammas = load_dl2_events(self.point_gamma_file, self.selection, self.chunk_size)
        if len(gammas.events) == 0:
            raise InputFileError(f"{gammas.path}: no gamma passes the event selection")
        protons = None
        if self.proton_file is not None:
            protons = load_dl2_events(self.proton_file, self.selection, self.chunk_size)
            if protons.point_like:
                raise InputFileError(f"{protons.path}: protons must be simulated diffuse")
        self.log.info(
            "gammas: %d of %d selected; protons: %s",
            len(gammas.events),
            gammas.n_raw,
            len(protons.events) if protons else "none",
        )
        self.cuts = self._cuts(gammas)
        self.result = self.maker(gammas, self.cuts, protons)

    def finish(self):
        header = fits.Header()
        header["CREATOR"] = self.name
        header[VERSION_KEYWORD] = __version__
        header["CUTS"] = self.cuts.method
        header["OBSTIME"] = (self.maker.obs_time.to_value(u.h), "h, sensitivity")
        header[SELECTION_FINGERPRINT_KEYWORD] = config_fingerprint(
            effective_config([self.selection])
        )
        hdus = [fits.PrimaryHDU(header=header)]
        for name, table in self.result.tables.items():
            hdu = fits.table_to_hdu(table)
            hdu.name = name
            hdus.append(hdu)
        with AtomicOutputFile(self.output_path, overwrite=self.overwrite) as out:
            if str(self.output_path).endswith(".gz"):
                with gzip.open(out.temporary_path, "wb") as stream:
                    fits.HDUList(hdus).writeto(stream)
            else:
                fits.HDUList(hdus).writeto(out.temporary_path)
        sensitivity = self.result.tables.get("SENSITIVITY")
        if self.ecsv_path is not None:
            if sensitivity is None:
                raise ToolConfigurationError("iactpipe-performance: --ecsv needs --protons")
            with AtomicOutputFile(self.ecsv_path, overwrite=self.overwrite) as out:
                sensitivity.write(out.temporary_path, format="ascii.ecsv")
        if self.plot_path is not None:
            from ..plotting.performance import plot_performance

            fig = plot_performance(self.result.tables, self.references, title=self.name)
            with AtomicOutputFile(self.plot_path, overwrite=self.overwrite) as out:
                fig.savefig(out.temporary_path, format="png", dpi=100)
        self._summary(sensitivity)

    def _summary(self, sensitivity):
        print(f"iactpipe-performance: {self.output_path} ({self.cuts.method})")
        if sensitivity is None:
            return
        for row in sensitivity:
            if np.isfinite(row["relative_sensitivity"]):
                print(
                    f"  {row['reco_energy_low'].to_value(u.TeV):7.2f}-"
                    f"{row['reco_energy_high'].to_value(u.TeV):7.2f} TeV  "
                    f"{row['crab_percent'].to_value(u.percent):8.2f} % Crab  "
                    f"limited by {row['limited_by']}"
                )


def main():
    """Run iactpipe-performance."""
    PerformanceTool().run()
