"""Speed of the toy simulator: written (triggered) telescope events per second and
simulated (shower, telescope) pairs per second.

Runs ``iactpipe-simulate`` in-process (simulation plus file writing) with
``data_configs/simulate_mc_gamma.yaml`` (E^-2, 0.3-100 TeV, cores within 500 m) and
``simulate_mc_proton.yaml`` (diffuse, 0.8-200 TeV, 600 m), then ``ctapipe-process``
(R1 -> DL1 images and parameters) on the gamma file as a peer figure, and a 2 s
observation run. CPU seconds of this process (the machine may be shared) and wall time.

Run: .venv/bin/python benchmarks/simulate_speed.py [n_gamma_showers]
"""

import sys
import tempfile
import time
from pathlib import Path

import tables
from ctapipe.core import run_tool
from ctapipe.tools.process import ProcessorTool

from iactpipe.tools.simulate import SimulateTool

CONFIGS = Path(__file__).parents[1] / "data_configs"


def _timed(tool, argv):
    c0, w0 = time.process_time(), time.perf_counter()
    assert run_tool(tool, argv) == 0
    return time.process_time() - c0, time.perf_counter() - w0


def _n_tel_events(path):
    with tables.open_file(path) as f:
        return sum(t.nrows for t in f.root.r1.event.telescope)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # numba compilation / cache load
        run_tool(SimulateTool(), ["-o", str(tmp / "warm.h5"), "-n", "20"])
        runs = {
            "gamma": ["--config", str(CONFIGS / "simulate_mc_gamma.yaml"), "-n", str(n)],
            "proton": ["--config", str(CONFIGS / "simulate_mc_proton.yaml"), "-n", str(n // 2)],
        }
        n_showers = {"gamma": n, "proton": n // 2}
        for name, args in runs.items():
            path = tmp / f"{name}.h5"
            cpu, wall = _timed(SimulateTool(), ["-o", str(path), *args])
            n_ev = _n_tel_events(path)
            print(
                f"{name}: {n_ev} written telescope events, {cpu:.1f} s CPU ({wall:.1f} s wall):"
                f" {n_ev / cpu:.0f} written telescope events/s per core,"
                f" {path.stat().st_size / n_ev / 1e3:.0f} kB per event;"
                f" {2 * n_showers[name] / cpu:.0f} simulated (shower, telescope) pairs/s"
            )
            if name == "gamma":
                out = tmp / "gamma_dl1.h5"
                cpu, wall = _timed(
                    ProcessorTool(),
                    [f"--input={path}", f"--output={out}", "--write-images", "--write-parameters"],
                )
                print(
                    f"  ctapipe-process on it: {1e3 * cpu / n_ev:.1f} ms CPU per telescope"
                    f" event ({wall:.1f} s wall)"
                )
        cpu, wall = _timed(
            SimulateTool(),
            [
                "-o",
                str(tmp / "run.h5"),
                "--mode",
                "observation",
                "--duration",
                "2 s",
                "--seed",
                "3",
            ],
        )
        print(f"observation run of 2 s: {cpu:.1f} s CPU ({wall:.1f} s wall)")


if __name__ == "__main__":
    main()
