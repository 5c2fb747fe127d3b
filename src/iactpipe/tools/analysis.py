"""iactpipe-analysis: next-day quick look of a target in a GADF DL3 data set (gammapy)."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, List, Unicode, classes_with_traits, flag
from tqdm.auto import tqdm

from ..analysis import (
    BackgroundAcceptanceModel,
    ExclusionRegions,
    LightCurveAnalysis,
    ObservationSelector,
    SkyMapAnalysis,
    SpectrumAnalysis,
    Theta2Analysis,
    UpperLimitEstimator,
    cumulative_counts,
    on_off_counts,
    read_regions,
    run_rows,
    write_report,
)
from ..io import InputFileError, OutputExistsError, effective_config
from ..io.chain_step import ChainStep
from ..io.inputs import check_fits_file
from ..version import __version__
from .base import writable_directory
from .dl3_directory import DL3DirectoryTool

__all__ = ["AnalysisTool", "main"]

# point-like: RAD_MAX as an HDU or as a header keyword of the effective area (checked later)
_REQUIRED_IRF = {"point-like": ["aeff", "edisp"], "full-enclosure": ["aeff", "edisp", "psf"]}


class AnalysisTool(DL3DirectoryTool):
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

    make_skymaps = Bool(
        True, help="Make the sky maps (the slowest product; off: a note in the report)"
    ).tag(config=True)
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
        "exclusion-regions": "ExclusionRegions.regions_file",
        "target-extension": "ExclusionRegions.target_extension",
        "energy-min": "SpectrumAnalysis.energy_min",
        "energy-max": "SpectrumAnalysis.energy_max",
        "light-curve-bins": "LightCurveAnalysis.time_bins",
        "ul-energy": "UpperLimitEstimator.energy_threshold",
        "ul-cl": "UpperLimitEstimator.confidence_level",
    }
    flags = {
        **flag(
            "overwrite",
            "AnalysisTool.overwrite",
            "Replace an existing output directory",
            "Never replace an existing output directory",
        ),
        **flag("skymaps", "AnalysisTool.make_skymaps", "Make the sky maps", "No sky maps (faster)"),
    }
    classes = [
        ObservationSelector,
        ExclusionRegions,
        SpectrumAnalysis,
        Theta2Analysis,
        SkyMapAnalysis,
        LightCurveAnalysis,
        UpperLimitEstimator,
        *classes_with_traits(BackgroundAcceptanceModel),
    ]

    def setup(self):
        self.require_directories()
        self.target = self.configured_target()
        out = PathlibPath(self.output_dir).absolute()
        if out.exists() and not self.overwrite:
            raise OutputExistsError(f"{out}: output directory exists, use --overwrite")
        writable_directory(out, "--output")
        self.selector = ObservationSelector(parent=self)
        try:
            self.selector.time_range()
        except ValueError as err:
            raise ToolConfigurationError(f"{self.name}: {err}") from err
        self.exclusion = ExclusionRegions(parent=self)
        if self.exclusion.regions_file is not None:
            try:
                read_regions(self.exclusion.regions_file)
            except ValueError as err:
                raise ToolConfigurationError(f"{self.name}: --exclusion-regions: {err}") from err
        self.spectrum = SpectrumAnalysis(parent=self)
        self.theta2 = Theta2Analysis(parent=self)
        self.skymaps = SkyMapAnalysis(parent=self)
        self.light_curve = LightCurveAnalysis(parent=self)
        self.upper_limit = UpperLimitEstimator(parent=self)
        self.components = [
            self.selector,
            self.exclusion,
            self.spectrum,
            self.theta2,
            self.skymaps,
            self.light_curve,
            self.upper_limit,
        ]
        #: what could not be done for this data set (or only approximately): one line each
        self.notes: list[str] = []

    def _observations(self):
        from gammapy.data import DataStore

        directory = PathlibPath(self.input_dir)
        try:
            store = DataStore.from_dir(directory)
        except (OSError, KeyError, ValueError) as err:
            raise InputFileError(
                f"{directory}: not a GADF DL3 directory with index files ({err})"
            ) from err
        ids = self.selector(store.obs_table, self.target.position)
        if len(ids) == 0:
            raise InputFileError(
                f"{directory}: no observation of {self.target.name} passes the "
                "selection (offset, zenith, time range, --obs-id)"
            )
        rows = store.hdu_table[np.isin(store.hdu_table["OBS_ID"], list(ids))]
        for file_dir, name in sorted({(row["FILE_DIR"], row["FILE_NAME"]) for row in rows}):
            check_fits_file(PathlibPath(store.hdu_table.base_dir) / file_dir / name)
        types = {obs_id: self._irf_type(store, obs_id) for obs_id in ids}
        if len(set(types.values())) > 1:
            raise InputFileError(
                f"{directory}: mixed point-like and full-enclosure runs {types};"
                " select one kind with --obs-id"
            )
        self.irf_type = next(iter(types.values()))
        try:
            observations = store.get_observations(
                list(ids), required_irf=_REQUIRED_IRF[self.irf_type]
            )
        except (OSError, KeyError, ValueError) as err:
            raise InputFileError(f"{directory}: cannot read the runs {list(ids)}: {err}") from err
        if self.irf_type == "point-like":
            no_cut = [o.obs_id for o in observations if o.rad_max is None]
            if no_cut:
                raise InputFileError(
                    f"{directory}: point-like runs {no_cut} have neither a "
                    "RAD_MAX HDU nor a RAD_MAX keyword"
                )
        self.obs_table = store.obs_table.select_obs_id(ids)
        return observations

    @staticmethod
    def _irf_type(store, obs_id) -> str:
        """point-like: a RAD_MAX HDU, or an effective area with HDUCLAS3 = POINT-LIKE."""
        rows = store.hdu_table[store.hdu_table["OBS_ID"] == obs_id]
        if "rad_max" in [str(t).strip() for t in rows["HDU_TYPE"]]:
            return "point-like"
        try:
            header = store.hdu_table.hdu_location(obs_id, "aeff").get_hdu().header
        except (OSError, KeyError, IndexError, ValueError):
            return "full-enclosure"  # reported when the runs are read
        return "point-like" if header.get("HDUCLAS3") == "POINT-LIKE" else "full-enclosure"

    def _exclusion_for_off(self, observations):
        """Exclusion mask around the target covering every run's reflected regions."""
        from gammapy.maps import WcsGeom

        position = self.target.position
        offsets = [o.get_pointing_icrs(o.tmid).separation(position) for o in observations]
        width = 2 * (2 * max(offsets) + 1 * u.deg)
        geom = WcsGeom.create(skydir=position, width=width, binsz=0.01, frame="icrs")
        return self.exclusion.mask(geom, self.target)

    def _note(self, text: str):
        """Something this data set does not allow (or only approximately): one line."""
        self.log.warning("%s", text)
        self.notes.append(text)

    def _spectral_datasets(self, observations):
        position = self.target.position
        datasets = self.spectrum.datasets(
            observations, position, self.irf_type, self._exclusion_for_off(observations)
        )
        for obs_id, choice in self.spectrum.choices.items():
            if "left_out" in choice:
                self._note(
                    f"run {obs_id} left out: {choice['left_out']} outside the ON region "
                    "and the exclusion regions at its wobble offset"
                )
        if len(datasets) == 0:
            raise InputFileError(
                f"{self.input_dir}: no run has an OFF region outside the ON region of "
                f"{self.target.name} and the exclusion regions (ON radius, RAD_MAX or "
                "exclusion too large for the wobble offset)"
            )
        if not np.isfinite(self.spectrum.energy_range(datasets)[0]):
            # gammapy would fail later, inside the fit or the upper limit
            thresholds = ", ".join(
                f"run {obs_id} from {choice['safe_threshold_TeV']:.3g} TeV"
                for obs_id, choice in self.spectrum.choices.items()
            )
            raise InputFileError(
                f"{self.input_dir}: no energy bin of any run lies inside both its safe range "
                f"({thresholds}; SpectrumAnalysis.safe_methods {list(self.spectrum.safe_methods)}) "
                f"and the fit range ({self.spectrum.energy_min} to {self.spectrum.energy_max})"
            )
        return datasets

    def start(self):
        name, position = self.target.name, self.target.position
        steps = tqdm(total=6, desc=self.name, disable=None)
        self.observations = observations = self._observations()
        self.log.info("%d runs of %s, %s IRFs", len(observations), name, self.irf_type)
        steps.update()
        self.datasets = datasets = self._spectral_datasets(observations)
        observations = [o for o in observations if f"obs{o.obs_id}" in datasets.names]
        self.observations = observations
        self.counts = on_off_counts(datasets)
        self.cumulative = cumulative_counts(datasets)
        steps.update()
        self.fit = self.spectrum.fit(datasets, name)
        if not self.fit.success:
            self._note(
                f"spectral fit did not converge ({self.fit.message}): parameters not to be quoted"
            )
        e_range = self.fit.energy_range
        if not (self.fit.success and self.theta2.detected(self.counts)):
            # a fit to no signal can give a negative amplitude: flux points and light
            # curve then use the spectral shape assumed for the upper limit
            self.log.info(
                "%s not detected: flux points and light curve with the assumed power law", name
            )
            self.upper_limit.assumed_model(datasets, name, self.spectrum.reference_energy)
        n_sigma_ul = self.upper_limit.n_sigma_ul
        self.flux_points = self.spectrum.flux_points(datasets, name, n_sigma_ul)
        steps.update()
        self.ul = self.upper_limit(datasets, name, e_range)
        self.lc = self.light_curve(
            datasets, name, e_range, n_sigma_ul, self.spectrum.sqrt_ts_threshold_ul
        )
        steps.update()
        self.theta2_table = self.theta2.table(observations, position, self._n_off_theta2(), e_range)
        steps.update()
        no_bkg = [o.obs_id for o in observations if o.bkg is None]
        if not self.make_skymaps:
            self._note("sky maps not made (--no-skymaps)")
            self.maps = None
        elif no_bkg:
            self._note(
                f"sky maps: runs {no_bkg} have no background IRF: the ring background "
                "assumes a flat acceptance across the field of view (approximate "
                "beyond about 1 deg from the pointing)"
            )
        if self.make_skymaps:
            self.maps = self.skymaps(
                observations, position, e_range, lambda geom: self.exclusion.mask(geom, self.target)
            )
        steps.update()
        steps.close()

    def _n_off_theta2(self) -> int:
        """OFF positions of the theta² plot: the fewest OFF regions of any run used."""
        used = [c["n_off_regions"] for c in self.spectrum.choices.values() if "n_off_regions" in c]
        return max(1, min(used)) if used else 1

    def _theta_cut(self):
        if self.irf_type == "full-enclosure":
            return self.spectrum.on_radius
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
            "significance": plot_significance_vs_livetime(
                self.cumulative, self.theta2.detection_threshold
            ),
            **({"skymaps": plot_skymaps(self.maps, self.target.name)} if self.maps else {}),
            "sed": plot_sed(self.flux_points, self.fit.model, e_range, reference),
            "light_curve": plot_light_curve(self.lc, e_range),
        }

    def summary(self) -> dict:
        """The JSON summary (`iactpipe.analysis.SUMMARY_KEYS` and more)."""
        counts = self.counts.to_dict()
        e_range = [float(e.to_value(u.TeV)) for e in self.fit.energy_range]
        points = self.flux_points.to_table(sed_type="dnde") if self.flux_points else []
        columns = ("e_ref", "e_min", "e_max", "dnde", "dnde_err", "dnde_ul", "sqrt_ts", "is_ul")
        points = [
            {
                c: (float(np.ravel(row[c])[0]) if c != "is_ul" else bool(np.ravel(row[c])[0]))
                for c in columns
                if c in row.colnames
            }
            for row in points
        ]
        lc = [
            {k: (bool(row[k]) if k == "is_ul" else float(row[k])) for k in self.lc.colnames}
            for row in self.lc
        ]
        runs = run_rows(
            self.observations,
            self.datasets,
            self.spectrum.choices,
            self.target.position,
            self.obs_table,
        )
        zenith = [r["zenith_deg"] for r in runs if r["zenith_deg"] is not None]
        return {
            "target": self.target.to_dict(),
            "observations": [int(o.obs_id) for o in self.observations],
            "irf_type": self.irf_type,
            "livetime_s": counts.pop("livetime_s"),
            "zenith_deg": {
                "min": min(zenith) if zenith else None,
                "max": max(zenith) if zenith else None,
            },
            "runs": runs,
            "method": self._method(),
            "notes": list(self.notes),
            "command": self._command(),
            **counts,
            "energy_range_TeV": e_range,
            "detected": self.theta2.detected(self.counts),
            "detection_threshold_sigma": self.theta2.detection_threshold,
            "cumulative": [
                dict(zip(self.cumulative.colnames, row, strict=True)) for row in self.cumulative
            ],
            "spectral_fit": {
                "model": self.fit.model_name,
                "success": self.fit.success,
                "message": self.fit.message,
                "energy_range_TeV": e_range,
                "parameters": self.fit.parameters(),
            },
            "flux_points": points,
            "light_curve": lc,
            "light_curve_units": {"time": "MJD (UTC)", "flux": "cm-2 s-1"},
            "upper_limit": self.ul,
            "skymap_peak": self.maps.peak() if self.maps else None,
            "skymaps": self.maps.info() if self.maps else None,
            "iactpipe_version": __version__,
            "config": effective_config([self, *self.components]),
        }

    def _method(self) -> dict:
        """What was used: data set, IRFs, cuts, background methods, chosen values."""
        spectrum = self.spectrum
        position = self.target.position
        offsets = [o.get_pointing_icrs(o.tmid).separation(position) for o in self.observations]
        radius = 2 * max(offsets) + 1 * u.deg
        radius_on = spectrum.on_radius
        return {
            "dataset": str(PathlibPath(self.input_dir).absolute()),
            "irf_type": self.irf_type,
            "irfs": sorted({self._irf_names(o) for o in self.observations}),
            "on_region": self._on_region_text(),
            "on_radius_deg": None if radius_on is None else float(radius_on.to_value(u.deg)),
            "off_regions": self._off_regions_text(),
            "safe_threshold": (
                f"per run, the highest of gammapy SafeMaskMaker {list(spectrum.safe_methods)} "
                f"(DL3 IRFs at the target's offset; aeff {spectrum.aeff_percent:g} % of the "
                f"maximum, bias {spectrum.bias_percent:g} %)"
            )
            + (f"; fit from {spectrum.energy_min}" if spectrum.energy_min is not None else ""),
            "exclusion_regions": self.exclusion.names(self.target, position, radius),
            "skymap_background": "ring (gammapy RingBackgroundMaker), acceptance from the "
            "background IRF"
            + (
                ""
                if all(o.bkg is not None for o in self.observations)
                else " or flat where there is none"
            ),
        }

    def _on_region_text(self) -> str:
        spectrum = self.spectrum
        if self.irf_type == "point-like":
            return "RAD_MAX of the IRFs (per energy)"
        how = (
            "set"
            if spectrum.theta_cut is not None
            else f"PSF {100 * spectrum.psf_containment:.0f} % containment at the first safe "
            "energy bin, largest over the runs"
        )
        return f"circle of {spectrum.on_radius.to_value(u.deg):.2f} deg ({how})"

    def _off_regions_text(self) -> str:
        n = self.spectrum.n_off_regions
        if n:
            return f"{n} wobble OFF regions per run (set), those on an exclusion region dropped"
        if self.irf_type == "point-like":
            return (
                "as many as fit at RAD_MAX from each other and the exclusions (gammapy "
                "WobbleRegionsFinder)"
            )
        return "reflected regions, as many as fit (gammapy ReflectedRegionsFinder)"

    @staticmethod
    def _irf_names(observation) -> str:
        names = []
        for name in ("aeff", "edisp", "psf", "bkg"):
            irf = getattr(observation, name, None)
            if irf is not None:
                names.append(type(irf).__name__)
        rad_max = observation.rad_max
        if rad_max is not None:
            names.append("RAD_MAX fixed" if rad_max.is_fixed_rad_max else "RadMax2D")
        return ", ".join(names)

    def _command(self) -> str:
        """The command line that reproduces this run (with the config.json written next to
        the summary it is the whole configuration)."""
        return " ".join([self.name, *(shlex.quote(a) for a in getattr(self, "argv", []))])

    def finish(self):
        summary = self.summary()
        out = write_report(
            self.output_dir, summary, self._figures(), self.overwrite, tuple(self.plot_formats)
        )
        print(
            f"{self.name}: {self.target.name}, {len(summary['observations'])} runs, "
            f"{summary['livetime_s']:.0f} s: N_on {summary['n_on']}, N_off "
            f"{summary['n_off']}, alpha {summary['alpha']:.3f}, excess "
            f"{summary['excess']:.1f}, significance {summary['significance']:.1f} sigma "
            f"({'detected' if summary['detected'] else 'not detected'}); flux UL "
            f"{summary['upper_limit']['flux_ul_cm-2_s-1']:.3g} cm-2 s-1 above "
            f"{summary['upper_limit']['energy_threshold_TeV']:.2g} TeV -> {out}"
        )


def main():
    """Run iactpipe-analysis."""
    AnalysisTool().run()
