"""
Throughput of iactpipe-r0-dl1 against ctapipe-process on the same input, in one run.

Prints telescope events per second of each tool (best of ``--repeat`` runs after a
warm-up run, whole tool runs including file opening and writing) and their ratios.

    .venv/bin/python benchmarks/r1_dl1_throughput.py [--input FILE ...] [--repeat 3]

Default inputs: a toy-simulated two-telescope SST-1M gamma file (made on the fly with
iactpipe-simulate, 1000 showers) and, when present, the CTA prod4 SST-1M simulation in
../shared/data (31 showers, 70 telescopes, 129 telescope events: dominated by the
per-telescope table set-up of 66 telescopes).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from ctapipe.core import run_tool
from ctapipe.io import TableLoader
from ctapipe.tools.process import ProcessorTool

from iactpipe.tools.r0_dl1 import R0DL1Tool
from iactpipe.tools.simulate import SimulateTool

PROD4 = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "simtel"
    / "gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst"
)
EXTRACTION = [
    "--CameraCalibrator.image_extractor_type=LocalPeakWindowSum",
    "--LocalPeakWindowSum.window_width=7",
    "--LocalPeakWindowSum.window_shift=3",
    "--LocalPeakWindowSum.apply_integration_correction=True",
]
TAILCUTS = [
    "--ImageProcessor.image_cleaner_type=TailcutsImageCleaner",
    "--TailcutsImageCleaner.picture_threshold_pe=8",
    "--TailcutsImageCleaner.boundary_threshold_pe=4",
]

CASES = {
    "ctapipe-process (tailcuts 8/4)": (ProcessorTool, [*EXTRACTION, *TAILCUTS]),
    "iactpipe-r0-dl1 (tailcuts 8/4)": (R0DL1Tool, [*EXTRACTION, *TAILCUTS]),
    "iactpipe-r0-dl1 (SST defaults)": (R0DL1Tool, []),
}


def n_telescope_events(path: Path) -> int:
    with TableLoader(path) as loader:
        return len(loader.read_telescope_events(dl1_parameters=False, dl1_images=False))


def time_tool(tool_cls, argv, input_path, workdir, repeat):
    """Best wall time of ``repeat`` runs (after one warm-up) and the telescope events."""
    times = []
    for i in range(repeat + 1):
        out = workdir / f"{tool_cls.__name__}_{len(list(workdir.iterdir()))}_{i}.h5"
        start = time.perf_counter()
        run_tool(tool_cls(), [f"--input={input_path}", f"--output={out}", *argv], cwd=workdir)
        if i > 0:  # the first run pays numba compilation and file-cache warm-up
            times.append(time.perf_counter() - start)
    return min(times), n_telescope_events(out)


def simulated_input(workdir: Path) -> Path:
    """A toy-simulated SST-1M gamma file (both telescopes, R1)."""
    path = workdir / "gamma.r1.h5"
    config = Path(__file__).resolve().parents[1] / "data_configs" / "simulate_mc_gamma.yaml"
    argv = [f"--config={config}", "-n", "1000", f"--output={path}"]
    run_tool(SimulateTool(), argv, cwd=workdir)
    return path


def benchmark(input_path: Path, workdir: Path, repeat: int) -> None:
    results = {}
    for name, (tool_cls, argv) in CASES.items():
        seconds, n_tel = time_tool(tool_cls, argv, input_path, workdir, repeat)
        results[name] = (seconds, n_tel, n_tel / seconds)
    print(f"\ninput: {input_path.name}")
    print(f"{'tool':<34s} {'tel. events':>11s} {'best time':>10s} {'tel.ev/s':>9s} {'ratio':>6s}")
    reference = results["ctapipe-process (tailcuts 8/4)"][2]
    for name, (seconds, n_tel, rate) in results.items():
        print(f"{name:<34s} {n_tel:>11d} {seconds:>9.2f}s {rate:>9.1f} {rate / reference:>6.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--input", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        inputs = args.input or [simulated_input(workdir), *([PROD4] if PROD4.exists() else [])]
        for path in inputs:
            if not path.exists():
                raise SystemExit(f"{path}: input file not found")
            benchmark(path, workdir, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of the benchmark process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
