"""
Run iactpipe-r0-dl1 with the cleaner of ``my_cleaner.py`` available by name.

ctapipe resolves ``image_cleaner_type`` among the *imported* subclasses of
`~ctapipe.image.ImageCleaner` (``ImageCleaner.non_abstract_subclasses()``); it has no
plugin entry point for cleaners. So: import the module that defines the cleaner, then
run the tool. Every command-line option of ``iactpipe-r0-dl1`` works here::

    python run.py --config config.yaml --input gamma.simtel.zst --output gamma.dl1.h5
    python run.py --help-all | grep -A3 MyCleaner.min_pixels
"""

import sys
from pathlib import Path

# make my_cleaner importable wherever this script is started from
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None):
    """Register MyCleaner, then run iactpipe-r0-dl1 with ``argv`` (default: sys.argv)."""
    import my_cleaner  # noqa: F401  (registers MyCleaner by name)

    # imported after my_cleaner, so that MyCleaner is listed in --help-all as well
    from iactpipe.tools.r0_dl1 import R0DL1Tool

    R0DL1Tool().run(argv)


if __name__ == "__main__":
    main()
