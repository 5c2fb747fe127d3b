"""
The gammaness cut between model nodes (``iactpipe.dl3.node_cuts``): the efficiency-mean
rule on synthetic scores of known laws, its one-node limit, and the ``GH_EFFICIENCY``
HDU of the IRF files (round trip; files without it).

The synthetic nodes: node 0's gammas score like Beta(6, 2), node 1's like Beta(1.5, 1)
(a sharp and a soft classifier), 8000 each in three reconstructed-energy bins, each
node's cut a 70 % percentile cut. A gamma between the nodes has one score per node,
each following that node's law, coupled by a Gaussian copula of correlation ``rho``
(the same shower seen by both nodes' models).
"""

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from scipy import stats

from iactpipe.dl3.irf_file import read_irf_file
from iactpipe.dl3.node_cuts import (
    NodeCutTable,
    NodeGammanessCut,
    efficiency_mean_mask,
    gamma_efficiency,
    read_node_cut_tables,
)
from iactpipe.io.dataformat import GH_EFFICIENCY_HDU
from iactpipe.irf.cuts import GammaCuts, efficiency_table, percentile_cut_table

BINS = np.array([1.0, 3.0, 10.0, 30.0]) * u.TeV
LAWS = (stats.beta(6, 2), stats.beta(1.5, 1.0))


def _energies(rng, n):
    return 10 ** rng.uniform(0, np.log10(30), n) * u.TeV


@pytest.fixture(scope="module")
def nodes() -> list[NodeCutTable]:
    rng = np.random.default_rng(1)
    out = []
    for law in LAWS:
        energy, score = _energies(rng, 8000), law.rvs(8000, random_state=rng)
        cuts = percentile_cut_table(score, energy, BINS, 30, fill_value=1.0, min_events=10)
        out.append(NodeCutTable(cuts, efficiency_table(score, energy, cuts)))
    return out


def _between(rng, n, rho, weight_low):
    """Gammas between the nodes: node table columns and the interpolated events."""
    z = rng.normal(size=(2, n))
    z[1] = rho * z[0] + np.sqrt(1 - rho**2) * z[1]
    g = [law.ppf(stats.norm.cdf(zi)) for law, zi in zip(LAWS, z, strict=True)]
    energy = _energies(rng, n)
    table = Table(
        {
            "node_low": np.zeros(n, int),
            "node_high": np.ones(n, int),
            "weight_low": np.full(n, weight_low),
            "weight_high": np.full(n, 1 - weight_low),
            "gammaness_low": g[0],
            "gammaness_high": g[1],
            "energy_low": energy,
            "energy_high": energy,
        }
    )
    events = QTable({"gh_score": weight_low * g[0] + (1 - weight_low) * g[1]})
    events["reco_energy"] = energy
    return table, events


def test_gamma_efficiency_of_quantiles():
    quantiles = np.linspace(0.2, 0.6, 5)  # p = 0, 0.25, 0.5, 0.75, 1
    q = gamma_efficiency(quantiles, np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, np.nan]))
    np.testing.assert_allclose(q[:-1], [1.0, 1.0, 0.75, 0.625, 0.0, 0.0])
    assert np.isnan(q[-1])
    assert np.isnan(gamma_efficiency(np.full(5, np.nan), np.array([0.5]))).all()


@pytest.mark.parametrize(("rho", "tolerance"), [(1.0, 0.01), (0.95, 0.02)])
def test_efficiency_mean_keeps_the_nodes_efficiency(nodes, rho, tolerance):
    """
    70 % of the gammas between the nodes pass at any weight: within 0.01 (binomial
    sigma 0.003 for 20 000 gammas, plus the nodes' tables' sampling) for scores that
    rank the showers alike at both nodes; 0.02 at rho 0.95 (the weighted mean of less
    correlated efficiencies is narrower: +0.008 at weight 0.5, +0.017 at rho 0.8).
    """
    rng = np.random.default_rng(2)
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        table, events = _between(rng, 20_000, rho, w)
        assert efficiency_mean_mask(events, table, nodes).mean() == pytest.approx(
            0.7, abs=tolerance
        ), w


