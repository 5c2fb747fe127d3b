"""iactpipe-analysis: next-day quick look of a target in a GADF DL3 data set (gammapy)."""

from __future__ import annotations

import warnings
from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Float, List, Path, Unicode, classes_with_traits, flag
from tqdm.auto import tqdm

from ..analysis import (
    BackgroundAcceptanceModel,
    LightCurveAnalysis,
    ObservationSelector,
    SkyMapAnalysis,
    SpectrumAnalysis,
    Theta2Analysis,
    UpperLimitEstimator,
    cumulative_counts,
    on_off_counts,
    resolve_target,
    write_report,
)
from ..io import InputFileError, OutputExistsError, effective_config
from ..io.chain_step import ChainStep
from ..io.inputs import check_fits_file
from ..version import __version__
from .base import IactpipeTool, writable_directory

__all__ = ["AnalysisTool", "main"]

_REQUIRED_IRF = {"point-like": ["aeff", "edisp", "rad_max"],
                 "full-enclosure": ["aeff", "edisp", "psf"]}  # fmt: skip


class AnalysisTool(IactpipeTool):
    """
    Quick look of one target in a GADF DL3 data set (iactpipe's or any instrument's,
    point-like with RAD_MAX or full-enclosure IRFs): observation selection, ON/OFF
    counts with wobble OFF regions and the Li & Ma significance, theta² plot,
    significance vs live time, ring-background sky maps, 1D spectral fit with flux
    points, light curve and integral flux upper limit. Writes OUT_DIR/summary.json and
    a self-contained OUT_DIR/report.html (plots embedded; PNGs in OUT_DIR/plots).
    Exit code 0 also when the target is not detected.
    """

    name = "iactpipe-analysis"
    description = __doc__
    examples = """
    The Crab in a night of SST-1M data, log-parabola:
    > iactpipe-analysis -i dl3/ -o crab_quicklook/ --target Crab --spectral-model lp

    An alert position, two runs, nightly light curve, upper limit above 2 TeV:
    > iactpipe-analysis -i dl3/ -o alert/ --ra 150.2 --dec 30.1 --obs-id 1001 \\
        --obs-id 1002 --light-curve-bins night --ul-energy "2 TeV"
    """

    input_dir = Path(
        default_value=None, allow_none=True, exists=True, file_ok=False,
        help="DL3 directory with hdu-index and obs-index files",
    ).tag(config=True)  # fmt: skip
    output_dir = Path(
        default_value=None, allow_none=True, help="Output directory (written atomically)"
    ).tag(config=True)
    target_name = Unicode(
        "", help="Target: a built-in catalogue name (case-insensitive), or a label for --ra/--dec"
    ).tag(config=True)
    ra_deg = Float(None, allow_none=True, help="Target RA (ICRS, deg)").tag(config=True)
    dec_deg = Float(None, allow_none=True, help="Target Dec (ICRS, deg)").tag(config=True)
    plot_formats = List(
        Unicode(), default_value=["png"], help="Plot files written (png always; add pdf)"
    ).tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "analysis",
        inputs=("AnalysisTool.input_dir",),
        outputs=("AnalysisTool.output_dir",),
    )

    aliases = {
        ("i", "input"): "AnalysisTool.input_dir",
        ("o", "output"): "AnalysisTool.output_dir",
        ("t", "target"): "AnalysisTool.target_name",
        "ra": "AnalysisTool.ra_deg",
        "dec": "AnalysisTool.dec_deg",
        "obs-id": "ObservationSelector.obs_ids",
        "time-min": "ObservationSelector.time_min",
        "time-max": "ObservationSelector.time_max",
        "max-zenith": "ObservationSelector.max_zenith",
        "spectral-model": "SpectrumAnalysis.spectral_model",
        "n-off-regions": "SpectrumAnalysis.n_off_regions",
        "theta-cut": "SpectrumAnalysis.theta_cut",
        "energy-min": "SpectrumAnalysis.energy_min",
        "energy-max": "SpectrumAnalysis.energy_max",
        "light-curve-bins": "LightCurveAnalysis.time_bins",
        "ul-energy": "UpperLimitEstimator.energy_threshold",
        "ul-cl": "UpperLimitEstimator.confidence_level",
    }
    flags = {
        **flag("overwrite", "AnalysisTool.overwrite", "Replace an existing output directory",
               "Never replace an existing output directory"),
    }  # fmt: skip
    classes = [ObservationSelector, SpectrumAnalysis, Theta2Analysis, SkyMapAnalysis,
               LightCurveAnalysis, UpperLimitEstimator,
               *classes_with_traits(BackgroundAcceptanceModel)]  # fmt: skip

    def setup(self):
        if self.input_dir is None or self.output_dir is None:
            raise ToolConfigurationError(f"{self.name}: give the DL3 directory (-i) and -o")
        try:
            ra = None if self.ra_deg is None else self.ra_deg * u.deg
            dec = None if self.dec_deg is None else self.dec_deg * u.deg
            self.target = resolve_target(self.target_name or None, ra, dec)
        except ValueError as err:
            raise ToolConfigurationError(f"{self.name}: {err}") from err
        out = PathlibPath(self.output_dir).absolute()
        if out.exists() and not self.overwrite:
            raise OutputExistsError(f"{out}: output directory exists, use --overwrite")
        writable_directory(out, "--output")
        self.selector = ObservationSelector(parent=self)
        try:
            self.selector.time_range()
        except ValueError as err:
            raise ToolConfigurationError(f"{self.name}: {err}") from err
        self.spectrum = SpectrumAnalysis(parent=self)
        self.theta2 = Theta2Analysis(parent=self)
        self.skymaps = SkyMapAnalysis(parent=self)
        self.light_curve = LightCurveAnalysis(parent=self)
        self.upper_limit = UpperLimitEstimator(parent=self)
        self.components = [self.selector, self.spectrum, self.theta2, self.skymaps,
                           self.light_curve, self.upper_limit]  # fmt: skip

    def _observations(self):
        from gammapy.data import DataStore

        directory = PathlibPath(self.input_dir)
        try:
            store = DataStore.from_dir(directory)
        except (OSError, KeyError, ValueError) as err:
            raise InputFileError(f"{directory}: not a GADF DL3 directory with index files "
                                 f"({err})") from err  # fmt: skip
        ids = self.selector(store.obs_table, self.target.position)
        if len(ids) == 0:
            raise InputFileError(f"{directory}: no observation of {self.target.name} passes the "
                                 "selection (offset, zenith, time range, --obs-id)")  # fmt: skip
        rows = store.hdu_table[np.isin(store.hdu_table["OBS_ID"], list(ids))]
        for file_dir, name in sorted({(row["FILE_DIR"], row["FILE_NAME"]) for row in rows}):
            check_fits_file(PathlibPath(store.hdu_table.base_dir) / file_dir / name)
        types = {obs_id: self._irf_type(store, obs_id) for obs_id in ids}
        if len(set(types.values())) > 1:
            raise InputFileError(f"{directory}: mixed point-like and full-enclosure runs {types};"
                                 " select one kind with --obs-id")  # fmt: skip
        self.irf_type = next(iter(types.values()))
        try:
            observations = store.get_observations(
                list(ids), required_irf=_REQUIRED_IRF[self.irf_type]
            )
        except (OSError, KeyError, ValueError) as err:
            raise InputFileError(f"{directory}: cannot read the runs {list(ids)}: {err}") from err
        zen = (
            store.obs_table.select_obs_id(ids)["ZEN_PNT"]
            if "ZEN_PNT" in store.obs_table.colnames
            else []
        )
        self.zenith = {"min": float(np.min(zen)) if len(zen) else None,
                       "max": float(np.max(zen)) if len(zen) else None}  # fmt: skip
        return observations

    @staticmethod
    def _irf_type(store, obs_id) -> str:
        rows = store.hdu_table[store.hdu_table["OBS_ID"] == obs_id]
        return "point-like" if "rad_max" in list(rows["HDU_TYPE"]) else "full-enclosure"

    def start(self):
        name, position = self.target.name, self.target.position
        steps = tqdm(total=6, desc=self.name, disable=None)
        self.observations = observations = self._observations()
        self.log.info("%d runs of %s, %s IRFs", len(observations), name, self.irf_type)
        steps.update()
        self.datasets = datasets = self.spectrum.datasets(observations, position, self.irf_type)
        if len(datasets) == 0:
            raise InputFileError(
                f"{self.input_dir}: no run has an OFF region outside the ON region of "
                f"{name} (theta cut or RAD_MAX too large for the wobble offset)"
            )
        observations = [o for o in observations if f"obs{o.obs_id}" in datasets.names]
        self.observations = observations
        self.counts = on_off_counts(datasets)
        self.cumulative = cumulative_counts(datasets)
        steps.update()
        self.fit = self.spectrum.fit(datasets, name)
        e_range = self.fit.energy_range
        if not (self.fit.success and self.theta2.detected(self.counts)):
            # a fit to no signal can give a negative amplitude: flux points and light
            # curve then use the spectral shape assumed for the upper limit
            self.log.info("%s not detected: flux points and light curve with the assumed "
                          "power law", name)  # fmt: skip
            self.upper_limit.assumed_model(datasets, name, self.spectrum.reference_energy)
        n_sigma_ul = self.upper_limit.n_sigma_ul
        self.flux_points = self.spectrum.flux_points(datasets, name, n_sigma_ul)
        steps.update()
        self.ul = self.upper_limit(datasets, name, e_range)
        self.lc = self.light_curve(datasets, name, e_range, n_sigma_ul,
                                   self.spectrum.sqrt_ts_threshold_ul)  # fmt: skip
        steps.update()
        self.theta2_table = self.theta2.table(observations, position,
                                              self.spectrum.n_off_regions, e_range)  # fmt: skip
        steps.update()
        self.maps = self.skymaps(observations, position, e_range)
        steps.update()
        steps.close()

    def _theta_cut(self):
        if self.irf_type == "full-enclosure":
            return self.spectrum.theta_cut
        obs = self.observations[0]
        offset = obs.get_pointing_icrs(obs.tmid).separation(self.target.position)
        energy = np.sqrt(np.prod(u.Quantity(self.fit.energy_range).to_value(u.TeV))) * u.TeV
        return u.Quantity(obs.rad_max.evaluate(energy=energy, offset=offset)).ravel()[0]

    def _figures(self) -> dict:
        from ..analysis.spectrum import injected_crab_model

        e_range = self.fit.energy_range
        finite = bool(np.all(np.isfinite(u.Quantity(e_range).value)))
        reference = injected_crab_model(1.0) if self.target.name == "Crab" else None
        with warnings.catch_warnings():
            # gammapy's model and flux-point plots re-register astropy's unit converter
            warnings.filterwarnings("ignore", message=".*converter", category=UserWarning)
            return self._make_figures(e_range if finite else None, reference)

    def _make_figures(self, e_range, reference) -> dict:
        from ..plotting.analysis import (
            plot_light_curve,
            plot_sed,
            plot_significance_vs_livetime,
            plot_skymaps,
            plot_theta2,
        )

        return {
            "theta2": plot_theta2(self.theta2_table, self._theta_cut(), self.target.name),
            "significance": plot_significance_vs_livetime(self.cumulative,
                                                          self.theta2.detection_threshold),
            "skymaps": plot_skymaps(self.maps, self.target.name),
            "sed": plot_sed(self.flux_points, self.fit.model, e_range, reference),
            "light_curve": plot_light_curve(self.lc, e_range),
        }  # fmt: skip

    def summary(self) -> dict:
        """The JSON summary (`iactpipe.analysis.SUMMARY_KEYS` and more)."""
        counts = self.counts.to_dict()
        e_range = [float(e.to_value(u.TeV)) for e in self.fit.energy_range]
        points = self.flux_points.to_table(sed_type="dnde") if self.flux_points else []
        columns = ("e_ref", "e_min", "e_max", "dnde", "dnde_err", "dnde_ul", "sqrt_ts", "is_ul")
        points = [{c: (float(np.ravel(row[c])[0]) if c != "is_ul" else bool(np.ravel(row[c])[0]))
                   for c in columns if c in row.colnames} for row in points]  # fmt: skip
        lc = [{k: (bool(row[k]) if k == "is_ul" else float(row[k])) for k in self.lc.colnames}
              for row in self.lc]  # fmt: skip
        return {
            "target": self.target.to_dict(),
            "observations": [int(o.obs_id) for o in self.observations],
            "irf_type": self.irf_type,
            "livetime_s": counts.pop("livetime_s"),
            "zenith_deg": self.zenith,
            **counts,
            "energy_range_TeV": e_range,
            "detected": self.theta2.detected(self.counts),
            "detection_threshold_sigma": self.theta2.detection_threshold,
            "cumulative": [dict(zip(self.cumulative.colnames, row, strict=True))
                           for row in self.cumulative],
            "spectral_fit": {"model": self.fit.model_name, "success": self.fit.success,
                             "message": self.fit.message, "energy_range_TeV": e_range,
                             "parameters": self.fit.parameters()},
            "flux_points": points,
            "light_curve": lc,
            "light_curve_units": {"time": "MJD (UTC)", "flux": "cm-2 s-1"},
            "upper_limit": self.ul,
            "skymap_peak": self.maps.peak(),
            "skymaps": self.maps.info(),
            "iactpipe_version": __version__,
            "config": effective_config([self, *self.components]),
        }  # fmt: skip

    def finish(self):
        summary = self.summary()
        out = write_report(self.output_dir, summary, self._figures(), self.overwrite,
                           tuple(self.plot_formats))  # fmt: skip
        print(f"{self.name}: {self.target.name}, {len(summary['observations'])} runs, "
              f"{summary['livetime_s']:.0f} s: N_on {summary['n_on']}, N_off "
              f"{summary['n_off']}, alpha {summary['alpha']:.3f}, excess "
              f"{summary['excess']:.1f}, significance {summary['significance']:.1f} sigma "
              f"({'detected' if summary['detected'] else 'not detected'}); flux UL "
              f"{summary['upper_limit']['flux_ul_cm-2_s-1']:.3g} cm-2 s-1 above "
              f"{summary['upper_limit']['energy_threshold_TeV']:.2g} TeV -> {out}")  # fmt: skip


def main():
    """Run iactpipe-analysis."""
    AnalysisTool().run()
