"""Sampling for the render kernels (`render_kernels`): the counter-based random numbers
of the emission points and of the PSF (SplitMix64 streams of seeds drawn from the
shower's ``numpy.random.Generator``, `draw_keys`), the sub-shower's emitting track
(`subshower_track`, `_track_cdf`) and the inversion of its cumulative distribution
(`_interp`, `_interp_guided`). Pure numba functions on plain floats and arrays.
"""

import numpy as np
from numba import njit

__all__ = [
    "CRITICAL_ENERGY_TEV",
    "MAX_PSF_NORMAL",
    "UNIFORMS_PER_POINT",
    "draw_keys",
    "subshower_track",
]

CRITICAL_ENERGY_TEV = 85e-6
#: SplitMix64 (Steele, Lea, Flood, OOPSLA 2014; Vigna's reference code): its increment
#: and the two multipliers of its output mix
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
#: the largest |standard normal| `_normal_pair` gives: sqrt(-2 ln(2^-33))
MAX_PSF_NORMAL = 6.77
#: number of uniforms per emission point (`render_bunches`)
UNIFORMS_PER_POINT = 5


@njit(cache=True)
def _mix64(key, counter):
    """Number ``counter`` (from 0) of the SplitMix64 stream of seed ``key`` (uint64),
    computed directly from the counter: any subset of a stream's numbers, in any order,
    without a state or an array (a counter-based generator)."""
    z = key + (np.uint64(counter) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _uniform(key, counter):
    """A uniform in [1e-12, 1) (the range of the former ``rng.uniform(1e-12, 1.0)``) from
    the 53 high bits of `_mix64`."""
    u = np.int64(_mix64(key, counter) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return 1e-12 + (1.0 - 1e-12) * u


@njit(cache=True)
def _normal_pair(key, counter):
    """Two independent standard normals (Box-Muller) from the two 32-bit halves of
    `_mix64`; ``|x| <= MAX_PSF_NORMAL``."""
    z = _mix64(key, counter)
    # single precision (twice as fast): a PSF blur needs no more
    u1 = np.float32((np.int64(z >> np.uint64(32)) + 0.5) * (1.0 / 4294967296.0))
    u2 = np.float32(np.int64(z & np.uint64(0xFFFFFFFF)) * (2.0 * np.pi / 4294967296.0))
    rad = np.sqrt(np.float32(-2.0) * np.log(u1))
    return rad * np.cos(u2), rad * np.sin(u2)


@njit(cache=True)
def draw_keys(rng, n_tel):
    """The ``n_tel + 1`` stream seeds of `render_subshowers` drawn from the
    ``numpy.random.Generator`` ``rng`` (63 random bits each): one for the emission
    points, one per telescope for its PSF (drawn for every telescope, rendered or not)."""
    return rng.integers(0, np.iinfo(np.int64).max, n_tel + 1).astype(np.uint64)


@njit(cache=True)
def _interp(x, xp, fp):
    """``np.interp(x, xp, fp)`` of one float ``x`` (``xp`` increasing): the same index
    (the last ``j`` with ``xp[j] <= x``) and the same arithmetic as numba's (and NumPy's)
    implementation, so the same value, without its two array allocations per call."""
    n = xp.shape[0]
    if np.isnan(x):
        return x
    if x > xp[n - 1]:
        return fp[n - 1]
    if x < xp[0]:
        return fp[0]
    # branch-free bisection (a select, no mispredicted jumps): the last j with
    # xp[j] <= x, given xp[0] <= x
    j, length = 0, n
    while length > 1:
        half = length >> 1
        j = j + half if xp[j + half] <= x else j
        length -= half
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    value = slope * (x - xp[j]) + fp[j]
    if np.isnan(value):
        # NumPy's fallback for a non-finite slope: interpolate from the other end
        value = slope * (x - xp[j + 1]) + fp[j + 1]
        if np.isnan(value) and fp[j] == fp[j + 1]:
            value = fp[j]
    return value


#: bins of `_interp_guide` over [0, 1]
_GUIDE_BINS = 64


@njit(cache=True)
def _interp_guide(xp):
    """Per bin ``b`` of `_GUIDE_BINS` equal bins of [0, 1], the last ``j`` with ``xp[j] <=
    b / _GUIDE_BINS`` (0 if none): where `_interp_guided` starts its search."""
    guide = np.zeros(_GUIDE_BINS, np.int64)
    j = 0
    for b in range(_GUIDE_BINS):
        edge = b / _GUIDE_BINS
        while j + 1 < xp.shape[0] and xp[j + 1] <= edge:
            j += 1
        guide[b] = j
    return guide


@njit(cache=True)
def _interp_guided(x, xp, fp, guide):
    """`_interp` of ``x >= xp[0]`` (``xp`` from 0, a normalised cumulative distribution,
    `subshower_track`): the same index (the last ``j`` with ``xp[j] <= x``) and value,
    found by a short forward scan from ``guide`` (`_interp_guide`) instead of a
    bisection. No early range test: with one, numba's code took 70 instead of 27 ns per
    call (the clamp of the bin is branch-free)."""
    n = xp.shape[0]
    j = guide[min(max(int(x * _GUIDE_BINS), 0), _GUIDE_BINS - 1)]
    while j + 1 < n and xp[j + 1] <= x:
        j += 1
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    value = slope * (x - xp[j]) + fp[j]
    if value != value:
        return _interp(x, xp, fp)
    return value


@njit(cache=True)
def _greisen(b, t):
    s = 3 * t / (t + 2 * b)
    return 0.31 / np.sqrt(b) * np.exp(t * (1 - 1.5 * np.log(s)))


@njit(cache=True)
def _emitting(b, t, quench):
    """Greisen profile times the quench past its maximum (t_max = b = ln(E / E_c)):
    exp(-quench (t - b)) for t > b."""
    return _greisen(b, t) * np.exp(-quench * max(t - b, 0.0))


@njit(cache=True)
def subshower_track(energy_tev, quench=0.0):
    """(depth grid in X0, normalised cumulative emitting track length, total emitting track
    length in X0) of the Greisen profile quenched past its maximum by ``exp(-quench (t -
    t_max))`` (``quench`` per radiation length, 0: the plain Greisen track length)."""
    b = np.log(energy_tev / CRITICAL_ENERGY_TEV)
    t_grid = np.linspace(1e-3, 4 * b + 12, 160)
    cdf = np.zeros(160)
    prev = _emitting(b, t_grid[0], quench)
    for j in range(1, 160):
        cur = _emitting(b, t_grid[j], quench)
        cdf[j] = cdf[j - 1] + 0.5 * (cur + prev) * (t_grid[j] - t_grid[j - 1])
        prev = cur
    total = cdf[-1]
    return t_grid, cdf / total, total


@njit(cache=True)
def _track_cdf(energy_tev, quench):
    """`subshower_track` for the render: the profile in one single-precision exponential
    (and logarithm) per grid point, ``exp(t (1 - 1.5 ln s) - quench max(t - b, 0))``,
    instead of two and one in double (relative 1e-7; a proton renders about a hundred
    sub-showers, 160 grid points each)."""
    b = np.log(energy_tev / CRITICAL_ENERGY_TEV)
    t_grid = np.linspace(1e-3, 4 * b + 12, 160)
    cdf = np.empty(160)
    norm = 0.31 / np.sqrt(b)
    prev = 0.0
    for j in range(160):
        t = t_grid[j]
        log_s = np.float64(np.log(np.float32(3 * t / (t + 2 * b))))
        cur = norm * np.float64(
            np.exp(np.float32(t * (1 - 1.5 * log_s) - quench * max(t - b, 0.0)))
        )
        cdf[j] = 0.0 if j == 0 else cdf[j - 1] + 0.5 * (cur + prev) * (t - t_grid[j - 1])
        prev = cur
    total = cdf[-1]
    cdf /= total
    return t_grid, cdf, total
