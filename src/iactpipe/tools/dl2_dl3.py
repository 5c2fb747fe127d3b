"""iactpipe-dl2-dl3: GADF DL3 files (events, GTI, pointing, IRFs) from observed DL2 runs."""

from __future__ import annotations

from pathlib import Path as PathlibPath

import astropy.units as u
import numpy as np
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Bool, Int, List, Path, Unicode, flag

from ..dl3.events import (
    load_observed_events,
    mean_pointing_altaz,
    physics_trigger_times,
    pointing_track,
)
from ..dl3.irf_choice import (
    IRFSelector,
    check_library_nodes,
    load_irf,
    model_library_problem,
)
from ..dl3.livetime import LiveTimeEstimator
from ..dl3.model_nodes import run_model_nodes
from ..dl3.node_cuts import (
    NodeGammanessCut,
    NodeOutputs,
    read_node_cut_tables,
    read_node_outputs,
)
from ..dl3.writer import dl3_file_name, write_dl3_file
from ..instrument import ONDREJOV_LOCATION
from ..io import InputFileError, config_fingerprint, effective_config
from ..io.chain_step import ChainStep
from ..io.config_guard import ALLOW_CONFIG_MISMATCH_FLAG, ConfigGuard
from ..io.dataformat import DL2_MODEL_NODES_TABLE, GH_RULE_KEYWORD
from ..io.dl2_model_records import dl2_model_library
from ..io.inputs import check_hdf5_file
from ..io.outputs import OutputSet
from ..irf.cuts import GammaCuts
from ..irf.events import DL2EventSelection
from .base import IactpipeTool, writable_directory

__all__ = ["DL2DL3Tool", "main"]


