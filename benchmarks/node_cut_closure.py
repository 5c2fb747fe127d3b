"""
Gammaness-cut closure between model nodes on MC point gammas (the method, not the data).

The drifting run (``benchmarks/drifting_zenith.py``) keeps 51-64 % of its gammas at the
gammaness cut interpolated between the 20 and 40 deg nodes, where the IRFs assume 70 %
(``benchmarks/drift_cut_efficiency.py``). This asks whether MC point gammas at an
intermediate zenith do the same: if they do, the loss is the interpolation method; if they
keep ~70 %, the run's gammas differ from the MC (cleaning, NSB, DL1 configuration...).

Inputs: one MC point-gamma stereo DL1 file at zenith Z between two nodes (made as the
nodes' MC: ``iactpipe-simulate --mode=mc``, ``iactpipe-r0-dl1`` and ``iactpipe-dl1-stereo``
with the MC configurations), reconstructed by ``iactpipe-dl1-dl2`` three times: with the
model library (``--node-choice interpolate``, as the chain does for runs) and with each
node's models alone (``--models <library>/<node>/<nsb>``); the two nodes' point-like IRF
files (their cuts: 70 % gamma efficiency on the node's own point gammas).

Printed, for the events within 0.6 deg of the source after the DL3 quality selection, per
bin of reconstructed energy and above ``--e-min`` (event-weighted):

* ``interpolated``: the interpolated score against the cut interpolated linearly in
  cos(zenith) between the node cuts (``iactpipe.dl3.irf_interpolation``): what the run does;
* ``run cuts``: the same score against the cuts of a DL3 file (``--dl3``: the run's);
* ``node <z>``: one node's score against that node's own cut (the nearest-node method);
* ``cut for 70 %``: the cut on the interpolated score that would keep 70 % in the bin.

Usage::

    nice -n 5 python benchmarks/node_cut_closure.py --interpolated <zd30 interp.dl2.h5> \\
        --node 20 <zd30 scored by 20 deg models .dl2.h5> <zd20 irf_point_like.fits.gz> \\
        --node 40 <zd30 scored by 40 deg models .dl2.h5> <zd40 irf_point_like.fits.gz> \\
        [--dl3 <run dl3_obs.fits.gz>]

Result (2026-12-07, the drifting run's production in ``benchmarks/drifting_zenith.py``'s
work directory; 4000 point gammas at 30 deg from its ``--node-zeniths 20 30 40``
production, 3000 at 36 deg from its ``mc_jobs`` with another seed; same MC configuration):
above 3 TeV the interpolated score passes the interpolated cut at 0.547 (30 deg) and
0.580 (36 deg), the run's own cuts at 0.549 and 0.591 (the run's gammas at 28-32 and
34-38 deg: 0.518 and 0.592); the 20 deg models alone pass their cut at 0.792 and 0.808,
the 40 deg models 0.367 and 0.570. The node MC at its node: 0.702. The run's loss is the
method (a forest's gammaness moves with zenith), not a difference between run and MC.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, join
from drift_cut_efficiency import REGION, bin_index, read_cuts, selection

from iactpipe.irf.events import load_dl2_events


def load(path: Path) -> tuple[QTable, u.Quantity]:
    """The selected events within ``REGION`` of the source, and the MC's zenith."""
    loaded = load_dl2_events(path, selection())
    events = loaded.events
    events = events[events["theta"] < REGION]
    keep = ["obs_id", "event_id", "reco_energy", "gh_score", "true_energy"]
    return QTable({k: events[k] for k in keep}), loaded.pointing[0]


def interpolated_cut(cuts: list[QTable], zeniths: list[u.Quantity], zenith: u.Quantity):
    """Cut table linear in cos(zenith) between two node tables (as the DL3 stage does)."""
    c0, c1 = (np.cos(z.to_value(u.rad)) for z in zeniths)
    w = (np.cos(zenith.to_value(u.rad)) - c0) / (c1 - c0)
    out = cuts[0].copy()
    a, b = (np.asarray(t["cut"], float) for t in cuts)
    # a bin without a cut at either node (cut 1.0) stays without (as _interpolate_cut)
    out["cut"] = np.where((a == 1.0) | (b == 1.0), 1.0, (1 - w) * a + w * b)
    return out, w