def test_one_node_is_exactly_the_node_cut(nodes):
    """Weight 1 at one node, one node twice, or the other node without a score: g >= c."""
    rng = np.random.default_rng(3)
    table, events = _between(rng, 5000, 0.9, 1.0)
    expected = nodes[0].passes(events["reco_energy"], events["gh_score"])
    assert 0.6 < expected.mean() < 0.8
    np.testing.assert_array_equal(efficiency_mean_mask(events, table, nodes), expected)
    table["node_high"] = 0  # one node twice, half the weight each
    table["weight_low"] = table["weight_high"] = 0.5
    np.testing.assert_array_equal(efficiency_mean_mask(events, table, nodes), expected)
    table["node_high"] = 1
    table["gammaness_high"] = np.nan  # not reconstructed by node 1: node 0 alone
    np.testing.assert_array_equal(efficiency_mean_mask(events, table, nodes), expected)
    # the component: the rule, or the run's cut (interpolated-score, or no node table)
    run_cuts = GammaCuts(nodes[1].gh_cuts, nodes[1].gh_cuts, np.nan, np.nan, "run")
    rule = NodeGammanessCut()
    np.testing.assert_array_equal(rule(events, run_cuts, table, nodes), expected)
    assert rule.method == "efficiency-mean"
    old = run_cuts.gh_mask(events)
    assert not np.array_equal(old, expected)
    np.testing.assert_array_equal(rule(events, run_cuts), old)
    rule = NodeGammanessCut(method="interpolated-score")
    np.testing.assert_array_equal(rule(events, run_cuts, table, nodes), old)


def test_bins_without_cut_reject_two_node_events(nodes):
    rng = np.random.default_rng(4)
    table, events = _between(rng, 2000, 1.0, 0.5)
    cuts = nodes[1].gh_cuts.copy()
    cuts["cut"][0] = 1.0  # too few gammas in node 1's first bin: no cut there
    passed = efficiency_mean_mask(
        events, table, [nodes[0], NodeCutTable(cuts, nodes[1].efficiency)]
    )
    first = events["reco_energy"] < BINS[1]
    assert not passed[first].any() and passed[~first].mean() == pytest.approx(0.7, abs=0.03)


def test_irf_files_store_the_efficiency_curves(dl3_chain, tmp_path):
    """iactpipe-irf's GH_EFFICIENCY: the cut's gammas, 70 % above the cut in each bin."""
    library = dl3_chain["library"]
    path = next(library.rglob("irf_point_like.fits.gz"))
    irf = read_irf_file(path)
    table = irf.gh_efficiency
    assert table is not None and len(table) == len(irf.gh_cuts)
    node = NodeCutTable(irf.gh_cuts, table, path)
    defined = np.asarray(irf.gh_cuts["cut"]) < 1
    assert defined.sum() >= 3 and np.all(table["n_events"][defined] >= 10)
    np.testing.assert_allclose(node._own[defined], 0.7, atol=1e-9)
    index = Table.read(library / "irf_index.ecsv", format="ascii.ecsv")
    row = index[index["path"] == str(path.relative_to(library))][0]
    model_node = {"node": "n", "zenith_deg": row["zenith"], "azimuth_deg": row["azimuth"]}
    keys = ("dark", 0.7, "point-like", "stereo")
    tables, why = read_node_cut_tables(library, [model_node], *keys)
    assert why == "" and tables[0].same_cut(irf.gh_cuts)
    # an IRF library written before the HDU: no tables, and why
    old = tmp_path / "old"
    shutil.copytree(library, old)
    with fits.open(old / row["path"], mode="update") as hdul:
        del hdul[GH_EFFICIENCY_HDU]
    assert read_irf_file(old / row["path"]).gh_efficiency is None
    tables, why = read_node_cut_tables(old, [model_node], *keys)
    assert tables is None and GH_EFFICIENCY_HDU in why
