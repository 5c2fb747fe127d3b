"""How often does the NSB alone fire the camera trigger? Noise-only cameras (no signal
p.e., the NSB bank and excess pulses of a production's pixel rates, seed 0 telescopes 1
and 2) through ``CameraTrigger``'s patch sums; prints the fraction of cameras that fire
and the tail of the largest patch sum per camera (ADC above the NSB-shifted baseline).

This is the probability that decides whether a camera's trigger may be evaluated on the
patches with signal first (issue 19, "idea 1": synthesise only the pixels of the patches
that hold a signal p.e., and the rest of the camera only if one of them fires). Such a
shortcut changes the output exactly when a patch without signal fires in a camera whose
signal patches do not, so it keeps the files only if this probability is negligible.

Run: .venv/bin/python benchmarks/nsb_only_trigger.py [cameras per telescope] [dark|moon]

Result (issue 19, waveform round; default settings, threshold 340 ADC; 5000 cameras per
telescope, load 8): dark NSB, 10 000 cameras: 6 fired, 6e-4 per camera (Poisson 95 %
interval 2.2e-4 to 1.3e-3; another 10 000 with other seeds: 5); largest patch sum per
camera: median 230 ADC, 99 % below 301, 99.9 % below 335, maximum 368. Moon NSB
(250 MHz), 1000 cameras: every one fired (median 450 ADC). In the 2000-gamma benchmark
production 783 of the 2613 digitised cameras do not trigger, so the shortcut would change
about 0.4 events per production at the default settings (and most under the moon): it
is not used.
"""

import sys

import numpy as np
from numba import njit

from iactpipe.simulation.source import ToySimulationSource


@njit(cache=True)
def max_patch_sum(r0, patches, baseline):
    """Largest baseline-subtracted patch sum of ``r0`` over patches and samples (ADC)."""
    n_pix, n_samples = r0.shape
    best = -1e9
    acc = np.empty(n_samples)
    for p in range(n_pix):
        acc[:] = 0.0
        m = 0
        for j in range(patches.shape[1]):
            q = patches[p, j]
            if q >= 0:
                m += 1
                for k in range(n_samples):
                    acc[k] += r0[q, k]
        for k in range(n_samples):
            best = max(best, acc[k] - m * baseline)
    return best


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    condition = sys.argv[2] if len(sys.argv) > 2 else "dark"
    source = ToySimulationSource()
    camera, trigger = source.camera, source.trigger
    camera.nsb_condition = condition
    baseline = camera.baseline_adc + camera.baseline_shift_adc
    zeros = np.zeros(camera.n_pixels)
    no_pe = np.zeros(camera.n_pixels, dtype=np.int64)
    peaks = []
    for tel_id in (1, 2):
        # the pixel rates of the production's telescope (seed 0)
        rates = camera.pixel_nsb_rates_mhz(np.random.default_rng([0, tel_id]))
        for i in range(n):
            rng = np.random.default_rng([0, tel_id, 7, i])
            r0 = camera.r0_waveforms(rng, no_pe, zeros, zeros, rates)
            peaks.append(max_patch_sum(r0, trigger.patches, baseline))
    peaks = np.array(peaks)
    fired = int(np.sum(peaks > trigger.threshold_adc))
    print(
        f"{condition} NSB, {len(peaks)} noise-only cameras, threshold "
        f"{trigger.threshold_adc:g} ADC: {fired} fired ({fired / len(peaks):.1e} per camera)"
    )
    for q in (0.5, 0.9, 0.99, 0.999, 1.0):
        print(f"  largest patch sum, quantile {q}: {np.quantile(peaks, q):.1f} ADC")


if __name__ == "__main__":
    main()
