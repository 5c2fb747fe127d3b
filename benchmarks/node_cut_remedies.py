"""
Gammaness cuts between two model nodes: which rule keeps the nodes' gamma efficiency?

``benchmarks/node_cut_closure.py`` shows that MC point gammas between the 20 and 40 deg
nodes, scored with the cos(zenith)-interpolated gammaness ``w20 g20 + w40 g40`` against
the interpolated node cuts (each 70 % gamma efficiency on its node's own point gammas),
keep only 55-58 %. This evaluates, offline on DL2 files already scored by each node's
models alone, rules defined only from node quantities (no MC at the intermediate zenith
sets any cut):

* ``interpolated``: the library's interpolated score against the interpolated cut (today);
* ``efficiency mean``: each node's score mapped to its gamma-efficiency quantile
  ``q_m = F_m(g_m | E)``, the fraction of node m's own point gammas in the same
  reco-energy bin (node m's reco energy) scoring above ``g_m``; pass if
  ``w20 q20 + w40 q40 <= eff``;
* ``efficiency gmean``: the same with the weighted geometric mean ``q20^w20 q40^w40``;
* ``efficiency min`` / ``efficiency max``: pass if the smaller (larger) of ``q20, q40``
  is ``<= eff`` (either node's / both nodes' decision: the OR and the AND);
* ``decision mean``: ``w20 [g20 >= c20] + w40 [g40 >= c40] >= 0.5`` (the nearer node's
  decision when the weights differ);
* ``mixture cut``: the interpolated score against the cut ``c`` where the mixture of the
  two nodes' score distributions keeps ``eff`` (``w20 S20(c) + w40 S40(c) = eff``);
* ``node 20``, ``node 40``: one node's models and cut alone (the nearest-node method).

For each MC zenith the gamma efficiency (events within 0.6 deg of the source after the
DL3 quality selection) above ``--e-min`` and per bin of reconstructed energy (the
interpolated reco energy) is printed. With ``--protons`` (protons at one intermediate
zenith scored with the library and with each node's models), each rule's proton
efficiency above ``--e-min`` (all selected protons), and, for the continuous rules, the
proton efficiency at equal gamma efficiency: the rule's statistic thresholded per bin so
that the gammas at the protons' zenith keep exactly ``eff`` (an oracle used only to
compare the rules' separation, not a cut one could set). With ``--run`` (an observed
run's DL2 scored by the library and by each node alone, and its DL3 file), the excess
within 0.6 deg of the source (OFF: the source mirrored through the pointing) passing the
run's cuts and the efficiency rules, by the events' zenith (each event's weight
recovered from the library's score, else from its reconstructed zenith).

Usage::

    nice -n 5 python benchmarks/node_cut_remedies.py \\
        --node 20 <node 20 point-gamma DL2> <node 20 irf_point_like.fits.gz> \\
        --node 40 <node 40 point-gamma DL2> <node 40 irf_point_like.fits.gz> \\
        --mc <zd30 interp.dl2.h5> <zd30 scored by 20 deg models> <... by 40 deg models> \\
        [--mc <zd36 ...> ...] [--protons <p zd30 interp> <p zd30 m20> <p zd30 m40>] \\
        [--run <run dl2> <run scored by 20 deg models> <... by 40 deg models> <run dl3>]

Result (2026-12-07, the files of ``node_cut_closure.py``; 30 deg protons: the drifting
run's ``--node-zeniths 20 30 40`` production's 2000, re-scored by the 20/40 deg library
and by each node's models): above 3 TeV at 30 / 36 deg the interpolated rule keeps
0.547 / 0.580, the efficiency mean 0.700 / 0.666, the efficiency geometric mean 0.725 /
0.713, the efficiency min (OR) 0.823 / 0.852, the decision mean (= the nearer node)
0.790 / 0.569, the mixture cut 0.540 / 0.580. Protons at 30 deg above 3 TeV: 0-5 of
212 pass any rule (0 of 181 and 210 of the node protons, their training sample, at
their own cuts): no rule lets in measurably more, the OR about twice as many. The
drifting run 3001 (re-scored by each node's models): the run's cuts pass 0.578 of its
excess above 3 TeV (0.51-0.64 by zenith), the efficiency mean 0.705 (0.69-0.73), the
geometric mean 0.728 (0.72-0.74). See docs/reco.rst.

The efficiency mean is ``iactpipe-dl2-dl3``'s rule since (``iactpipe.dl3.node_cuts``,
quantile tables of the IRF files' ``GH_EFFICIENCY`` instead of the node DL2): on the
same 30 / 36 deg gammas, reconstructed again by the library with the per-node scores,
it passes 0.705 / 0.671 (this prototype 0.700 / 0.666).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable, join
from drift_cut_efficiency import REGION, SOURCE, bin_index, read_cuts, selection
from node_cut_closure import interpolated_cut

from iactpipe.dl3.events import load_observed_events
from iactpipe.instrument.subarray import ONDREJOV_LOCATION
from iactpipe.irf.cuts import GammaCuts
from iactpipe.irf.events import load_dl2_events

#: zenith ranges (deg) of the drifting run's events, as ``drift_cut_efficiency.py``
RUN_ZENITHS = ((21.5, 25.5), (25.5, 29.5), (29.5, 33.5), (33.5, 38.0), (0.0, 90.0))

#: Rules with a continuous statistic (higher is more gamma-like) that an oracle threshold
#: can put at equal gamma efficiency; the others are fixed decisions.
CONTINUOUS = (
    "interpolated",
    "efficiency mean",
    "efficiency gmean",
    "efficiency min",
    "efficiency max",
)


def load_selected(path: Path, region: u.Quantity | None = REGION) -> tuple[QTable, u.Quantity]:
    """Selected events (within ``region`` of the source if given) and the MC's zenith."""
    loaded = load_dl2_events(path, selection())
    events = loaded.events
    if region is not None:
        events = events[events["theta"] < region]
    keep = ["obs_id", "event_id", "reco_energy", "gh_score"]
    return QTable({k: events[k] for k in keep}), loaded.pointing[0]