def efficiency(energy, score, cuts: QTable, e_min: float) -> tuple[np.ndarray, float, int]:
    """Fraction passing the cut per bin of ``cuts``, and over the bins above ``e_min``."""
    index = bin_index(energy, cuts)
    passed = score >= np.asarray(cuts["cut"])[np.clip(index, 0, None)]
    per_bin = np.array(
        [passed[index == k].mean() if np.any(index == k) else np.nan for k in range(len(cuts))]
    )
    above = (index >= 0) & (
        u.Quantity(cuts["low"])[np.clip(index, 0, None)] >= 0.999 * e_min * u.TeV
    )
    return per_bin, float(passed[above].mean()), int(above.sum())


def quantile_cut(energy, score, cuts: QTable, efficiency_target: float) -> np.ndarray:
    """Per bin, the cut that keeps ``efficiency_target`` of the events (nan if < 20)."""
    index = bin_index(energy, cuts)
    return np.array(
        [
            np.quantile(score[index == k], 1 - efficiency_target)
            if np.sum(index == k) >= 20
            else np.nan
            for k in range(len(cuts))
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interpolated", type=Path, required=True, help="DL2, model library")
    parser.add_argument(
        "--node",
        nargs=3,
        action="append",
        required=True,
        metavar=("ZENITH", "DL2", "IRF"),
        help="A node: its zenith (deg), the MC scored by its models alone, its IRF file",
    )
    parser.add_argument("--dl3", type=Path, help="A DL3 file whose cuts are also applied")
    parser.add_argument("--e-min", type=float, default=3.0, help="Lower energy of the totals")
    parser.add_argument("--efficiency", type=float, default=0.7, help="The IRFs' gamma efficiency")
    args = parser.parse_args()
    if len(args.node) != 2:
        parser.error("two --node")

    interp, zenith = load(args.interpolated)
    zeniths = [float(z) * u.deg for z, _, _ in args.node]
    node_cuts = [read_cuts(Path(irf))[0] for _, _, irf in args.node]
    cuts, w = interpolated_cut(node_cuts, zeniths, zenith)
    print(f"MC zenith {zenith:.2f}, weight of the {zeniths[1]} node {w:.3f}")
    e, g = interp["reco_energy"], interp["gh_score"]
    rows = [("interpolated", *efficiency(e, g, cuts, args.e_min), np.asarray(cuts["cut"]))]
    if args.dl3:
        run_cuts = read_cuts(args.dl3)[0]
        rows.append(("run cuts", *efficiency(e, g, run_cuts, args.e_min), run_cuts["cut"]))
    for (z, dl2, _), node_cut in zip(args.node, node_cuts, strict=True):
        events, _ = load(Path(dl2))
        eff = efficiency(events["reco_energy"], events["gh_score"], node_cut, args.e_min)
        rows.append((f"node {z} deg", *eff, np.asarray(node_cut["cut"])))
        # the same showers scored by both: the interpolated score against the two nodes'
        both = join(interp, events, keys=["obs_id", "event_id"], table_names=["i", z])
        dev = both["gh_score_i"] - both[f"gh_score_{z}"]
        print(f"  {len(both)} showers in both; interpolated - node {z} score: {np.mean(dev):+.3f}")
    target = quantile_cut(e, g, cuts, args.efficiency)

    lo = u.Quantity(cuts["low"]).to_value(u.TeV)
    hi = u.Quantity(cuts["high"]).to_value(u.TeV)
    n = np.array([np.sum(bin_index(e, cuts) == k) for k in range(len(cuts))])
    shown = (n > 0) & (np.asarray(cuts["cut"]) < 1.0)
    print(f"{'bin (TeV)':>14} {'n':>5} " + " ".join(f"{r[0]:>22}" for r in rows) + "  cut for 70 %")
    for k in np.flatnonzero(shown):
        cells = " ".join(f"{r[1][k]:>11.3f} (cut {r[4][k]:.3f})" for r in rows)
        print(f"{lo[k]:6.2f}-{hi[k]:6.2f} {n[k]:5d} {cells}  {target[k]:.3f}")
    print(f"above {args.e_min} TeV:")
    for name, _, total, count, _ in rows:
        print(f"  {name:>16}: {total:.3f} of {count} gammas")


if __name__ == "__main__":
    main()
