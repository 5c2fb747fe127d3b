"""Speed of the toy simulator (MC gammas): thrown and triggered telescope events per second.

Run: .venv/bin/python benchmarks/simulate_speed.py [n_showers]
"""

import sys
import time

import astropy.units as u
from traitlets.config import Config

from iactpipe.simulation import ToySimulationSource


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    config = Config({"ShowerGenerator": {"n_showers": 50}})
    list(ToySimulationSource(config=config))  # numba compilation / cache load
    config = Config({"ShowerGenerator": {"n_showers": n, "max_scatter_radius": 400 * u.m}})
    source = ToySimulationSource(config=config, seed=1)
    t0 = time.perf_counter()
    for _ in source:
        pass
    dt = time.perf_counter() - t0
    n_tel = len(source.subarray.tel_ids)
    n_trig = sum(source.n_triggered.values())
    print(f"showers: {n}, time: {dt:.1f} s")
    print(f"simulated telescope events per second: {n * n_tel / dt:.0f}")
    print(f"triggered (written) telescope events per second: {n_trig / dt:.0f}")


if __name__ == "__main__":
    main()