class NodeQuantile:
    """
    A node's gamma-efficiency quantile: the fraction of its own point gammas in the same
    reco-energy bin of its cut table that score above a given gammaness.
    """

    def __init__(self, events: QTable, cuts: QTable):
        self.cuts = cuts
        index = bin_index(events["reco_energy"], cuts)
        score = np.asarray(events["gh_score"], float)
        self.sorted = [np.sort(score[index == k]) for k in range(len(cuts))]

    def __call__(self, reco_energy: u.Quantity, score: np.ndarray) -> np.ndarray:
        """``q`` in [0, 1] per event; 1 (nothing of the node's gammas above) outside bins."""
        index = bin_index(reco_energy, self.cuts)
        q = np.ones(len(score))
        for k, ref in enumerate(self.sorted):
            sel = index == k
            if len(ref) and np.any(sel):
                # fraction strictly above (a score at the node's cut has q ~ eff)
                q[sel] = 1 - np.searchsorted(ref, score[sel], side="right") / len(ref)
        return q

    def survival(self, cut: float, k: int) -> float:
        """Fraction of the node's gammas in bin ``k`` with a score ``>= cut``."""
        ref = self.sorted[k]
        return 1 - np.searchsorted(ref, cut, side="left") / len(ref) if len(ref) else np.nan


def mixture_cut(nodes: list[NodeQuantile], w: float, efficiency: float) -> np.ndarray:
    """Per bin, the cut where the w-weighted mixture of the nodes' gammas keeps ``efficiency``."""
    grid = np.linspace(0, 1, 2001)
    out = np.ones(len(nodes[0].cuts))
    for k in range(len(out)):
        if not (len(nodes[0].sorted[k]) and len(nodes[1].sorted[k])):
            continue
        kept = np.array(
            [(1 - w) * nodes[0].survival(c, k) + w * nodes[1].survival(c, k) for c in grid]
        )
        out[k] = grid[np.flatnonzero(kept >= efficiency)[-1]]
    return out


