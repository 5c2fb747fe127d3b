"""
Summarise DL1 files: events per telescope, trigger rates, selection efficiency and
Hillas distributions (printed, and plotted into one PNG).

    python examples/dl1_summary.py gamma.dl1.h5 proton.dl1.h5 run_tel021.dl1.h5 \
        --plot hillas.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tables
from astropy.table import vstack
from ctapipe.io import TableLoader, read_table

from iactpipe.plotting import plot_hillas_distributions


def read_parameters(path: Path):
    """All telescope events of a DL1 file with parameters, trigger times and flags."""
    with TableLoader(path) as loader:
        events = loader.read_telescope_events(
            dl1_parameters=True, dl1_images=False, simulated=False, pointing=False
        )
    with tables.open_file(path) as h5:
        group = "/dl1/event/telescope/selection"
        names = list(h5.get_node(group)._v_children) if group in h5 else []
    if names:
        flags = vstack([read_table(path, f"{group}/{n}") for n in names])
        order = {(o, e, t): i for i, (o, e, t) in enumerate(flags["obs_id", "event_id", "tel_id"])}
        index = [order[(o, e, t)] for o, e, t in events["obs_id", "event_id", "tel_id"]]
        events["is_good"] = flags["is_good"][index]
    return events


def summarise(path: Path, events) -> None:
    with tables.open_file(path) as h5:
        # simulated trigger times are bookkeeping, not a rate
        simulated = "/simulation" in h5
    print(f"\n{path.name}" + (" (simulation)" if simulated else ""))
    for tel_id in np.unique(events["tel_id"]):
        tel = events[events["tel_id"] == tel_id]
        line = f"  tel {tel_id:>3d}: {len(tel):>6d} events"
        times = tel["time"] if "time" in tel.colnames else None
        if times is not None and len(tel) > 1 and not simulated:
            span = (times.max() - times.min()).to_value("s")
            if span > 0:
                line += f", {span:7.1f} s, trigger rate {len(tel) / span:6.1f} Hz"
        if "is_good" in tel.colnames:
            line += f", selected {np.mean(tel['is_good']):5.1%}"
        intensity = tel["hillas_intensity"]
        finite = intensity[np.isfinite(intensity)]
        if len(finite):
            q = np.percentile(finite, [16, 50, 84])
            line += f", intensity 16/50/84 % = {q[0]:.0f}/{q[1]:.0f}/{q[2]:.0f} p.e."
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--plot", type=Path, help="PNG with the Hillas distributions")
    args = parser.parse_args()
    samples = {}
    for path in args.files:
        events = read_parameters(path)
        summarise(path, events)
        samples[path.name.split(".")[0]] = events
    if args.plot:
        plot_hillas_distributions(samples).savefig(args.plot, dpi=90)
        print(f"\nHillas distributions: {args.plot}")


if __name__ == "__main__":
    main()
