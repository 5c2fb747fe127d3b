"""Sphinx configuration of the iactpipe documentation (``make docs``)."""

import sys
from pathlib import Path

# the package is installed in the virtualenv (editable); this makes a plain checkout work too
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from iactpipe.version import __version__

project = "iactpipe"
author = "the iactpipe developers"
copyright = "the iactpipe developers"
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
nitpicky = False
# `name` in docstrings: try the Python domain; unresolved names render as code
default_role = "py:obj"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False

html_theme = "alabaster"
html_theme_options = {
    "description": "IACT analysis pipeline, SST-1M first, built on ctapipe",
    "fixed_sidebar": True,
}
html_static_path = []