def scored(paths: list[Path], region) -> tuple[QTable, u.Quantity]:
    """Interpolated, 20 deg and 40 deg scoring of the same showers, joined."""
    interp, zenith = load_selected(paths[0], region)
    # the node scorings: no region (their directions differ), the showers are the library's
    tables = [interp] + [load_selected(p, None)[0] for p in paths[1:]]
    for table, name in zip(tables, "iab", strict=True):
        for col in ("reco_energy", "gh_score"):
            table.rename_column(col, f"{col}_{name}")
    both = join(
        join(tables[0], tables[1], keys=["obs_id", "event_id"]),
        tables[2],
        keys=["obs_id", "event_id"],
    )
    missing = len(interp) - len(both)
    if missing:
        print(f"  {paths[0].name}: {missing} showers not in both node scorings (dropped)")
    return both, zenith


def decisions(events, nodes, node_cuts, zeniths, zenith, efficiency):
    """Each rule's statistic (pass if >= 0) per event, and the interpolated cut table."""
    cuts, w = interpolated_cut(node_cuts, zeniths, zenith)
    e_i, g_i = events["reco_energy_i"], np.asarray(events["gh_score_i"], float)
    g = [np.asarray(events[f"gh_score_{n}"], float) for n in "ab"]
    e = [events[f"reco_energy_{n}"] for n in "ab"]
    q = [node(ei, gi) for node, ei, gi in zip(nodes, e, g, strict=True)]
    c_node = [
        np.asarray(c["cut"])[np.clip(bin_index(ei, c), 0, None)]
        for c, ei in zip(node_cuts, e, strict=True)
    ]
    outside = [bin_index(ei, c) < 0 for c, ei in zip(node_cuts, e, strict=True)]
    passed = [(gi >= ci) & ~o for gi, ci, o in zip(g, c_node, outside, strict=True)]
    index = bin_index(e_i, cuts)
    c_i = np.asarray(cuts["cut"])[np.clip(index, 0, None)]
    c_mix = mixture_cut(nodes, w, efficiency)[np.clip(index, 0, None)]
    stat = {
        "interpolated": g_i - c_i,
        "efficiency mean": efficiency - ((1 - w) * q[0] + w * q[1]),
        "efficiency gmean": efficiency - q[0] ** (1 - w) * q[1] ** w,
        "efficiency min": efficiency - np.minimum(q[0], q[1]),
        "efficiency max": efficiency - np.maximum(q[0], q[1]),
        "decision mean": (1 - w) * passed[0] + w * passed[1] - 0.5,
        "mixture cut": g_i - c_mix,
        f"node {zeniths[0].value:g}": np.where(passed[0], 1.0, -1.0),
        f"node {zeniths[1].value:g}": np.where(passed[1], 1.0, -1.0),
    }
    # outside the interpolated cut table's bins nothing passes (as the DL3 stage)
    for s in stat.values():
        s[index < 0] = -np.inf
    return stat, cuts, w


def above(energy, cuts: QTable, e_min: float) -> np.ndarray:
    """Events in a bin of ``cuts`` whose lower edge is at or above ``e_min`` (TeV)."""
    index = bin_index(energy, cuts)
    low = u.Quantity(cuts["low"]).to_value(u.TeV)[np.clip(index, 0, None)]
    return (index >= 0) & (low >= 0.999 * e_min)


def per_bin(energy, passed, cuts: QTable) -> np.ndarray:
    index = bin_index(energy, cuts)
    return np.array(
        [passed[index == k].mean() if np.any(index == k) else np.nan for k in range(len(cuts))]
    )


