"""iactpipe-info: the iactpipe tools and every component family with its implementations."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from ctapipe.core import Component
from ctapipe.core.traits import Bool, List, Path, flag

from ..io.dl2_model_records import dl2_model_library, node_usage
from ..reco.library import ModelLibrary
from ..version import __version__
from .base import IactpipeTool

__all__ = ["InfoTool", "component_families", "iactpipe_tools", "main"]

#: ctapipe families an iactpipe user selects by name in iactpipe configs
CTAPIPE_FAMILIES = (
    ("ctapipe.io", "EventSource"),
    ("ctapipe.image.extractor", "ImageExtractor"),
    ("ctapipe.image", "ImageCleaner"),
    ("ctapipe.image", "ImageModifier"),
    ("ctapipe.image.invalid_pixels", "InvalidPixelHandler"),
    ("ctapipe.calib", "GainSelector"),
    ("ctapipe.image.reducer", "DataVolumeReducer"),
    ("ctapipe.reco", "Reconstructor"),
)


def iactpipe_tools() -> dict[str, str]:
    """``{command: "module:function"}`` of every iactpipe executable."""
    scripts = entry_points(group="console_scripts")
    return {ep.name: ep.value for ep in scripts if ep.value.startswith("iactpipe.")}


def _all_subclasses(cls: type) -> list[type]:
    subclasses = []
    for sub in cls.__subclasses__():
        subclasses += [sub, *_all_subclasses(sub)]
    return subclasses


def _import_all_iactpipe_modules() -> None:
    import iactpipe

    for module in pkgutil.walk_packages(iactpipe.__path__, "iactpipe."):
        if ".tools" not in module.name:
            importlib.import_module(module.name)


def component_families() -> dict[str, list[type]]:
    """
    ``{family base name: [implementations]}`` for ctapipe's selectable families and
    every abstract iactpipe `Component` base, iactpipe subclasses included.
    """
    _import_all_iactpipe_modules()
    bases = [getattr(importlib.import_module(m), n) for m, n in CTAPIPE_FAMILIES]
    bases += [
        cls
        for cls in _all_subclasses(Component)
        if cls.__module__.startswith("iactpipe.") and getattr(cls, "__abstractmethods__", None)
    ]
    families = {}
    for base in bases:
        implementations = base.non_abstract_subclasses().values()
        families[base.__name__] = sorted(implementations, key=lambda c: c.__name__)
    return families


#: training statistics of a library node (index columns)
COUNT_COLUMNS = ("n_gamma_events", "n_classifier_events")


class InfoTool(IactpipeTool):
    """List the iactpipe tools and every component family with its implementations."""

    name = "iactpipe-info"
    description = __doc__
    examples = """
    > iactpipe-info              # tools and component families
    > iactpipe-info --no-components
    > iactpipe-info --model-library models/ --runs dl2/run_*.dl2.h5   # nodes, runs served
    """

    show_components = Bool(True, help="List the component families").tag(config=True)
    model_library = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        file_ok=False,
        help="A model library (iactpipe-train --library): list its nodes instead of the tools",
    ).tag(config=True)
    runs = List(
        Path(exists=True, directory_ok=False),
        default_value=[],
        help="DL2 files made with --model-library: which nodes served how many events of each",
    ).tag(config=True)

    aliases = {"model-library": "InfoTool.model_library", "runs": "InfoTool.runs"}

    flags = flag(
        "components",
        "InfoTool.show_components",
        "List the component families",
        "Only list the tools",
    )

    def start(self):
        if self.model_library is not None:
            self._show_library()
            return
        print(f"iactpipe {__version__}\n\nTools:")
        for command, target in sorted(iactpipe_tools().items()):
            module_name = target.split(":")[0]
            doc = (importlib.import_module(module_name).__doc__ or "").strip().splitlines()
            print(f"  {command:<24s} {doc[0].split(': ', 1)[-1] if doc else ''}")
        if not self.show_components:
            return
        print("\nComponent families (choose an implementation by name in a config):")
        for family, implementations in component_families().items():
            print(f"  {family}")
            for cls in implementations:
                print(f"      {cls.__name__:<36s} {cls.__module__}")

    def _show_library(self) -> None:
        library = ModelLibrary(self.model_library)
        print(f"model library {library.path}  fingerprint {library.fingerprint[:16]}")
        print(
            f"  {'node':<22s} {'zenith':>7s} {'azimuth':>8s} {'NSB':>6s} {'gammas':>7s} {'g/h':>6s}"
        )
        for node, row in zip(library.nodes, library.index, strict=True):
            counts = [int(row[c]) if c in row.colnames else -1 for c in COUNT_COLUMNS]
            print(
                f"  {node.name:<22s} {node.zenith.to_value('deg'):7.1f} "
                f"{node.azimuth.to_value('deg'):8.1f} {node.nsb_level:>6s} "
                f"{counts[0]:7d} {counts[1]:6d}"
            )
        for path in self.runs:
            if dl2_model_library([path])[0] != library.fingerprint:
                print(f"  {path}: made with another model library")
                continue
            usage = node_usage(path)
            served = ", ".join(
                f"{n.name} {w:.0f}" for n, w in zip(library.nodes, usage, strict=True) if w > 0
            )
            print(f"  {path}: events (summed weights) per node: {served}")


def main():
    """Run iactpipe-info."""
    InfoTool().run()


if __name__ == "__main__":
    main()
