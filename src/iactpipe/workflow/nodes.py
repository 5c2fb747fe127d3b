"""
The chain on an MC production over a grid of pointings: models and IRFs per node.

When the MC productions of a `DataSet` give their node's ``pointing`` (and NSB level),
the chain trains one model-library node per pointing (``iactpipe-train --library``),
reconstructs every MC file and every run with the whole library (per event, the nodes
bracketing its zenith, interpolated in cos(zenith); ``ChainTool.node_choice = nearest``:
the nearest node), makes one IRF-library node per pointing from that node's DL2
(``iactpipe-irf`` into one library, one node after the other: the library index is
read, updated and rewritten), and writes each run's DL3 with IRFs interpolated between
the same nodes (``IRFSelector.method``, or the nearest node; ``node_choice = track``:
models interpolated per event, IRFs averaged over each run's zenith track).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u

from ..irf.library import node_directory
from ..reco.library import model_node_directory
from .dataset import DataSetError, MCProduction
from .graph import Step
from .layout import OutputLayout as L
from .layout import level_path

__all__ = ["Product", "library_mc_steps", "production_nodes"]


@dataclass
class Product:
    """What several steps make together (a library): its path and the steps' names."""

    path: Path
    deps: list[str]
    #: traits its consumers set with it (``{"Class.trait": value}``)
    traits: dict = field(default_factory=dict)


def production_nodes(productions: list[MCProduction]) -> dict[str, list[MCProduction]]:
    """
    The productions grouped by node (``zd20_az000/nsb_dark``), or ``{}`` when none gives
    a pointing (one MC production, one set of models).

    Raises
    ------
    DataSetError
        Some productions give a pointing and others not, or a node lacks diffuse gammas
        or protons (the training samples).
    """
    with_pointing = [p for p in productions if p.pointing is not None]
    if not with_pointing:
        return {}
    if len(with_pointing) != len(productions):
        missing = [p.name for p in productions if p.pointing is None]
        raise DataSetError(
            f"MC productions {missing} give no pointing while others do: on a pointing grid "
            f"every production names its node (pointing: [zenith_deg, azimuth_deg])"
        )
    nodes = defaultdict(list)
    for production in productions:
        zenith, azimuth = production.pointing
        name = model_node_directory(zenith * u.deg, azimuth * u.deg, production.nsb_level)
        nodes[str(name)].append(production)
    for name, members in nodes.items():
        kinds = {p.kind for p in members}
        if not {"gamma_diffuse", "proton"} <= kinds:
            raise DataSetError(
                f"pointing node {name}: training needs gamma_diffuse and proton MC "
                f"productions, got {sorted(kinds)}"
            )
    return dict(sorted(nodes.items()))


def _train_node(builder, node: str, members, dl1: dict[str, list[Step]], library: Path) -> Step:
    gammas = [s for p in members if p.kind == "gamma_diffuse" for s in dl1[p.name]]
    protons = [s for p in members if p.kind == "proton" for s in dl1[p.name]]
    traits = {
        "TrainTool.gamma_files": [s.primary_output for s in gammas],
        "TrainTool.proton_files": [s.primary_output for s in protons],
        "TrainTool.library_dir": library,
        "TrainTool.nsb_level": members[0].nsb_level,
        "RecoModel.stereo": builder.mode == "stereo",
    }
    return builder.add(
        f"train {node}",
        "train",
        traits,
        "mc",
        [s.name for s in gammas + protons],
        outputs=[library / node],
        label=f"{node}: gamma_diffuse + proton",
    )


def _irf_node(
    builder, node: str, members, dl2: dict[str, list[Step]], after: list[str], library: Path
) -> Step:
    files = {
        "gamma_point": "IRFTool.point_gamma_file",
        "gamma_diffuse": "IRFTool.diffuse_gamma_file",
        "proton": "IRFTool.proton_file",
    }
    traits, deps = {}, list(after)
    for kind, trait in files.items():
        steps = [s for p in members if p.kind == kind for s in dl2[p.name]]
        if len(steps) > 1:
            raise DataSetError(
                f"pointing node {node}: iactpipe-irf takes one {kind} file; merge the "
                f"node's DL2 files (ctapipe-merge) first"
            )
        if steps:
            traits[trait] = steps[0].primary_output
            deps.append(steps[0].name)
    zenith, azimuth = members[0].pointing
    # the node's directories of every event class and efficiency (irf.library layout)
    directory = node_directory(zenith * u.deg, azimuth * u.deg, members[0].nsb_level, "x", 1)
    traits |= {"IRFTool.library": library, "IRFTool.nsb_level": members[0].nsb_level}
    return builder.add(
        f"irf {node}",
        "irf",
        traits,
        "mc",
        deps,
        outputs=[library / directory.parent.parent],
        label=f"{node}: MC DL2",
    )


def library_mc_steps(
    builder,
    nodes: dict[str, list[MCProduction]],
    dl1: dict[str, list[Step]],
    irfs: bool,
    node_choice: str = "interpolate",
    level: str | None = None,
) -> tuple[Product, Product | None, dict[str, list[Step]]]:
    """
    The MC steps of a pointing grid after DL1: train per node, DL2 of every MC file with
    the model library, IRFs per node (``irfs``: only when there are runs).

    Parameters
    ----------
    builder : build._Builder
        The graph builder (``add``, ``mc_dl2``, ``mode``).
    nodes : dict
        `production_nodes` of the data set.
    dl1 : dict
        Per production name, its last DL1 steps (r0-dl1 or dl1-stereo).
    irfs : bool
        Make the IRF library.
    node_choice : str
        ``interpolate`` or ``nearest``: how the runs get their models
        (``ModelChoice.method``) and IRFs (``IRFSelector.method``); ``track``: models
        interpolated, IRFs averaged over each run's zenith track.
    level : str or None
        An NSB level of ``DataSet.nsb_levels``: its own libraries (``models_nsb_<level>``,
        ``irfs_nsb_<level>``, nodes ``zdZZ_azAAA/nsb_<level>``), and its runs take the
        models of that level only (``DL1DL2Tool.nsb_level``); None: the dark libraries.

    Returns
    -------
    models, irf : Product
        The model library and the IRF library (None without ``irfs``), with the traits
        the runs' steps set (``node_choice``).
    dl2 : dict
        Per production name, its DL2 steps.
    """
    model_dir, irf_dir = (level_path(f(builder.mode), level) for f in (L.models, L.irfs))
    trained = [
        _train_node(builder, node, members, dl1, model_dir) for node, members in nodes.items()
    ]
    # MC files lie at a node (one node's models whatever the choice)
    models = Product(model_dir, [s.name for s in trained])
    # track is an IRF choice; per event, the models are interpolated as for interpolate
    model_choice = "interpolate" if node_choice == "track" else node_choice
    run_traits = {"ModelChoice.method": model_choice}
    if level is not None:  # the run chooses its level, then the nodes of its pointing
        run_traits["DL1DL2Tool.nsb_level"] = level
    runs = Product(models.path, models.deps, run_traits)
    dl2 = {
        p.name: [builder.mc_dl2(s, models) for s in dl1[p.name]]
        for members in nodes.values()
        for p in members
    }
    if not irfs:
        return runs, None, dl2
    made = []
    for node, members in nodes.items():
        # one node after the other: each iactpipe-irf rewrites the library index
        made.append(_irf_node(builder, node, members, dl2, [s.name for s in made[-1:]], irf_dir))
    irf = Product(
        irf_dir,
        [s.name for s in made],
        {"IRFSelector.method": node_choice},
    )
    return runs, irf, dl2
