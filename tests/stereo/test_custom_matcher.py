"""examples/custom_matcher: a user subclass of CoincidenceMatcher picked by name from YAML."""

import sys
from pathlib import Path

import numpy as np
from ctapipe.core import run_tool

from iactpipe.stereo import CoincidenceMatcher
from iactpipe.tools.dl1_stereo import DL1StereoTool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_matcher"
sys.path.insert(0, str(EXAMPLE))
import my_matcher  # noqa: E402


def test_custom_matcher_by_name_and_contract():
    matcher = CoincidenceMatcher.from_name("ClockDriftMatcher", drift_ppb=1000.0)
    assert isinstance(matcher, my_matcher.ClockDriftMatcher)
    rng = np.random.default_rng(0)
    t1 = np.cumsum(rng.exponential(1e7, 5000)).astype(np.int64)  # 100 Hz
    t2 = t1 + np.round((t1 - t1[0]) * 1e-6).astype(np.int64)  # 1000 ppb fast clock
    result = matcher.match(t1, t2)
    np.testing.assert_array_equal(result.index_1, result.index_2)
    assert result.n_pairs == 5000
    # without the correction the drift (up to 50 us) exceeds the 10 us window
    assert CoincidenceMatcher.from_name("ClockDriftMatcher").match(t1, t2).n_pairs < 5000


def test_custom_matcher_from_config(tmp_path):
    tool = DL1StereoTool()
    assert run_tool(tool, [f"--config={EXAMPLE / 'config.yaml'}", "--show-config"]) == 0
    assert tool.matcher_type == "ClockDriftMatcher"