class DL2DL3Tool(IactpipeTool):
    """
    Write one GADF DL3 file per observed run: the events that pass the event selection
    and the gammaness cut of the run's IRF, GTI, POINTING, the IRF HDUs of the nearest
    library node (or interpolated in cos(zenith) between two, ``--irf-choice
    interpolate``, or averaged over the run's zenith track, ``--irf-choice track``),
    and the dead-time corrected live time (fit of the time differences
    between physics triggers). The selection must be the one that made the IRF
    (fingerprint check). A run reconstructed with a model library must be matched by an
    IRF library of the same nodes made from that library's DL2; its DL3 file records the
    model nodes and their weights over its events (``MODEL_NODES`` HDU, ``MOD_*`` cards).
    """

    name = "iactpipe-dl2-dl3"
    description = __doc__
    examples = """
    One run, point-like IRFs at 70 % gamma efficiency:
    > iactpipe-dl2-dl3 -i run001001.dl2.h5 --irfs irfs/ -o dl3/ --object Crab

    A night, full-enclosure IRFs at 80 % efficiency, then the index:
    > iactpipe-dl2-dl3 -i dl2/*.dl2.h5 --irfs irfs/ -o dl3/ --irf-type full-enclosure \\
        --gamma-efficiency 0.8
    > iactpipe-index -d dl3/
    """

    input_files = List(
        Path(exists=True, directory_ok=False),
        default_value=[],
        help="Observed DL2 files, one run each",
    ).tag(config=True)
    irf_library = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        file_ok=False,
        help="IRF library directory (iactpipe-irf output)",
    ).tag(config=True)
    output_dir = Path(
        default_value=None, allow_none=True, file_ok=False, help="Directory of the DL3 files"
    ).tag(config=True)
    object_name = Unicode("UNKNOWN", help="OBJECT keyword (observed source)").tag(config=True)
    chunk_size = Int(100_000, min=1, help="Subarray events read at once").tag(config=True)
    skip_empty = Bool(
        True, help="Skip runs without events after the cuts (warning) instead of failing"
    ).tag(config=True)

    #: iactpipe-chain: the stage and the traits naming what this Tool reads and writes
    chain_step = ChainStep(
        "dl2-dl3",
        inputs=("DL2DL3Tool.input_files", "DL2DL3Tool.irf_library"),
        outputs=("DL2DL3Tool.output_dir",),
    )

    aliases = {
        ("i", "input"): "DL2DL3Tool.input_files",
        "irfs": "DL2DL3Tool.irf_library",
        ("o", "output"): "DL2DL3Tool.output_dir",
        "object": "DL2DL3Tool.object_name",
        "irf-type": "IRFSelector.irf_type",
        "irf-choice": "IRFSelector.method",
        "gh-cut-rule": "NodeGammanessCut.method",
        "gamma-efficiency": "IRFSelector.gamma_efficiency",
        "nsb-level": "IRFSelector.nsb_level",
        "event-class": "IRFSelector.event_class",
        "chunk-size": "DL2DL3Tool.chunk_size",
    }
    flags = {
        **flag(
            "overwrite",
            "DL2DL3Tool.overwrite",
            "Replace existing DL3 files",
            "Never replace existing DL3 files",
        ),
        **ALLOW_CONFIG_MISMATCH_FLAG,
        **flag(
            "skip-empty",
            "DL2DL3Tool.skip_empty",
            "Skip runs without events after cuts",
            "Fail on runs without events after cuts",
        ),
    }
    classes = [DL2EventSelection, IRFSelector, NodeGammanessCut, LiveTimeEstimator, ConfigGuard]

    def setup(self):
        if not self.input_files:
            raise ToolConfigurationError(f"{self.name}: give observed DL2 files (--input)")
        if self.irf_library is None or self.output_dir is None:
            raise ToolConfigurationError(f"{self.name}: give --irfs and --output")
        for path in self.input_files:
            check_hdf5_file(path, "DL2")
        writable_directory(self.output_dir, "--output")
        self.outputs = OutputSet(overwrite=self.overwrite)
        self._exit_stack.callback(self.outputs.discard)
        self.outputs.directory(self.output_dir)
        self.selection = DL2EventSelection(parent=self)
        self.irf_selector = IRFSelector(parent=self)
        self.gh_cut = NodeGammanessCut(parent=self)
        self.live_time = LiveTimeEstimator(parent=self)
        self.config_guard = ConfigGuard(parent=self)
        self.fingerprint = config_fingerprint(effective_config([self.selection]))
        self.location = ONDREJOV_LOCATION
        self.written, self.skipped = [], []

    def _model_library(self, path) -> str | None:
        """The run's model library (fingerprint); its nodes must be the IRF nodes."""
        fingerprint, nodes = dl2_model_library([path])
        if nodes:
            check_library_nodes(self.irf_library, self.irf_selector.nsb_level, nodes)
        return fingerprint

    def _node_gh_cut(self, path, cuts: GammaCuts) -> tuple:
        """
        The gammaness cut of a run reconstructed by a model library, from each event's
        own nodes (`NodeGammanessCut`), and the EVENTS card recording it; ``(None,
        None)``: the run's cut decides (no library, ``interpolated-score``, or every
        event at the node of the run's cut, where the rule is that cut).
        """
        _, model_nodes = dl2_model_library([path])
        if not model_nodes or self.gh_cut.method == "interpolated-score":
            return None, None
        table = read_node_outputs(path)
        fallback = "the interpolated score against the run's interpolated cut"
        if table is None:
            self.log.warning(
                "%s: no per-node gammaness in %s (DL2 written before it): %s",
                path,
                DL2_MODEL_NODES_TABLE,
                fallback,
            )
            return None, None
        s = self.irf_selector
        node_cuts, why = read_node_cut_tables(
            self.irf_library,
            model_nodes,
            s.nsb_level,
            s.gamma_efficiency,
            s.irf_type,
            s.event_class,
        )
        if node_cuts is None:
            self.log.warning("%s: %s: %s", path, why, fallback)
            return None, None
        outputs = NodeOutputs(table, path)
        if not outputs.interpolated and all(
            node_cuts[j].same_cut(cuts.gh_cuts) for j in outputs.used_nodes
        ):
            return None, None

        def gh_cut(events, obs_id, event_id):
            return self.gh_cut(events, cuts, outputs.rows(obs_id, event_id), node_cuts)

        card = (GH_RULE_KEYWORD, self.gh_cut.method, "gh cut between model nodes")
        self.log.info("%s: gammaness cut per event from its model nodes (%s)", path, card[1])
        return gh_cut, [card]

    def _run_irf(self, path, times, model_library: str | None) -> tuple:
        """The run's IRF choice and IRF, checked against its model library and selection."""
        # the pointing decides the IRF node; read it before the events
        zenith, azimuth = mean_pointing_altaz(path, times, self.location)
        track = None
        if self.irf_selector.method == "track":  # the IRFs averaged over the run's track
            track = pointing_track(path, times, self.location)
        choice = self.irf_selector(self.irf_library, zenith, azimuth, track)
        irf = load_irf(choice)
        problem = model_library_problem(irf, model_library)
        if problem:  # the IRF was made from DL2 of another model library
            self.config_guard.mismatch(problem, "use the IRF anyway")
        self.config_guard.require_fingerprint(
            irf.selection_fingerprint,
            self.fingerprint,
            f"{irf.path}: the IRF was made with another event selection (fingerprint "
            f"{irf.selection_fingerprint[:12]}, this run {self.fingerprint[:12]}); configure "
            f"DL2EventSelection as {irf.selection_config}",
            "use the IRF anyway",
        )
        return choice, irf

    def _process(self, path):
        # the model nodes first: an IRF library of other nodes is the problem to report
        model_library = self._model_library(path)
        times = physics_trigger_times(path)
        try:
            live, per_tel = self.live_time(times)
        except ValueError as err:
            raise InputFileError(f"{path}: {err}") from err
        choice, irf = self._run_irf(path, times, model_library)
        cuts = GammaCuts(irf.gh_cuts, irf.theta_cuts, np.nan, np.nan, "from IRF file")
        gh_cut, rule_cards = self._node_gh_cut(path, cuts)
        run = load_observed_events(
            path, self.selection, cuts, self.location, self.chunk_size, gh_cut
        )
        self.log.info(
            "%s: %d events, %d selected, %d after the gammaness cut; live time %.2f s of %.2f s",
            path,
            run.n_raw,
            run.n_selected,
            len(run.events),
            live.live_time.to_value(u.s),
            live.elapsed.to_value(u.s),
        )
        if len(run.events) == 0:
            message = f"{path}: no event after the selection and gammaness cut"
            if not self.skip_empty:
                raise InputFileError(message)
            self.log.warning("%s; run skipped, no DL3 file", message)
            self.skipped.append(path)
            return
        nodes = run_model_nodes(path, run.obs_id, run.events["EVENT_ID"])
        if nodes is not None:
            self.log.info(
                "%s: model nodes %s",
                path,
                ", ".join(
                    f"{n['node']} {w:.3f}" for n, w in zip(nodes.nodes, nodes.share, strict=True)
                ),
            )
        output = self.outputs.add(PathlibPath(self.output_dir) / dl3_file_name(run.obs_id))
        write_dl3_file(
            output.path,
            run,
            live,
            per_tel,
            irf,
            choice,
            self.location,
            self.object_name,
            self.overwrite,
            output=output,
            model_nodes=nodes,
            extra_cards=rule_cards,
        )
        self.written.append((output.path, run, live))

    def start(self):
        for path in self.input_files:
            self._process(path)
        if not self.written:
            raise InputFileError(f"{self.name}: no run with events after the cuts, no DL3 file")

    def finish(self):
        self.outputs.commit()  # all runs' DL3 files, or none
        for output, run, live in self.written:
            print(
                f"{self.name}: obs {run.obs_id}: {len(run.events)} events, live time "
                f"{live.live_time:.2f} of {live.elapsed:.2f} -> {output}"
            )
        for path in self.skipped:
            print(f"{self.name}: skipped {path} (no event after the cuts)")


def main():
    """Run iactpipe-dl2-dl3."""
    DL2DL3Tool().run()
