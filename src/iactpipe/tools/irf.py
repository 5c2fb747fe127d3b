"""iactpipe-irf: cuts and GADF IRFs from MC DL2, written into an IRF library."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, Float, Int, List, Path, Unicode, flag
from tqdm.auto import tqdm

from ..io import InputFileError, config_fingerprint, effective_config
from ..io.chain_step import ChainStep
from ..io.dl2_model_records import dl2_model_library
from ..io.inputs import check_hdf5_file
from ..io.outputs import new_empty_directory_cleanup
from ..io.truncation import refuse_truncated
from ..irf.cuts import EventCuts
from ..irf.events import DL2EventSelection, load_dl2_events
from ..irf.irfs import IRFMaker
from ..irf.library import INDEX_NAME, NodeJob, produce_node, update_index
from ..version import __version__
from .base import IactpipeTool, writable_directory

__all__ = ["IRFTool", "main"]


class IRFTool(IactpipeTool):
    """
    Select MC DL2 events, compute gammaness and theta cuts at one or several gamma
    efficiencies and write full-enclosure and point-like GADF IRFs (effective area,
    energy dispersion, PSF table, background, RAD_MAX) into an IRF library indexed by
    zenith, azimuth, NSB level, event class and gamma efficiency.
    """

    name = "iactpipe-irf"
    description = __doc__
    examples = """
    Point gammas at the wobble offset, diffuse gammas and protons, three efficiencies
    in parallel:
    > iactpipe-irf --gammas gamma_point.dl2.h5 --diffuse-gammas gamma_diffuse.dl2.h5 \\
        --protons proton.dl2.h5 -o irfs/ --gamma-efficiencies 0.6 \\
        --gamma-efficiencies 0.7 --gamma-efficiencies 0.8 --jobs 3

    Global cuts, 80 % theta containment, moon NSB:
    > iactpipe-irf --gammas g.dl2.h5 --protons p.dl2.h5 -o irfs/ --gh-cut-type global \\
        --theta-cut-type global --theta-containment 0.8 --nsb-level moon
    """

    point_gamma_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="DL2 of point-like gammas at the wobble offset (cuts, point-like IRFs)",
    ).tag(config=True)
    diffuse_gamma_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="DL2 of diffuse gammas (full-enclosure IRFs in FoV offset bins)",
    ).tag(config=True)
    proton_file = Path(
        default_value=None, allow_none=True, directory_ok=False, help="DL2 of diffuse protons"
    ).tag(config=True)
    electron_file = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="DL2 of diffuse electrons (optional background)",
    ).tag(config=True)
    library = Path(
        default_value=None, allow_none=True, file_ok=False, help="IRF library directory"
    ).tag(config=True)
    gamma_efficiencies = List(
        Float(),
        default_value=[],
        help="Gamma efficiencies of the library nodes; default: EventCuts.gamma_efficiency",
    ).tag(config=True)
    nsb_level = Unicode("dark", help="NSB level of the MC (library key)").tag(config=True)
    event_class = Unicode("stereo", help="Event class (library key)").tag(config=True)
    jobs = Int(1, min=1, help="Parallel processes (one efficiency each)").tag(config=True)
    chunk_size = Int(100_000, min=1, help="Subarray events read at once").tag(config=True)
    max_pointing_difference = Float(
        0.5, help="Largest pointing difference (deg) between the input files"
    ).tag(config=True)

    progress_bar = Bool(False, help="Show a progress bar over the IRF nodes").tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "irf",
        inputs=(
            "IRFTool.point_gamma_file",
            "IRFTool.diffuse_gamma_file",
            "IRFTool.proton_file",
            "IRFTool.electron_file",
        ),
        outputs=("IRFTool.library",),
    )

    aliases = {
        ("g", "gammas"): "IRFTool.point_gamma_file",
        "diffuse-gammas": "IRFTool.diffuse_gamma_file",
        ("p", "protons"): "IRFTool.proton_file",
        "electrons": "IRFTool.electron_file",
        ("o", "output"): "IRFTool.library",
        "gamma-efficiency": "EventCuts.gamma_efficiency",
        "gamma-efficiencies": "IRFTool.gamma_efficiencies",
        "theta-containment": "EventCuts.theta_containment",
        "gh-cut-type": "EventCuts.gh_cut_type",
        "theta-cut-type": "EventCuts.theta_cut_type",
        "cut-method": "EventCuts.method",
        "nsb-level": "IRFTool.nsb_level",
        "event-class": "IRFTool.event_class",
        ("j", "jobs"): "IRFTool.jobs",
        "chunk-size": "IRFTool.chunk_size",
    }
    flags = {
        **flag(
            "overwrite",
            "IRFTool.overwrite",
            "Replace existing IRF files",
            "Never replace existing IRF files",
        ),
        **flag("progress", "IRFTool.progress_bar", "Show a progress bar", "No progress bar"),
    }
    classes = [DL2EventSelection, EventCuts, IRFMaker]

    def setup(self):
        if self.library is None:
            raise ToolConfigurationError("iactpipe-irf: give the library directory (--output)")
        if self.point_gamma_file is None and self.diffuse_gamma_file is None:
            raise ToolConfigurationError("iactpipe-irf: give --gammas and/or --diffuse-gammas")
        if any(not 0 < e <= 1 for e in self.gamma_efficiencies):
            raise ToolConfigurationError("iactpipe-irf: gamma efficiencies must be in (0, 1]")
        if self.extra_args:
            raise ToolConfigurationError(
                f"iactpipe-irf: unexpected arguments {self.extra_args}; several gamma "
                "efficiencies: --gamma-efficiencies 0.6 --gamma-efficiencies 0.8"
            )
        self.selection = DL2EventSelection(parent=self)
        self.cuts = EventCuts(parent=self)
        self.maker = IRFMaker(parent=self)
        self.efficiencies = self._efficiencies()
        if any(not 0 < e <= 1 for e in self.efficiencies):
            raise ToolConfigurationError("iactpipe-irf: gamma efficiencies must be in (0, 1]")
        # the options first (they need no file), then the inputs, then the output
        for path in (
            self.point_gamma_file,
            self.diffuse_gamma_file,
            self.proton_file,
            self.electron_file,
        ):
            if path is not None:
                refuse_truncated(path)  # made from a truncated simulation file (r0-dl1)
                check_hdf5_file(path, "DL2")
        writable_directory(self.library, "--output")
        self._exit_stack.callback(new_empty_directory_cleanup(self.library))

    def _efficiencies(self) -> list[float]:
        """
        The nodes' gamma efficiencies: ``gamma_efficiencies``, else the one of
        ``EventCuts``; ``--gamma-efficiency`` on the command line (one node) takes
        precedence over a list from a config file.
        """
        cli = self.cli_config
        if "gamma_efficiency" in cli.get("EventCuts", {}):
            if "gamma_efficiencies" in cli.get("IRFTool", {}):
                raise ToolConfigurationError(
                    "iactpipe-irf: give --gamma-efficiency (one node) or --gamma-efficiencies"
                    " (several), not both"
                )
            return [self.cuts.gamma_efficiency]
        if self.gamma_efficiencies and "gamma_efficiency" in self.config.get("EventCuts", {}):
            self.log.warning(
                "EventCuts.gamma_efficiency is not used: IRFTool.gamma_efficiencies %s give"
                " the library nodes",
                list(self.gamma_efficiencies),
            )
        return [float(e) for e in self.gamma_efficiencies] or [self.cuts.gamma_efficiency]

    def _load(self, path, kind):
        if path is None:
            return None
        self.log.info("Loading %s from %s", kind, path)
        loaded = load_dl2_events(path, self.selection, self.chunk_size)
        self.log.info("%s: %d of %d events selected", kind, len(loaded.events), loaded.n_raw)
        if kind in ("proton", "electron"):
            self.maker.weight(loaded, kind)
        return loaded

    def _check_consistency(self, loaded):
        zenith, azimuth = next(iter(loaded.values())).pointing
        for name, item in loaded.items():
            dz = abs((item.pointing[0] - zenith).to_value(u.deg))
            daz = abs(((item.pointing[1] - azimuth).to_value(u.deg) + 180) % 360 - 180)
            if dz > self.max_pointing_difference or daz > self.max_pointing_difference:
                raise InputFileError(
                    f"{item.path}: pointing (zd {item.pointing[0]:.2f}, az {item.pointing[1]:.2f})"
                    f" differs from the other inputs (zd {zenith:.2f}, az {azimuth:.2f})"
                )
            if name in ("proton", "electron") and item.point_like:
                raise InputFileError(f"{item.path}: {name}s must be simulated diffuse")
        point = loaded.get("point gamma")
        if point is not None and not point.point_like:
            raise InputFileError(
                f"{point.path}: --gammas expects point-like gammas (view cone 0); "
                "give diffuse gammas with --diffuse-gammas"
            )
        if "proton" not in loaded:
            self.log.warning("No protons: the IRF files have no BACKGROUND HDU")

    def _cuts(self, efficiency: float, gammas, backgrounds) -> tuple:
        """The cuts at ``efficiency`` (this Tool's EventCuts) and their config."""
        cut_maker = EventCuts(parent=self, gamma_efficiency=efficiency)
        background = None
        if cut_maker.method == "significance":
            self.maker.weight(gammas, "gamma")
            background = backgrounds[0].events if backgrounds else None
        return cut_maker(gammas.events, background), cut_maker.get_current_config()

    def start(self):
        inputs = {
            "point gamma": self.point_gamma_file,
            "diffuse gamma": self.diffuse_gamma_file,
            "proton": self.proton_file,
            "electron": self.electron_file,
        }
        loaded = {k: self._load(v, k) for k, v in inputs.items() if v is not None}
        self._check_consistency(loaded)
        cut_gammas = loaded.get("point gamma") or loaded["diffuse gamma"]
        if len(cut_gammas.events) == 0:
            raise InputFileError(f"{cut_gammas.path}: no gamma passes the event selection")
        selection_config = effective_config([self.selection])
        provenance = {
            "iactpipe_version": __version__,
            "tool": self.name,
            "tool_config": str(self.get_current_config()),
            "selection_config": str(selection_config),
            "selection_fingerprint": config_fingerprint(selection_config),
            "inputs": ", ".join(str(v) for v in inputs.values() if v is not None),
            "model_library_fingerprint": dl2_model_library(
                [v for v in inputs.values() if v is not None]
            )[0]
            or "",
        }
        config = self.maker.get_current_config()
        backgrounds = [loaded[k] for k in ("proton", "electron") if k in loaded]
        jobs = [
            NodeJob(
                config,
                eff,
                PathlibPath(self.library),
                self.nsb_level,
                self.event_class,
                cut_gammas,
                loaded.get("point gamma"),
                loaded.get("diffuse gamma"),
                backgrounds,
                provenance,
                self.overwrite,
                *self._cuts(eff, cut_gammas, backgrounds),
            )
            for eff in self.efficiencies
        ]
        PathlibPath(self.library).mkdir(parents=True, exist_ok=True)
        self.rows = []
        progress = tqdm(total=len(jobs), desc="IRF nodes", disable=not self.progress_bar)
        if self.jobs == 1 or len(jobs) == 1:
            for job in jobs:
                self.rows.extend(produce_node(job))
                progress.update()
        else:
            # fork: the workers inherit the loaded events and work from scripts without a
            # __main__ guard; spawn where fork does not exist
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            workers = min(self.jobs, len(jobs))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for rows in pool.map(produce_node, jobs):
                    self.rows.extend(rows)
                    progress.update()
        progress.close()

    def finish(self):
        index = update_index(self.library, self.rows)
        for row in self.rows:
            self.log.info(
                "%s IRF, gamma efficiency %.2f: %s",
                row["irf_type"],
                row["gamma_efficiency"],
                row["path"],
            )
        valid = [r for r in self.rows if np.isfinite(r["energy_min"])]
        print(
            f"iactpipe-irf: {len(self.rows)} IRF files in {self.library}, index {index.name}"
            + (
                f"; cuts defined {valid[0]['energy_min']:.2g}-{valid[0]['energy_max']:.2g} TeV"
                if valid
                else "; no energy bin with enough gammas for a cut"
            )
        )
        assert INDEX_NAME == index.name


def main():
    """Run iactpipe-irf."""
    IRFTool().run()
