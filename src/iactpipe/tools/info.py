"""iactpipe-info: the iactpipe tools and every component family with its implementations."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from ctapipe.core import Component
from ctapipe.core.traits import Bool, flag

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


class InfoTool(IactpipeTool):
    """List the iactpipe tools and every component family with its implementations."""

    name = "iactpipe-info"
    description = __doc__
    examples = """
    > iactpipe-info              # tools and component families
    > iactpipe-info --no-components
    """

    show_components = Bool(True, help="List the component families").tag(config=True)

    flags = flag(
        "components",
        "InfoTool.show_components",
        "List the component families",
        "Only list the tools",
    )

    def start(self):
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


def main():
    """Run iactpipe-info."""
    InfoTool().run()


if __name__ == "__main__":
    main()