def oracle_thresholds(energy, stat, cuts: QTable, efficiency: float) -> np.ndarray:
    """Per bin, the threshold on ``stat`` that keeps ``efficiency`` of these gammas."""
    index = bin_index(energy, cuts)
    out = np.full(len(cuts), np.inf)
    for k in range(len(cuts)):
        s = stat[index == k]
        if len(s) >= 20:
            out[k] = np.quantile(s, 1 - efficiency)
    return out


def report_gammas(label, events, stat, cuts, e_min):
    e_i = events["reco_energy_i"]
    sel = above(e_i, cuts, e_min)
    lo = u.Quantity(cuts["low"]).to_value(u.TeV)
    hi = u.Quantity(cuts["high"]).to_value(u.TeV)
    n = np.array([np.sum(bin_index(e_i, cuts) == k) for k in range(len(cuts))])
    shown = np.flatnonzero((n > 0) & (np.asarray(cuts["cut"]) < 1.0))
    print(f"{label}: gamma efficiency per reco-energy bin (TeV)")
    print(
        f"{'rule':>16} {'>' + format(e_min, 'g') + ' TeV':>8} "
        + " ".join(f"{lo[k]:5.1f}-{hi[k]:<5.1f}" for k in shown)
    )
    print(f"{'n':>16} {int(sel.sum()):>8d} " + " ".join(f"{n[k]:>11d}" for k in shown))
    for name, s in stat.items():
        eff = per_bin(e_i, s >= 0, cuts)
        print(
            f"{name:>16} {np.mean(s[sel] >= 0):8.3f} " + " ".join(f"{eff[k]:11.3f}" for k in shown)
        )


def report_protons(gammas, g_stat, protons, p_stat, cuts, e_min, efficiency):
    """Proton efficiency of each rule, and at equal gamma efficiency (oracle thresholds)."""
    targets = (efficiency, 0.9)
    for low in (e_min, 0.0):
        sel_p = above(protons["reco_energy_i"], cuts, low)
        sel_g = above(gammas["reco_energy_i"], cuts, low)
        print(
            f"protons {'above ' + format(low, 'g') + ' TeV' if low else 'in all bins'}: "
            f"{int(sel_p.sum())} selected; passing (count)"
        )
        print(
            f"{'rule':>16} {'gamma eff':>10} {'proton eff':>14} "
            + " ".join(f"{'at gamma eff ' + format(t, 'g'):>16}" for t in targets)
        )
        for name, s in p_stat.items():
            cells = [f"{np.mean(s[sel_p] >= 0):.4f} ({int(np.sum(s[sel_p] >= 0))})"]
            for t in targets if name in CONTINUOUS else ():
                thr = oracle_thresholds(gammas["reco_energy_i"], g_stat[name], cuts, t)
                k = np.clip(bin_index(protons["reco_energy_i"], cuts), 0, None)
                p_pass = (s >= thr[k])[sel_p]
                cells.append(f"{np.mean(p_pass):.4f} ({int(np.sum(p_pass))})")
            print(
                f"{name:>16} {np.mean(g_stat[name][sel_g] >= 0):10.3f} {cells[0]:>14} "
                + " ".join(f"{c:>16}" for c in cells[1:])
            )


def load_run(paths: list[Path], dl3: Path) -> tuple[QTable, QTable]:
    """A run scored by the library and by each node alone, joined, and its DL3 cut table."""
    gh_cuts, theta_cuts = read_cuts(dl3)
    keep_all = gh_cuts.copy()
    keep_all["cut"] = -np.inf  # every selected event (the rules are applied here)
    cuts = GammaCuts(keep_all, theta_cuts, np.nan, np.nan, "all")
    tables = []
    for path, name in zip(paths, "iab", strict=True):
        run = load_observed_events(path, selection(), cuts, ONDREJOV_LOCATION)
        t = QTable({"EVENT_ID": run.events["EVENT_ID"]})
        t[f"reco_energy_{name}"] = run.events["ENERGY"]
        t[f"gh_score_{name}"] = np.asarray(run.events["GAMMANESS"], float)
        if name == "i":
            t["RA"], t["DEC"], t["ALT"] = (run.events[c] for c in ("RA", "DEC", "ALT"))
            pointing = run.pointing
        tables.append(t)
    both = join(join(tables[0], tables[1], keys="EVENT_ID"), tables[2], keys="EVENT_ID")
    # the OFF position: the source mirrored through the (wobble) pointing
    off = pointing.directional_offset_by(
        pointing.position_angle(SOURCE) + 180 * u.deg, pointing.separation(SOURCE)
    )
    radec = SkyCoord(both["RA"], both["DEC"])
    both["on"] = radec.separation(SOURCE) < REGION
    both["off"] = radec.separation(off) < REGION
    return both, gh_cuts


