"""
Benchmark of the coincidence matchers: 10^6 x 10^6 events, time and peak memory each,
plus two peer figures: the pairwise N1 x N2 approach (magic-cta-pipe#128, sst1mpipe's
find_coincidence_offset) on a subset, extrapolated; ctapipe's per-event
HillasReconstructor vs the batch geometry.

Run: python benchmarks/stereo_matching.py [--n 1000000]
Each matcher runs in a fresh process, so its peak RSS is its own.
"""

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np

UNIX_2024_NS = 1_704_067_200 * 10**9


def streams(n, rate_hz=300.0, offset_ns=3_217_000, seed=0):
    """Two ~n-event streams: 300 Hz Poisson showers, 30 % seen by one telescope only."""
    rng = np.random.default_rng(seed)
    n_showers = int(n / 0.85)
    t = UNIX_2024_NS + np.cumsum(rng.exponential(1e9 / rate_hz, n_showers)).astype(np.int64)
    u = rng.random(n_showers)
    in_1, in_2 = u >= 0.15, (u < 0.15) | (u >= 0.3)
    t1 = t[in_1] + rng.normal(0, 50, in_1.sum()).round().astype(np.int64)
    t2 = t[in_2] + offset_ns + rng.normal(0, 50, in_2.sum()).round().astype(np.int64)
    return t1, t2, np.flatnonzero(in_1), np.flatnonzero(in_2)


def run_matcher(name, n, queue):
    from iactpipe.stereo import CoincidenceMatcher

    t1, t2, s1, s2 = streams(n)
    kwargs = {"time_offset_ns": 3_217_000} if name == "WhiteRabbitClosestMatcher" else {}
    matcher = CoincidenceMatcher.from_name(name, **kwargs)
    matcher.match(t1[:1000], t2[:1000], s1[:1000], s2[:1000])  # numba compilation
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = matcher.match(t1, t2, s1, s2)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    correct = s1[result.index_1] == s2[result.index_2]
    n_true = len(np.intersect1d(s1, s2))
    queue.put(
        (
            name,
            len(t1),
            len(t2),
            elapsed,
            peak / 1024,
            (peak - rss_before) / 1024,
            correct.sum() / n_true,
            (~correct).sum() / result.n_pairs,
            result.offset_ns,
        )
    )


def pairwise_peer(n_sub=20_000, n_full=1_000_000):
    """The N1 x N2 boolean-matrix coincidence count at one offset, on a subset."""
    t1, t2, _, _ = streams(n_sub)
    start = time.perf_counter()
    coincident = np.abs(t2[None, :] - t1[:, None] - 3_217_000) <= 1_000_000
    n = coincident.sum()
    elapsed = time.perf_counter() - start
    scale = (n_full / n_sub) ** 2
    print(
        f"peer: pairwise matrix at ONE offset, {n_sub} x {n_sub}: {elapsed:.2f} s, "
        f"{coincident.nbytes / 2**20:.0f} MiB ({n} coincidences); extrapolated to "
        f"{n_full} x {n_full}: {elapsed * scale:.0f} s and {coincident.nbytes * scale / 2**30:.0f}"
        f" GiB per offset, x1001 offsets for the scan"
    )


def geometry_peer(n_events=2000):
    """ctapipe HillasReconstructor per event vs BatchHillasReconstructor, same inputs."""
    import astropy.units as u
    from astropy.table import Table
    from ctapipe.containers import (
        ArrayEventContainer,
        HillasParametersContainer,
        ImageParametersContainer,
        MorphologyContainer,
    )
    from ctapipe.reco import HillasReconstructor

    from iactpipe.instrument import sst1m_subarray
    from iactpipe.stereo.geometry import BatchHillasReconstructor

    subarray = sst1m_subarray()
    rng = np.random.default_rng(2)
    alt, az = np.deg2rad(70.0), np.deg2rad(10.0)
    params = {}
    for tel_id in subarray.tel_ids:
        params[tel_id] = Table(
            {
                "hillas_fov_lon": rng.normal(0, 1, n_events) * u.deg,
                "hillas_fov_lat": rng.normal(0, 1, n_events) * u.deg,
                "hillas_psi": rng.uniform(-90, 90, n_events) * u.deg,
                "hillas_intensity": rng.uniform(100, 1000, n_events),
                "hillas_length": rng.uniform(0.1, 0.3, n_events) * u.deg,
                "hillas_width": rng.uniform(0.02, 0.1, n_events) * u.deg,
                "morphology_n_pixels": np.full(n_events, 20),
            }
        )
    pointing = {
        t: (np.full(n_events, alt) * u.rad, np.full(n_events, az) * u.rad) for t in subarray.tel_ids
    }
    batch = BatchHillasReconstructor(subarray)
    start = time.perf_counter()
    geometry, _ = batch(params, pointing, (alt * u.rad, az * u.rad))
    t_batch = time.perf_counter() - start
    reco = HillasReconstructor(subarray)
    n_ref = 200
    start = time.perf_counter()
    for i in range(n_ref):
        event = ArrayEventContainer()
        event.monitoring.pointing.array_altitude = alt * u.rad
        event.monitoring.pointing.array_azimuth = az * u.rad
        event.trigger.tels_with_trigger = np.array(subarray.tel_ids)
        for tel_id, table in params.items():
            event.monitoring.tel[tel_id].pointing.altitude = alt * u.rad
            event.monitoring.tel[tel_id].pointing.azimuth = az * u.rad
            dl1 = event.dl1.tel[tel_id].parameters = ImageParametersContainer()
            dl1.hillas = HillasParametersContainer(
                fov_lon=table["hillas_fov_lon"].quantity[i],
                fov_lat=table["hillas_fov_lat"].quantity[i],
                psi=table["hillas_psi"].quantity[i],
                intensity=table["hillas_intensity"][i],
                length=table["hillas_length"].quantity[i],
                width=table["hillas_width"].quantity[i],
            )
            dl1.morphology = MorphologyContainer(n_pixels=20)
        reco(event)
        ref = event.dl2.stereo.geometry["HillasReconstructor"]
        assert (
            abs(
                ref.alt.to_value(u.deg)
                - geometry["HillasReconstructor_alt"].quantity[i].to_value(u.deg)
            )
            < 1e-8
        )
    t_ref = (time.perf_counter() - start) / n_ref
    print(
        f"geometry: batch {n_events / t_batch:,.0f} events/s; ctapipe HillasReconstructor "
        f"per event {1 / t_ref:,.0f} events/s (x{t_ref * n_events / t_batch:.0f}); "
        f"alt equal within 1e-8 deg on {n_ref} events"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--n", type=int, default=1_000_000, help="events per telescope")
    args = parser.parse_args()
    queue = mp.get_context("spawn").Queue()
    print(
        "matcher                       n_1      n_2     time/s  peak RSS/MiB  (+match)  "
        "recovered  false     offset/ns"
    )
    for name in ("WhiteRabbitClosestMatcher", "SlidingWindowMatcher", "EventIdMatcher"):
        process = mp.get_context("spawn").Process(target=run_matcher, args=(name, args.n, queue))
        process.start()
        row = queue.get()
        process.join()
        print(
            "{:<26} {:>8} {:>8} {:>8.2f} {:>12.0f} {:>9.0f} {:>10.5f} {:>8.5f} {:>10}".format(*row)
        )
    pairwise_peer()
    geometry_peer()


if __name__ == "__main__":
    main()
