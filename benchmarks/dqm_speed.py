"""
Speed of the data-quality monitor on a run of realistic size, against a peer: reading
the same tables with ctapipe (``read_table``), the least any monitor must do.

Data: a synthetic DL1 file of one telescope for a 20-minute run at 300 Hz (360 000
physics triggers, Hillas parameters, 36 interleaved-pedestal monitoring rows of 1296
pixels), written with the tables and dtypes of ``iactpipe-r0-dl1`` (see
tests/tools/test_dqm.py for the minimal layout). Measured: ``MonitorElementsMaker``
(elements), the checks, and the HTML report with its figures.

Run: python benchmarks/dqm_speed.py [--minutes 20] [--rate 300] [--repeat 3]

Last result (shared 2-core machine, others' jobs running): 359 893 triggers; ctapipe
read_table of the trigger and parameter tables 0.05 s, monitor elements 0.51 s (10x the
bare read: sorting by event id and time, histograms), checks 1 ms, HTML report with two
figures 1.5 s. A night of 20 runs x 2 telescopes takes well under a minute.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tables
from ctapipe.io import read_table

from iactpipe.plotting.quality import plot_image_distributions, plot_rates
from iactpipe.quality.checks import DeadPixelCheck, NSBCheck, RateCheck
from iactpipe.quality.elements import PEDESTAL, MonitorElementsMaker
from iactpipe.quality.report import RunAssessment, run_report_html
from iactpipe.stereo.files import ns_to_high_res

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tools"))
from test_dqm import T0_NS, write_minimal_dl1


def add_pedestals(path: Path, duration_s: float, n_rows: int) -> None:
    """Sky-pedestal monitoring rows: std about 1 p.e., mean about 1.6 p.e."""
    rng = np.random.default_rng(0)
    dtype = [
        ("time_start", "u4", (2,)),
        ("time_end", "u4", (2,)),
        ("mean", "f4", (1, 1296)),
        ("std", "f4", (1, 1296)),
        ("outlier_mask", "?", (1, 1296)),
        ("is_valid", "?"),
    ]
    rows = np.zeros(n_rows, dtype=dtype)
    edges = T0_NS + (np.linspace(0, duration_s, n_rows + 1) * 1e9).astype(np.int64)
    rows["time_start"], rows["time_end"] = ns_to_high_res(edges[:-1]), ns_to_high_res(edges[1:])
    rows["mean"] = rng.normal(1.6, 0.1, (n_rows, 1, 1296))
    rows["std"] = rng.normal(1.0, 0.05, (n_rows, 1, 1296))
    rows["is_valid"] = True
    with tables.open_file(path, "a") as h5:
        h5.create_table(PEDESTAL, "tel_021", rows, createparents=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.dl1.h5"
        n = int(args.minutes * 60 * args.rate / 0.8)  # the writer leaves a 20 % gap
        write_minimal_dl1(path, n_events=n, duration_s=args.minutes * 60)
        add_pedestals(path, args.minutes * 60, 36)
        timings = {"peer: read_table": [], "elements": [], "checks": [], "report": []}
        for _ in range(args.repeat):
            t = time.perf_counter()
            read_table(path, "/dl1/event/telescope/trigger")
            read_table(path, "/dl1/event/telescope/parameters/tel_021")
            timings["peer: read_table"].append(time.perf_counter() - t)
            t = time.perf_counter()
            (elements,) = MonitorElementsMaker(rate_bin_s=30.0)(path)
            timings["elements"].append(time.perf_counter() - t)
            t = time.perf_counter()
            reasons = [r for c in (RateCheck(), NSBCheck(), DeadPixelCheck()) for r in c(elements)]
            timings["checks"].append(time.perf_counter() - t)
            t = time.perf_counter()
            figures = {"rates": plot_rates(elements), "images": plot_image_distributions(elements)}
            run_report_html([RunAssessment(elements, reasons, figures)])
            timings["report"].append(time.perf_counter() - t)
    print(f"{elements.n_events} physics triggers, {args.minutes:g} min run")
    for name, values in timings.items():
        print(f"{name:18s} {min(values):8.3f} s (best of {args.repeat})")
    ratio = min(timings["elements"]) / min(timings["peer: read_table"])
    print(f"elements / read_table: {ratio:.2f}; reasons: {reasons}")


if __name__ == "__main__":
    main()
