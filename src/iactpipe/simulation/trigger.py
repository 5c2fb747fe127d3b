"""Camera trigger: sums of a pixel and its neighbours over a threshold.

DigiCam forms trigger patches from groups of neighbouring pixels and compares their
summed, baseline-subtracted signal with a threshold in ADC (Heller et al., Eur. Phys. J. C
77 (2017) 47). Here every pixel with its six neighbours forms a patch, sampled at each
waveform sample. The NSB-induced voltage drop lowers the signal and therefore the
efficiency of a fixed ADC threshold, as in the real camera.
"""

import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import Float
from ctapipe.instrument import CameraGeometry
from numba import njit

__all__ = ["CameraTrigger", "patch_sum_trigger", "patch_sum_trigger_adc", "patch_table"]


def patch_table(geometry: CameraGeometry) -> np.ndarray:
    """(n_pixels, 7) indices of each pixel and its neighbours, padded with -1.

    The neighbours in increasing pixel order, as ``geometry.neighbors`` lists them, read
    from the sparse neighbour matrix (``neighbors`` makes the dense 1296 x 1296 matrix
    and one ``np.nonzero`` per row: 5 ms of the simulator's start-up).
    """
    matrix = geometry.neighbor_matrix_sparse.tocsr(copy=True)
    # canonical form: sorted column indices, no duplicates, no stored zeros (what the
    # dense matrix's nonzero entries give)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    n_pixels = geometry.n_pixels
    table = np.full((n_pixels, 7), -1, dtype=np.int64)
    table[:, 0] = np.arange(n_pixels)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(n_pixels), counts)
    # each neighbour's place among its row's neighbours: up to six kept
    place = np.arange(len(rows)) - np.repeat(matrix.indptr[:-1], counts)
    keep = place < 6
    table[rows[keep], 1 + place[keep]] = matrix.indices[keep]
    return table


@njit(cache=True)
def patch_sum_trigger(signal, patches, threshold):
    """First sample at which any patch sum exceeds ``threshold`` and the patches over it.

    Returns (first sample or -1, number of patches over threshold at any sample).
    """
    n_pix, n_samples = signal.shape
    first = -1
    n_over = 0
    for p in range(n_pix):
        over = False
        for k in range(n_samples):
            s = 0.0
            for j in range(patches.shape[1]):
                q = patches[p, j]
                if q >= 0:
                    s += signal[q, k]
            if s > threshold:
                over = True
                if first < 0 or k < first:
                    first = k
                break
        if over:
            n_over += 1
    return first, n_over


@njit(cache=True)
def patch_sum_trigger_adc(r0, patches, threshold, baseline):
    """`patch_sum_trigger` of ``r0 - baseline`` computed on the integer ADC samples.

    A patch of ``m`` pixels is over threshold when its summed ADC exceeds
    ``threshold + m * baseline``; the sums are vectors over the samples (no conversion
    of the waveforms to float). A patch whose pixels' maxima (over the samples) sum to
    no more than that cannot be over it at any sample and is not summed (most patches
    of an event: NSB alone stays well below the threshold). Same result as
    `patch_sum_trigger`.
    """
    n_pix, n_samples = r0.shape
    peak = np.empty(n_pix, dtype=np.int64)
    for q in range(n_pix):
        best = r0[q, 0]
        for k in range(1, n_samples):
            best = max(best, r0[q, k])
        peak[q] = best
    acc = np.empty(n_samples, dtype=np.int64)
    first = -1
    n_over = 0
    for p in range(n_pix):
        m = 0
        bound = 0
        for j in range(patches.shape[1]):
            q = patches[p, j]
            if q >= 0:
                m += 1
                bound += peak[q]
        limit = threshold + m * baseline
        if bound <= limit:
            continue
        acc[:] = 0
        for j in range(patches.shape[1]):
            q = patches[p, j]
            if q >= 0:
                for k in range(n_samples):
                    acc[k] += r0[q, k]
        for k in range(n_samples):
            if acc[k] > limit:
                n_over += 1
                if first < 0 or k < first:
                    first = k
                break
    return first, n_over


@njit(cache=True)
def max_patch_sum(image, patches):
    """Largest patch sum of a per-pixel image (used to skip hopeless events)."""
    best = 0.0
    for p in range(patches.shape[0]):
        s = 0.0
        for j in range(patches.shape[1]):
            q = patches[p, j]
            if q >= 0:
                s += image[q]
        best = max(best, s)
    return best


class CameraTrigger(Component):
    """Patch-sum threshold trigger on baseline-subtracted R0 waveforms."""

    threshold_adc = Float(
        340.0, help="Threshold on the summed pulse height of a 7-pixel patch (ADC)"
    ).tag(config=True)
    skip_fraction = Float(
        0.5,
        help=(
            "Events whose brightest expected patch (p.e. x nominal gain) is below this "
            "fraction of the threshold are not digitised (rarely able to trigger, not "
            "never: at 0.5 about 0.7 % of gamma and 1.2 % of proton triggers are lost, "
            "benchmarks/trigger_skip_fraction.py)"
        ),
    ).tag(config=True)

    def __init__(self, geometry: CameraGeometry, **kwargs):
        super().__init__(**kwargs)
        self.patches = patch_table(geometry)

    def can_trigger(self, expected_pe: np.ndarray, gain_adc_per_pe: float) -> bool:
        """Cheap pre-selection on the expected image before digitisation."""
        peak_adc = max_patch_sum(expected_pe, self.patches) * gain_adc_per_pe
        return peak_adc >= self.skip_fraction * self.threshold_adc

    def __call__(self, r0: np.ndarray, baseline_adc: float) -> tuple[int, int]:
        """(trigger sample or -1, number of patches over threshold) of one camera."""
        return patch_sum_trigger_adc(r0, self.patches, self.threshold_adc, baseline_adc)
