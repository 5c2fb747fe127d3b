"""
Cut efficiencies of a run against those its IRFs assume (a closure check of the cuts).

For a simulated run with little background (``benchmarks/drifting_zenith.py``: protons
at 1e-4 of the reference flux), the events within ``REGION`` of the source minus those
within ``REGION`` of the OFF position (the source mirrored through the pointing) are
gammas from the source. In bins of reconstructed energy (the bins of the DL3 file's
GH_CUTS table) this prints, for the run's DL2 events after the quality selection:

* the fraction of those passing the gammaness cut written into the run's DL3 file (the IRFs'
  cut, interpolated between the nodes), or, for a DL3 file cut per event between model
  nodes (its ``GH_RULE`` card), of those in its event list: the IRFs assume
  ``gamma_efficiency`` (0.7);
* the fraction of these inside the theta cut of the DL3 file: the IRFs' RAD_MAX
  assumes the theta containment of the node MC (0.68, or more where the cut is capped);

and the same two fractions for a node's point-gamma MC DL2 with the cuts of that node's
IRF file (``--mc-dl2``, ``--mc-irf``), which reproduce the targets by construction. A
run fraction above the MC's in most bins means the run's events pass the cuts more
easily than the node MC's: more events than the IRFs predict, a flux biased high.

Usage::

    python benchmarks/drift_cut_efficiency.py --dl2 <run.dl2.h5> --dl3 <dl3_obs.fits.gz> \\
        [--mc-dl2 <node gamma_point .dl2.h5> --mc-irf <node irf_point_like*.fits.gz>]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table
from traitlets.config import Config

from iactpipe.dl3.events import load_observed_events
from iactpipe.instrument.subarray import ONDREJOV_LOCATION
from iactpipe.io.dataformat import GH_CUTS_HDU, GH_RULE_KEYWORD, THETA_CUTS_HDU
from iactpipe.irf.cuts import GammaCuts
from iactpipe.irf.events import DL2EventSelection, load_dl2_events
from iactpipe.workflow import DATA_CONFIGS

#: the drifting run's source (benchmarks/drifting_zenith.py)
SOURCE = SkyCoord(72.308, 35.0, unit="deg")
#: events counted within this distance of the source (and of the OFF position): the
#: gammas' tails beyond are few at 0.4 deg wobble offset, the protons' share is small
REGION = 0.6 * u.deg


def selection() -> DL2EventSelection:
    """The DL3 stage's quality selection (the shipped stereo config)."""
    config = yaml.safe_load((DATA_CONFIGS / "dl2_dl3_data_stereo.yaml").read_text())
    return DL2EventSelection(config=Config({"DL2EventSelection": config["DL2EventSelection"]}))


def read_cuts(path: Path) -> tuple[QTable, QTable]:
    with fits.open(path) as hdul:
        return QTable(Table.read(hdul[GH_CUTS_HDU])), QTable(Table.read(hdul[THETA_CUTS_HDU]))


def bin_index(energy: u.Quantity, table: QTable) -> np.ndarray:
    """Index of each energy's bin in a cut table (-1 outside)."""
    edges = np.append(table["low"].to_value(u.TeV), table["high"][-1].to_value(u.TeV))
    index = np.digitize(energy.to_value(u.TeV), edges) - 1
    index[(index < 0) | (index >= len(table))] = -1
    return index


def efficiencies(energy, score, theta, gh_cuts, theta_cuts, theta_off=None, gh=None) -> Table:
    """
    Per bin: events within ``REGION`` of the source (minus those within ``REGION`` of the
    OFF position, ``theta_off``), the fraction of them passing the gammaness cut (``gh``
    if given, else ``gh_cuts``), and the fraction of those inside the theta cut.
    """
    cuts = GammaCuts(gh_cuts, theta_cuts, np.nan, np.nan, "given")
    events = QTable({"gh_score": score, "reco_energy": energy, "theta": theta})
    gh = cuts.gh_mask(events) if gh is None else gh
    th = cuts.theta_mask(events)
    index = bin_index(energy, gh_cuts)
    on = theta < REGION
    off = np.zeros(len(theta), bool) if theta_off is None else theta_off < REGION
    rows = []
    for k in range(len(gh_cuts)):
        in_bin = index == k

        def excess(mask, in_bin=in_bin):
            return int((in_bin & on & mask).sum()) - int((in_bin & off & mask).sum())

        n, n_gh, n_th = excess(True), excess(gh), excess(gh & th)
        rows.append(
            (
                gh_cuts["low"][k].to_value(u.TeV),
                gh_cuts["high"][k].to_value(u.TeV),
                n,
                int((in_bin & off).sum()),
                n_gh / n if n > 0 else np.nan,
                n_th / n_gh if n_gh > 0 else np.nan,
                float(gh_cuts["cut"][k]),
                theta_cuts["cut"][k].to_value(u.deg),
            )
        )
    names = ("e_lo", "e_hi", "n", "n_off", "eff_gh", "eff_theta", "gh_cut", "theta_cut")
    return Table(rows=rows, names=names)