def run_weights(events: QTable, zeniths: list[u.Quantity]) -> np.ndarray:
    """
    The library's weight of the second node per event, from its score (the library's is
    the weighted mean of the nodes'), where the nodes' scores differ; else from the
    event's reconstructed zenith (within 0.4 deg of the pointing's).
    """
    g_i, g_a, g_b = (np.asarray(events[f"gh_score_{n}"], float) for n in "iab")
    c0, c1 = (np.cos(z.to_value(u.rad)) for z in zeniths)
    w = (np.sin(u.Quantity(events["ALT"]).to_value(u.rad)) - c0) / (c1 - c0)
    split = np.abs(g_b - g_a) > 0.02
    from_score = (g_i[split] - g_a[split]) / (g_b[split] - g_a[split])
    dev = np.median(np.abs(from_score - w[split]))
    print(
        f"run: weight from the scores for {split.mean():.3f} of the events; median "
        f"|difference| from the reconstructed zenith's {dev:.3f}"
    )
    w[split] = from_score
    return np.clip(w, 0, 1)


def report_run(events, gh_cuts, nodes, zeniths, efficiency, e_min):
    """Excess fraction passing each rule, above ``e_min``, by the events' zenith."""
    w = run_weights(events, zeniths)
    g = [np.asarray(events[f"gh_score_{n}"], float) for n in "ab"]
    q = [node(events[f"reco_energy_{n}"], gi) for node, n, gi in zip(nodes, "ab", g, strict=True)]
    index = bin_index(events["reco_energy_i"], gh_cuts)
    run_cut = np.asarray(gh_cuts["cut"])[np.clip(index, 0, None)]
    rules = {
        "run's cuts": events["gh_score_i"] >= run_cut,
        "efficiency mean": (1 - w) * q[0] + w * q[1] <= efficiency,
        "efficiency gmean": q[0] ** (1 - w) * q[1] ** w <= efficiency,
    }
    zenith = 90 - u.Quantity(events["ALT"]).to_value(u.deg)
    ok = above(events["reco_energy_i"], gh_cuts, e_min)
    on, off = np.asarray(events["on"]), np.asarray(events["off"])
    print(f"run: excess fraction passing above {e_min:g} TeV, by the events' zenith (deg)")
    print(f"{'rule':>16} " + " ".join(f"{lo:>5.1f}-{hi:<5.1f}" for lo, hi in RUN_ZENITHS))
    for name, passed in rules.items():
        cells = []
        for lo, hi in RUN_ZENITHS:
            sel = ok & (zenith >= lo) & (zenith < hi)
            n = on[sel].sum() - off[sel].sum()
            n_pass = (on & passed)[sel].sum() - (off & passed)[sel].sum()
            cells.append(f"{n_pass / n:.3f} ({n})")
        print(f"{name:>16} " + " ".join(f"{c:>11}" for c in cells))


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--node",
        nargs=3,
        action="append",
        required=True,
        metavar=("ZENITH", "DL2", "IRF"),
        help="A node: its zenith (deg), its own point-gamma MC DL2, its point-like IRF file",
    )
    parser.add_argument(
        "--mc",
        nargs=3,
        action="append",
        required=True,
        metavar=("INTERP", "FIRST", "SECOND"),
        help="Point gammas between the nodes: scored by the library, by each node alone",
    )
    parser.add_argument(
        "--protons",
        nargs=3,
        metavar=("INTERP", "FIRST", "SECOND"),
        help="Protons at one of the --mc zeniths, scored the same three ways",
    )
    parser.add_argument(
        "--node-protons",
        nargs=2,
        action="append",
        default=[],
        metavar=("ZENITH", "DL2"),
        help="A node's proton DL2 (its own models): its proton efficiency at its cut",
    )
    parser.add_argument(
        "--run",
        nargs=4,
        metavar=("INTERP", "FIRST", "SECOND", "DL3"),
        help="An observed run's DL2 scored by the library and by each node alone, its DL3",
    )
    parser.add_argument("--e-min", type=float, default=3.0, help="Lower energy of the totals")
    parser.add_argument("--efficiency", type=float, default=0.7, help="The IRFs' gamma efficiency")
    return parser


