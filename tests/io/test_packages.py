"""The fast package listing of the provenance equals ctapipe's own."""

from ctapipe.core import Provenance, provenance

from iactpipe.io import packages


def test_installed_packages_equal_ctapipe_listing():
    packages.use_fast_package_listing()
    original = packages.ctapipe_package_listing
    assert original is not None and original is not packages.installed_packages
    expected = original()
    assert len(expected) > 20  # numpy, astropy, ctapipe, ... are installed
    assert packages.installed_packages() == expected


def test_provenance_uses_fast_listing():
    import iactpipe.tools  # noqa: F401 - the tools install the fast listing

    assert provenance._get_python_packages is packages.installed_packages
    prov = Provenance()
    prov.start_activity("test-listing")
    try:
        names = {
            p["name"].lower()
            for p in prov.current_activity.provenance["system"]["python"]["packages"]
        }
    finally:
        prov.finish_activity()
    assert {"ctapipe", "numpy", "astropy"} <= names
