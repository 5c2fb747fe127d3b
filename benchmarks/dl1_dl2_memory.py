"""
Peak memory of iactpipe-dl1-dl2 versus input size at a fixed chunk size.

Replicates a stereo DL1 file's events ``k`` times (new event ids) into files of 1x and
10x the chunk size, applies the same models to each in a fresh process and prints the
peak resident memory (ru_maxrss). Flat peak memory = chunked processing.

Usage::

    python benchmarks/dl1_dl2_memory.py --input gtest.h5 --models models/ --workdir /tmp/mem
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import tables

GROUPS = (
    "/dl1/event/subarray/trigger",
    "/dl1/event/telescope/parameters",
    "/dl2/event/subarray/geometry",
    "/dl2/event/telescope/impact",
    "/simulation/event/subarray/shower",
)


def replicate(path: Path, out: Path, n_copies: int) -> int:
    """``out``: ``path`` with its event tables repeated ``n_copies`` times (event ids shifted)."""
    import shutil

    shutil.copyfile(path, out)
    with tables.open_file(out, mode="a") as h5:
        step = int(h5.root.dl1.event.subarray.trigger.col("event_id").max()) + 1
        for group in GROUPS:
            if group not in h5:
                continue
            node = h5.get_node(group)
            nodes = [node] if isinstance(node, tables.Table) else list(node._f_walknodes("Table"))
            for table in nodes:
                original = table.read()
                for k in range(1, n_copies):
                    rows = original.copy()
                    rows["event_id"] = rows["event_id"] + k * step
                    table.append(rows)
                table.flush()
        return h5.root.dl1.event.subarray.trigger.nrows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    with tables.open_file(args.input) as h5:
        n0 = h5.root.dl1.event.subarray.trigger.nrows
    print(f"chunk size {args.chunk_size} array events")
    peaks = []
    for factor in (1, 10):
        copies = int(np.ceil(factor * args.chunk_size / n0))
        big = args.workdir / f"x{factor}.h5"
        n = replicate(args.input, big, copies)
        out = args.workdir / f"x{factor}.dl2.h5"
        code = (
            "import resource, sys; from iactpipe.tools.dl1_dl2 import main; "
            f"sys.argv=['iactpipe-dl1-dl2', '-i', '{big}', '-m', '{args.models}', '-o', '{out}', "
            f"'--overwrite', '--chunk-size', '{args.chunk_size}']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        peak_mb = int(result.stdout.strip().splitlines()[-1]) / 1024
        size_mb = big.stat().st_size / 1e6
        print(
            f"{n:8d} array events ({n / args.chunk_size:4.1f} chunks, {size_mb:6.1f} MB): "
            f"peak RSS {peak_mb:6.0f} MB"
        )
        peaks.append(peak_mb)
    print(f"ratio of the peaks (10x / 1x the chunk size): {peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