def report_nodes(args, zeniths, nodes, node_cuts):
    """The nodes' point-gamma counts and their protons' efficiency at their own cuts."""
    for z, node, c in zip(zeniths, nodes, node_cuts, strict=True):
        sel = [len(s) for s in node.sorted]
        print(f"node {z}: {sum(sel)} point gammas in the cut table's bins")
        for name, dl2 in args.node_protons:
            if float(name) == z.value:
                p, _ = load_selected(Path(dl2), None)
                k = bin_index(p["reco_energy"], c)
                ok = above(p["reco_energy"], c, args.e_min)
                passed = (k >= 0) & (p["gh_score"] >= np.asarray(c["cut"])[np.clip(k, 0, None)])
                print(
                    f"  its protons above {args.e_min:g} TeV at its cut: "
                    f"{np.mean(passed[ok]):.4f} ({int(passed[ok].sum())} of {int(ok.sum())})"
                )


def main():
    cli = parser()
    args = cli.parse_args()
    if len(args.node) != 2:
        cli.error("two --node")
    zeniths = [float(z) * u.deg for z, _, _ in args.node]
    node_cuts = [read_cuts(Path(irf))[0] for _, _, irf in args.node]
    nodes = [
        NodeQuantile(load_selected(Path(dl2))[0], c)
        for (_, dl2, _), c in zip(args.node, node_cuts, strict=True)
    ]
    report_nodes(args, zeniths, nodes, node_cuts)

    gamma_sets = {}
    for paths in args.mc:
        events, zenith = scored([Path(p) for p in paths], REGION)
        stat, cuts, w = decisions(events, nodes, node_cuts, zeniths, zenith, args.efficiency)
        # the library's score is the weighted mean of the nodes' (checked, not assumed)
        mean = (1 - w) * events["gh_score_a"] + w * events["gh_score_b"]
        dev = np.max(np.abs(np.asarray(events["gh_score_i"] - mean, float)))
        label = f"MC at {zenith:.1f} (weight of the {zeniths[1]} node {w:.3f})"
        print(f"{label}: max |interpolated - weighted node scores| {dev:.1e}")
        report_gammas(label, events, stat, cuts, args.e_min)
        gamma_sets[round(zenith.to_value(u.deg), 1)] = (events, stat)

    if args.protons:
        protons, zenith = scored([Path(p) for p in args.protons], None)
        key = round(zenith.to_value(u.deg), 1)
        if key not in gamma_sets:
            cli.error(f"--protons at {zenith:.1f}: no --mc gammas at that zenith")
        p_stat, cuts, _ = decisions(protons, nodes, node_cuts, zeniths, zenith, args.efficiency)
        gammas, g_stat = gamma_sets[key]
        report_protons(gammas, g_stat, protons, p_stat, cuts, args.e_min, args.efficiency)

    if args.run:
        events, gh_cuts = load_run([Path(p) for p in args.run[:3]], Path(args.run[3]))
        report_run(events, gh_cuts, nodes, zeniths, args.efficiency, args.e_min)


if __name__ == "__main__":
    main()
