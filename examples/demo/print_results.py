"""
Print the key numbers of the demo's quick-look report: where it is, the detection
significance and the fitted spectrum against the one the simulator injected (the MAGIC
2015 Crab log-parabola times ``ObservationRun.source_flux_scale``).

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
import yaml

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
    for path in summaries:
        result = json.loads(path.read_text())
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
