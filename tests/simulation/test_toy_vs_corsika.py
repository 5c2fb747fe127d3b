"""The toy's shower model (tuned defaults) against CORSIKA photons of the same showers.

The reference is CTA prod4 run 102 (``../shared/data/corsika``, gammas of 0.1-5 TeV,
20 deg zenith, Paranal 2150 m), the input from which sim_telarray made the prod4 SST-1M
file; `iactpipe.simulation.shower_model_check` holds the comparisons (the full benchmark
is ``benchmarks/toy_vs_corsika.py``, results in docs/simulate.rst).
"""

from pathlib import Path

import numpy as np
import pytest
from traitlets.config import Config

from iactpipe.simulation.cherenkov import TUNED_MODEL, UNTUNED_MODEL, CherenkovImageModel
from iactpipe.simulation.corsika import read_corsika_events
from iactpipe.simulation.generator import ShowerBatch
from iactpipe.simulation.light_pool import ENVELOPE_SHAPE, ENVELOPE_YIELD
from iactpipe.simulation.shower_model_check import (
    corsika_densities,
    density_profiles,
    image_model,
    image_rows,
    median_ratio_50_300,
)

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
CORSIKA = SHARED_DATA / "corsika" / "run102_gamma_za20deg_azm0deg-paranal-sst.corsika.zst"


@pytest.fixture(scope="module")
def corsika_path() -> Path:
    """The CORSIKA IACT file of CTA prod4 run 102."""
    if not CORSIKA.exists():
        pytest.skip(f"{CORSIKA} not present: real external test data lives in ../shared/data")
    return CORSIKA


@pytest.fixture(scope="module")
def densities(corsika_path):
    """CORSIKA photon densities of every telescope sphere and the site geometry."""
    first = next(read_corsika_events(corsika_path, 1))
    return corsika_densities(corsika_path), np.pi / 2 - first.alt_rad, first.obs_height_m


def _band_ratios(densities, config=None, n_showers=3):
    rows, zenith, height = densities
    profiles = density_profiles(rows, image_model(config), zenith, height, 1, n_showers)
    return {band: median_ratio_50_300(*p) for band, p in profiles.items()}


def test_density_50_300_m_within_20_percent(densities):
    """Issue 19: photon density 50-300 m from the axis within 20 % of CORSIKA for the
    CORSIKA energies. Median toy / CORSIKA over the 25 m bins with >= 5 spheres; toy
    averaged over 3 first-interaction depths per energy (the benchmark uses 8: 1.01, 0.96,
    0.94; here 1.00, 1.00, 0.93)."""
    ratios = _band_ratios(densities)
    print("density ratios", ratios)
    assert set(ratios) == {(0.1, 0.3), (0.3, 1.0), (1.0, 5.0)}
    for band, ratio in ratios.items():
        assert 0.8 < ratio < 1.2, band


def test_untuned_model_still_reachable(densities):
    """The model before the tuning, by config: its light pool held about a third of
    CORSIKA's light at 50-300 m above 0.3 TeV (0.35, 0.36 in the benchmark)."""
    ratios = _band_ratios(densities, Config({"CherenkovImageModel": UNTUNED_MODEL}), 2)
    print("untuned density ratios", ratios)
    assert ratios[(0.3, 1.0)] < 0.5
    assert ratios[(1.0, 5.0)] < 0.5


def test_image_width_length_within_15_percent(corsika_path):
    """Issue 19: image width/length within 15 %. The toy's true image of a shower of the
    same energy, direction and core at the same telescope against the CORSIKA photons
    ray-traced through the SST-1M optics (which match sim_telarray's true images, see
    test_corsika.py); both >= 50 p.e., no cleaning. First 14 of the 20 showers (a few
    seconds; the 4.96 TeV shower included): 133 images, width 0.96, length 1.02, size
    1.10 (all 20 in the benchmark: width 1.01, length 1.00). The size also checks the
    detector yield brought to the SST-1M's (CORSIKA: 9.25 m^2 x 0.82 x 0.131)."""
    rows = image_rows(corsika_path, image_model(), seed=3, max_showers=14)
    both = rows[:, 5] >= 50
    width = np.median(rows[both, 6] / rows[both, 3])
    length = np.median(rows[both, 7] / rows[both, 4])
    size = np.median(rows[:, 5] / rows[:, 2])
    print("images", both.sum(), "width", width, "length", length, "size", size)
    assert both.sum() >= 100
    assert 0.85 < width < 1.15
    assert 0.85 < length < 1.15
    assert 0.8 < size < 1.25


def _preselection_bound(config=None):
    """The light-pool bound of a 1 TeV gamma on a telescope 100 m from the core."""
    model = image_model(config)
    one = np.ones(1)
    batch = ShowerBatch(
        "gamma", one, 0 * one, 0 * one, 1.2 * one, 0 * one, 40 * one, 1.2 * one, 0 * one, 511.0
    )
    subs = model.subshowers(np.random.default_rng(0), batch, 0, 511.0)
    return model.max_total_pe(subs, np.array([[0.0, 100.0, 0.0]]))[0]


def test_light_pool_envelope_is_for_the_defaults():
    """The light-pool pre-selection works only when an envelope was tabulated for the
    model's shape: the shipped tables must be those of the defaults and of the untuned
    model (else every telescope is rendered, correct but slow), with their yields."""
    assert np.isfinite(_preselection_bound())
    assert np.isfinite(_preselection_bound(Config({"CherenkovImageModel": UNTUNED_MODEL})))
    other = Config({"CherenkovImageModel": {"electron_angle_deg": 1.0}})
    assert _preselection_bound(other) == np.inf
    assert ENVELOPE_SHAPE[4:] == (
        TUNED_MODEL["post_max_quench_per_x0"],
        TUNED_MODEL["yield_energy_index"],
    )
    assert ENVELOPE_YIELD == pytest.approx(
        CherenkovImageModel.track_fraction.default_value
        * CherenkovImageModel.mirror_area_m2.default_value
        * CherenkovImageModel.photon_detection_efficiency.default_value
    )