def run_efficiencies(dl2: Path, dl3: Path, zenith_range=None) -> Table:
    gh_cuts, theta_cuts = read_cuts(dl3)
    keep_all = gh_cuts.copy()
    keep_all["cut"] = -np.inf  # every selected event (the cut is applied here)
    cuts = GammaCuts(keep_all, theta_cuts, np.nan, np.nan, "all")
    run = load_observed_events(dl2, selection(), cuts, ONDREJOV_LOCATION)
    events = run.events
    # one OFF position: the source mirrored through the (wobble) pointing
    pointing = run.pointing
    off = pointing.directional_offset_by(
        pointing.position_angle(SOURCE) + 180 * u.deg, pointing.separation(SOURCE)
    )
    if zenith_range is not None:  # the events' zenith (within 0.4 deg of the pointing's)
        zenith = 90 * u.deg - u.Quantity(events["ALT"])
        events = events[(zenith >= zenith_range[0]) & (zenith < zenith_range[1])]
    radec = SkyCoord(events["RA"], events["DEC"])
    theta, theta_off = (radec.separation(c).to(u.deg) for c in (SOURCE, off))
    with fits.open(dl3) as hdul:
        rule = hdul["EVENTS"].header.get(GH_RULE_KEYWORD)
        kept = np.asarray(hdul["EVENTS"].data["EVENT_ID"])
    # a cut between model nodes per event (GH_RULE): the DL3 file's own events passed it
    gh = np.isin(np.asarray(events["EVENT_ID"]), kept) if rule else None
    return efficiencies(
        events["ENERGY"], events["GAMMANESS"], theta, gh_cuts, theta_cuts, theta_off, gh
    )


def mc_efficiencies(dl2: Path, irf: Path) -> Table:
    gh_cuts, theta_cuts = read_cuts(irf)
    events = load_dl2_events(dl2, selection()).events
    return efficiencies(
        events["reco_energy"], events["gh_score"], events["theta"], gh_cuts, theta_cuts
    )


def total(table: Table, e_min: float) -> str:
    """Event-weighted mean efficiencies above ``e_min`` TeV (excess events)."""
    rows = table[(table["e_lo"] >= e_min * 0.999) & (table["n"] > 0)]
    n = rows["n"]
    gh = np.sum(n * rows["eff_gh"]) / np.sum(n)
    th = np.nansum(n * rows["eff_gh"] * rows["eff_theta"]) / np.sum(n * rows["eff_gh"])
    return f"above {e_min} TeV: {int(np.sum(n))} events, gammaness {gh:.3f}, theta {th:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dl2", type=Path, required=True, help="The run's DL2 file")
    parser.add_argument("--dl3", type=Path, required=True, help="The run's DL3 file (its cuts)")
    parser.add_argument("--mc-dl2", type=Path, help="A node's point-gamma MC DL2")
    parser.add_argument("--mc-irf", type=Path, help="That node's point-like IRF file")
    parser.add_argument("--e-min", type=float, default=3.0, help="Lower energy of the totals")
    parser.add_argument(
        "--zenith-edges",
        type=float,
        nargs="+",
        help="Also the totals of the run's events in these zenith slices (deg)",
    )
    args = parser.parse_args()
    tables = [("run", run_efficiencies(args.dl2, args.dl3))]
    edges = args.zenith_edges or []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        table = run_efficiencies(args.dl2, args.dl3, (lo * u.deg, hi * u.deg))
        print(f"run, event zenith {lo}-{hi} deg, {total(table, args.e_min)}")
    if args.mc_dl2 and args.mc_irf:
        tables.append(("node MC", mc_efficiencies(args.mc_dl2, args.mc_irf)))
    for name, table in tables:
        for column in ("e_lo", "e_hi", "eff_gh", "eff_theta", "gh_cut", "theta_cut"):
            table[column].info.format = ".3f"
        print(f"\n== {name}")
        table.pprint(max_lines=-1, max_width=-1)
        print(total(table, args.e_min))


if __name__ == "__main__":
    main()
