"""
The installed Python packages recorded in the provenance of every Tool run, listed fast.

ctapipe's ``Provenance`` lists them at the start of each activity
(``ctapipe.core.provenance._get_python_packages``) by parsing every distribution's whole
metadata file (descriptions included) with the e-mail parser three times: about 0.3 s
per Tool run with ~130 packages, a third of a batch R1 -> DL1 run over 4000 DigiCam
events. `installed_packages` gives the same list from the metadata headers alone,
read once; `use_fast_package_listing` makes ctapipe's provenance use it (iactpipe's
tools call it on import).
"""

from __future__ import annotations

from importlib.metadata import distributions

__all__ = ["ctapipe_package_listing", "installed_packages", "use_fast_package_listing"]

#: ctapipe's own listing function, kept when `use_fast_package_listing` replaces it
ctapipe_package_listing = None


def _headers(text: str, wanted: tuple[str, ...]) -> dict[str, str]:
    """The first value of each ``wanted`` (lower-case) header of an RFC 822 text."""
    found = {}
    # the lines up to the first empty one only: a description can be 100 kB
    end = text.find("\n\n")
    for line in (text if end < 0 else text[:end]).splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        key = key.lower()
        if sep and key in wanted and key not in found and not line[0].isspace():
            # as email.policy.compat32: leading blanks and the line end are dropped
            found[key] = value.lstrip(" \t")
    return found


def installed_packages() -> list[dict[str, str]]:
    """
    Name and version of every installed distribution with a name, sorted by name.

    Equal to ``ctapipe.core.provenance._get_python_packages()`` (tested).
    """
    packages = []
    for dist in distributions():
        # the files importlib.metadata.Distribution.metadata reads, in its order
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("")
        headers = _headers(text or "", ("name", "version"))
        if "name" in headers:
            version = headers.get("version", "<unknown>")
            packages.append({"name": headers["name"], "version": version})
    return sorted(packages, key=lambda package: package["name"].lower())


def use_fast_package_listing() -> None:
    """Make ctapipe's provenance list the installed packages with `installed_packages`."""
    global ctapipe_package_listing
    from ctapipe.core import provenance

    listing = getattr(provenance, "_get_python_packages", None)
    if listing is not None and listing is not installed_packages:
        ctapipe_package_listing = listing
        provenance._get_python_packages = installed_packages
