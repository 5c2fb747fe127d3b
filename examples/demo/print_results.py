"""
Print the key numbers of the demo's night and its quick-look report: each run's duration,
zenith, trigger rates (per telescope, stereo) and events after the cuts, its ON/OFF
counts; then the whole night's N_on, N_off, alpha, excess and significance and the
fitted spectrum against the one the simulator injected (the MAGIC 2015 Crab
log-parabola times ``ObservationRun.source_flux_scale``, the source strength in Crab
units).

    python examples/demo/print_results.py demo_output/chain \\
        --observation-config examples/demo/observation.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
import yaml
from astropy.io import fits

from iactpipe.analysis import injected_crab_model


def injected_numbers(flux_scale: float, fit: dict) -> list[str]:
    """The fitted spectrum against the injected one, as printed lines."""
    parameters = fit["parameters"]
    reference = parameters["reference"]["value"] * u.TeV
    e_min, e_max = fit["energy_range_TeV"]
    # the power law that fits a log-parabola best over [e_min, e_max] has about the local
    # slope of the log-parabola at the logarithmic middle of the range
    middle = np.sqrt(e_min * e_max) * u.TeV
    at_reference = injected_crab_model(flux_scale, reference)
    at_middle = injected_crab_model(flux_scale, middle)
    lines = []
    name = "index" if "index" in parameters else "alpha"
    value, error = parameters[name]["value"], parameters[name]["error"]
    lines.append(
        f"  fitted {fit['model']} {name}: {value:.2f} +- {error:.2f} ({e_min:.1f}-{e_max:.0f} TeV);"
        f" injected local index {at_middle.alpha.value:.2f} at {middle:.1f} (middle of the"
        f" fit range), {at_reference.alpha.value:.2f} at {reference:.0f}"
    )
    amplitude = parameters["amplitude"]
    injected = at_reference.amplitude.quantity.to_value(amplitude["unit"])
    pull = (amplitude["value"] - injected) / amplitude["error"]
    lines.append(
        f"  flux at {reference:.0f}: {amplitude['value']:.3g} +- {amplitude['error']:.2g} "
        f"{amplitude['unit']}, injected {injected:.3g} (pull {pull:+.1f})"
    )
    return lines


def _trigger_counts(chain_dir: Path, obs_id: int) -> dict | None:
    """Telescope events of each telescope and stereo pairs of a run (its stereo DL1)."""
    paths = sorted(chain_dir.glob(f"dl1/*/*/stereo/run{obs_id:06d}.stereo.dl1.h5"))
    if not paths:
        return None
    with tables.open_file(paths[0]) as h5:
        row = h5.root.dl1.service.coincidence.summary.read()[0]
    return {
        int(row["tel_id_1"]): int(row["n_1"]),
        int(row["tel_id_2"]): int(row["n_2"]),
        "stereo": int(row["n_pairs"]),
    }


def _events_after_cuts(chain_dir: Path, obs_id: int) -> int | None:
    """Events of a run's DL3 file (after the quality and gammaness cuts)."""
    paths = sorted(chain_dir.glob(f"dl3/*/dl3_obs{obs_id:08d}.fits*"))
    paths = [p for p in paths if p.name.endswith((".fits", ".fits.gz"))]
    if not paths:
        return None
    with fits.open(paths[0]) as hdus:
        return int(hdus["EVENTS"].header["NAXIS2"])


def run_lines(chain_dir: Path, runs: list[dict]) -> list[str]:
    """One line per run: duration, zenith, trigger and after-cut rates, ON/OFF counts."""
    lines = []
    for run in runs:
        obs_id, live = run["obs_id"], run["livetime_s"]
        counts = _trigger_counts(chain_dir, obs_id)
        n_cut = _events_after_cuts(chain_dir, obs_id)
        rates = ""
        if counts is not None:
            per_tel = ", ".join(f"{k}: {v / live:.0f}" for k, v in counts.items() if k != "stereo")
            rates = f"; telescope events/s {per_tel}, stereo {counts['stereo'] / live:.0f}/s"
        if n_cut is not None:
            rates += f", after cuts {n_cut} ({n_cut / live:.2f}/s)"
        lines.append(
            f"  run {obs_id} {run['start']}: {live:.0f} s live, zenith {run['zenith_deg']:.1f}"
            f" deg{rates}; N_on {run['n_on']}, N_off {run['n_off']} ({run['n_off_regions']}"
            f" OFF regions), above {run['safe_threshold_TeV']:.1f} TeV"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chain_dir", type=Path, help="iactpipe-chain output directory")
    parser.add_argument(
        "--observation-config",
        type=Path,
        required=True,
        help="the simulate config of the runs (source_flux_scale)",
    )
    args = parser.parse_args(argv)
    run = yaml.safe_load(args.observation_config.read_text())["ObservationRun"]
    summaries = sorted(args.chain_dir.glob("analysis/*/summary.json"))
    if not summaries:
        print(f"no analysis summary in {args.chain_dir}/analysis", file=sys.stderr)
        return 1
    print(
        f"the night: a source of {float(run['source_flux_scale']):g} Crab (MAGIC 2015 Crab"
        f" spectrum x {float(run['source_flux_scale']):g}), protons at"
        f" {float(run.get('proton_flux_scale', 1.0)):g} x the reference proton flux"
        " (CTA IRF document)"
    )
    for path in summaries:
        result = json.loads(path.read_text())
        print("\n".join(run_lines(args.chain_dir, result.get("runs", []))))
        print(f"quick-look report: {path.parent / 'report.html'}")
        print(
            f"  {result['target']['name']}: runs {result['observations']}, live time "
            f"{result['livetime_s']:.1f} s, N_on {result['n_on']}, N_off {result['n_off']}"
            f" (alpha {result['alpha']:.2f}), excess {result['excess']:.0f}, significance "
            f"{result['significance']:.1f} sigma"
        )
        fit = result.get("spectral_fit") or {}
        if fit.get("success"):
            print("\n".join(injected_numbers(float(run["source_flux_scale"]), fit)))
        else:
            print(f"  spectral fit failed: {fit.get('message', 'not run')}")
    print(f"chain summary: {args.chain_dir / 'chain_summary.ecsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
