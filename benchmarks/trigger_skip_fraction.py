"""Trigger probability of a camera versus its brightest expected patch, the quantity
``CameraTrigger.skip_fraction`` cuts on before digitisation.

Runs ``ToySimulationSource`` on ``simulate_mc_gamma.yaml`` and ``simulate_mc_proton.yaml``
with ``CameraTrigger.can_trigger`` always true (every rendered camera is digitised) and
records, per digitised camera, the ratio of its brightest expected 7-pixel patch (p.e. x
nominal gain) to ``threshold_adc`` and whether it triggered. Prints the trigger
probability per ratio bin and, per candidate ``skip_fraction``, the cameras digitised and
the triggers lost (the light-pool pre-selection of rendering is unchanged, so cameras it
skips are not counted).

Run: .venv/bin/python benchmarks/trigger_skip_fraction.py [n_gammas] [n_protons]
(the numbers of docs/simulate.rst: 10000 6000)
"""

import sys
from pathlib import Path

import numpy as np
import yaml
from traitlets.config import Config

from iactpipe.simulation import ToySimulationSource
from iactpipe.simulation import trigger as trigger_module

CONFIGS = Path(__file__).parents[1] / "data_configs"
BINS = [0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5]
CANDIDATES = [0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]


def _record(config_name: str, n_showers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(ratio, triggered) of every digitised camera of ``n_showers`` showers."""
    trigger_class = trigger_module.CameraTrigger
    original_call, original_can = trigger_class.__call__, trigger_class.can_trigger
    ratios, triggered, last = [], [], {}

    def can_trigger(self, expected_pe, gain_adc_per_pe):
        peak = trigger_module.max_patch_sum(expected_pe, self.patches) * gain_adc_per_pe
        last["ratio"] = peak / self.threshold_adc
        return True

    def call(self, r0, baseline_adc):
        sample, n_patches = original_call(self, r0, baseline_adc)
        ratios.append(last["ratio"])
        triggered.append(sample >= 0)
        return sample, n_patches

    config = Config(yaml.safe_load((CONFIGS / config_name).read_text()))
    config.ShowerGenerator.n_showers = n_showers
    trigger_class.can_trigger, trigger_class.__call__ = can_trigger, call
    try:
        for _ in ToySimulationSource(config=config, seed=seed):
            pass
    finally:
        trigger_class.can_trigger, trigger_class.__call__ = original_can, original_call
    return np.array(ratios), np.array(triggered)


def main():
    n_gamma = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n_proton = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    for name, n, seed in (
        ("simulate_mc_gamma.yaml", n_gamma, 11),
        ("simulate_mc_proton.yaml", n_proton, 12),
    ):
        ratio, trig = _record(name, n, seed)
        print(f"{name}, {n} showers, seed {seed}: {len(ratio)} cameras, {trig.sum()} triggers")
        for lo, hi in zip(BINS[:-1], BINS[1:], strict=True):
            sel = (ratio >= lo) & (ratio < hi)
            p = trig[sel].mean() if sel.any() else 0.0
            print(f"  ratio {lo:.1f}-{hi:.1f}: {sel.sum():6d} cameras, trigger probability {p:.3f}")
        for cut in CANDIDATES:
            lost = np.sum(trig & (ratio < cut))
            print(
                f"  skip_fraction {cut:.2f}: {np.sum(ratio >= cut)} cameras digitised, "
                f"{lost} triggers lost ({100 * lost / max(trig.sum(), 1):.2f} %)"
            )


if __name__ == "__main__":
    main()
