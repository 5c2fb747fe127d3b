"""
Read an iactpipe DL1 file: Hillas parameters per telescope event, with the DL1
selection flags that ``iactpipe-r0-dl1`` records next to them.

    python examples/read_dl1.py demo_output/prod4_sst1m.dl1.h5

The parameters are read with ctapipe's `~ctapipe.io.TableLoader` (the file is in
ctapipe's DL1 data model); the flags live in ``/dl1/event/telescope/selection/tel_NNN``,
one row per telescope event, and are read with `ctapipe.io.read_table`.
"""

import sys

import numpy as np
import tables
from astropy.table import join, vstack
from ctapipe.io import TableLoader, read_table

SELECTION_GROUP = "/dl1/event/telescope/selection"
KEYS = ["obs_id", "event_id", "tel_id"]
HILLAS = ["hillas_intensity", "hillas_length", "hillas_width", "hillas_psi"]
TABLES = {
    "dl1_parameters": True,
    "dl1_images": False,
    "dl2": False,
    "simulated": False,
    "true_images": False,
    "true_parameters": False,
    "instrument": False,
    "pointing": False,
    "observation_info": False,
}


def read_selection(path):
    """All selection-flag tables of ``path``, stacked into one table."""
    with tables.open_file(path) as h5:
        names = sorted(h5.get_node(SELECTION_GROUP)._v_children)
    return vstack([read_table(path, f"{SELECTION_GROUP}/{name}") for name in names])


def read_hillas_with_flags(path):
    """One row per telescope event: keys, Hillas parameters and the selection flags."""
    with TableLoader(path) as loader:
        # only what is printed: simulated truth, pointing etc. would be joined as well
        events = loader.read_telescope_events(**TABLES)
    events = events[[*KEYS, *HILLAS]]
    # every telescope event has exactly one row of flags; column descriptions may differ
    flags = read_selection(path)
    return join(events, flags, keys=KEYS, join_type="inner", metadata_conflicts="silent")


def main(path):
    table = read_hillas_with_flags(path)
    table.sort(["tel_id", "event_id"])
    flag_names = [c for c in table.colnames if c not in KEYS and c not in HILLAS]
    for name in ["hillas_length", "hillas_width", "hillas_psi"]:
        table[name].info.format = ".3f"
    table["hillas_intensity"].info.format = ".1f"
    table.pprint(max_lines=30, max_width=160)
    print(f"\n{len(table)} telescope events; passing each criterion:")
    for name in flag_names:
        print(f"  {name:<10s} {np.count_nonzero(table[name]):5d}")
    tel_ids, counts = np.unique(table["tel_id"][table["is_good"]], return_counts=True)
    print(
        "\nis_good per telescope:",
        ", ".join(f"{t}: {n}" for t, n in zip(tel_ids, counts, strict=True)),
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} FILE.dl1.h5")
    main(sys.argv[1])
