"""The MC block path of `ToySimulationSource` (whole-batch values of its per-shower loop)
gives the values of the per-shower and per-telescope computations it replaces."""

import astropy.units as u
import numpy as np
from traitlets.config import Config

from iactpipe.simulation import ToySimulationSource
from iactpipe.simulation.generator import impact_distances, shower_truth_rows
from iactpipe.simulation.geometry import altaz_to_ground_vector


def _proton_source(n_showers: int) -> ToySimulationSource:
    config = {
        "ShowerGenerator": {"particle": "proton", "n_showers": n_showers, "viewcone": 6 * u.deg}
    }
    return ToySimulationSource(config=Config(config))


def test_batch_impact_distances_equal_per_telescope_norms():
    """`impact_distances` (whole batch) gives bit for bit the distance
    of ``np.linalg.norm(rel - np.dot(rel, axis) * axis)`` per shower and telescope, with
    the axis of `altaz_to_ground_vector` (diffuse protons: every shower its own axis)."""
    source = _proton_source(3000)
    source._positions = source._tel_positions()
    batch = source.generator(np.random.default_rng(4), 3000)
    assert np.ptp(batch.alt_rad) > 0.05
    impact = impact_distances(batch, source._positions)
    assert impact.shape == (3000, len(source.subarray.tel_ids))
    for i in range(len(batch)):
        axis = altaz_to_ground_vector(batch.alt_rad[i], batch.az_rad[i])
        core = np.array([batch.core_x_m[i], batch.core_y_m[i], 0.0])
        for k, position in enumerate(source._positions):
            rel = position - core
            assert impact[i, k] == np.linalg.norm(rel - np.dot(rel, axis) * axis), (i, k)


def test_shower_truth_rows_are_the_batch_values():
    """`shower_truth_rows`: one dict per shower with the batch's values (as float64)."""
    source = _proton_source(50)
    batch = source.generator(np.random.default_rng(2), 50)
    h_first = np.linspace(1e3, 2e4, 50)
    rows = shower_truth_rows(batch, h_first)
    assert len(rows) == 50
    for i in (0, 17, 49):
        assert rows[i]["energy_tev"] == batch.energy_tev[i]
        assert rows[i]["alt_rad"] == batch.alt_rad[i]
        assert rows[i]["az_rad"] == batch.az_rad[i]
        assert rows[i]["core_x_m"] == batch.core_x_m[i]
        assert rows[i]["core_y_m"] == batch.core_y_m[i]
        assert rows[i]["h_first_int_m"] == h_first[i]
        assert rows[i]["pointing_alt_rad"] == batch.pointing_alt_rad[i]
        assert rows[i]["pointing_az_rad"] == batch.pointing_az_rad[i]


def test_block_impact_and_thrown_histogram(tmp_path):
    """The blocks' impact distances are those of their showers, and every thrown shower
    is counted in the histogram (the per-shower loop over Python lists)."""
    config = Config({"ShowerGenerator": {"n_showers": 200, "max_scatter_radius": 300 * u.m}})
    source = ToySimulationSource(config=config, seed=6)
    blocks = list(source.event_blocks(block_size=16))
    assert source.n_thrown == 200
    assert source._hist.sum() == 200
    positions = source._tel_positions()
    ids = list(source.subarray.tel_ids)
    n_checked = 0
    for block in blocks:
        for row in range(len(block.tel_id)):
            i = block.tel_event[row]
            axis = altaz_to_ground_vector(block.alt_rad[i], block.az_rad[i])
            rel = positions[ids.index(block.tel_id[row])]
            rel = rel - np.array([block.core_x_m[i], block.core_y_m[i], 0.0])
            assert block.impact_m[row] == np.linalg.norm(rel - np.dot(rel, axis) * axis)
            n_checked += 1
    assert n_checked > 20
