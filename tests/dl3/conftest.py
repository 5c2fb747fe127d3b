"""The DL3 tests use the session fixtures ``dl3_chain`` and ``crab_fit_dl3`` of
tests/conftest.py (shared with tests/analysis); their statistics are stated in
tests/chain_fixtures.py, whose constants are re-exported here for the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/chain_fixtures.py
import chain_fixtures as _chain

ZENITH, AZIMUTH = _chain.DL3_ZENITH, _chain.DL3_AZIMUTH
PRODUCTIONS = _chain.DL3_PRODUCTIONS
DEAD_TIME_S = _chain.DL3_DEAD_TIME_S
OBSERVATION = _chain.DL3_OBSERVATION
OBS_ID = _chain.DL3_OBS_ID
CRAB_FIT_FLUX_SCALE = _chain.CRAB_FIT_FLUX_SCALE
