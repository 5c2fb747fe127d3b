"""
Run iactpipe-dl1-stereo with the matcher of ``my_matcher.py`` available by name.

ctapipe resolves ``matcher_type`` among the *imported* subclasses of
`iactpipe.stereo.CoincidenceMatcher`: import the module that defines it, then run the
tool. Every option of ``iactpipe-dl1-stereo`` works here::

    python run.py --config config.yaml --input-1 tel21.dl1.h5 --input-2 tel22.dl1.h5 -o s.h5
    python run.py --help-all | grep -A2 ClockDriftMatcher.drift_ppb
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None):
    """Register ClockDriftMatcher, then run iactpipe-dl1-stereo with ``argv``."""
    import my_matcher  # noqa: F401  (registers ClockDriftMatcher by name)

    from iactpipe.tools.dl1_stereo import DL1StereoTool

    DL1StereoTool().run(argv)


if __name__ == "__main__":
    main()
