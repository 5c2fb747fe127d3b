"""One definition of the energy bias and resolution: pyirf's, in iactpipe-train and -performance."""

import astropy.units as u
import numpy as np
from astropy.table import QTable
from pyirf.benchmarks import energy_bias_resolution

from iactpipe.irf.performance import energy_resolution_table
from iactpipe.reco.metrics import energy_resolution


def test_train_and_performance_report_pyirfs_energy_resolution():
    """
    The same events give the same numbers in the cross-validation report of
    ``iactpipe-train`` (`reco.metrics.energy_resolution`) and in ``iactpipe-performance``
    (`irf.performance.energy_resolution_table`), both equal to pyirf's
    `energy_bias_resolution` (the former only leaves bins under ``min_events`` empty).
    A skewed error distribution (log-normal) makes the definitions differ: the former
    68 % of |rel - bias| is about 9 % below pyirf's half 16-84 % distance here.
    """
    rng = np.random.default_rng(17)
    true = 10 ** rng.uniform(0, 2, 20_000) * u.TeV
    reco = true * rng.lognormal(0.05, 0.5, len(true))
    bins = np.geomspace(1, 100, 9) * u.TeV
    events = QTable({"true_energy": true, "reco_energy": reco})
    peer = energy_bias_resolution(events, bins, energy_type="true")
    train = energy_resolution(true, reco, bins, min_events=10)
    performance = energy_resolution_table(events, bins)
    np.testing.assert_array_equal(train["n_events"], peer["n_events"])
    np.testing.assert_allclose(train["energy_bias"], peer["bias"], rtol=1e-12)
    np.testing.assert_allclose(train["energy_resolution"], peer["resolution"], rtol=1e-12)
    np.testing.assert_allclose(performance["resolution"], peer["resolution"], rtol=1e-12)
    np.testing.assert_allclose(performance["bias"], peer["bias"], rtol=1e-12)
    rel = (reco / true).to_value(u.one) - 1
    old = np.quantile(np.abs(rel - np.median(rel)), 0.6827)  # the former definition
    assert abs(old / float(np.median(peer["resolution"])) - 1) > 0.05


def test_energy_resolution_drops_non_finite_and_sparse_bins():
    true = np.array([1.5, 1.5, 1.5, 5.0, 5.0]) * u.TeV
    reco = np.array([1.2, np.nan, 1.8, 4.0, 6.0]) * u.TeV
    table = energy_resolution(true, reco, [1, 3, 10] * u.TeV, min_events=2)
    assert list(table["n_events"]) == [2, 2]
    np.testing.assert_allclose(table["energy_bias"], [0.0, 0.0], atol=1e-12)
    assert np.isnan(
        energy_resolution(true, reco, [1, 3, 10] * u.TeV, min_events=3)["energy_resolution"][0]
    )
