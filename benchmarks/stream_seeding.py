"""CPU cost of the simulator's per-shower and per-telescope random streams:
``np.random.default_rng([seed, stream, 1, key])`` against
`iactpipe.simulation.streams.StreamSeeder` (the same generators, bit for bit), for the
~4600 generators of a 2000-gamma production (2000 showers x 3 streams asked for in
turn: the shower's, then each of 2 telescopes').

Run: .venv/bin/python benchmarks/stream_seeding.py

Result (issue 19, i19-startup round, three runs, load 2.2-2.3 with a simulator
benchmark on the other core): default_rng 12.4-13.7 us per generator (74-82 ms per
6000), StreamSeeder 2.2-2.3 us including the hashing of its blocks of 1024 keys
(13-14 ms per 6000): about 0.05 s less per 2000-gamma production (4613 generators).
"""

import time

import numpy as np

from iactpipe.simulation.streams import StreamSeeder


def _cpu(make, n_showers=2000, streams=(0, 1, 2)):
    c0 = time.process_time()
    for key in range(n_showers):
        for stream in streams:
            make(stream, key)
    return time.process_time() - c0


def main():
    seed = 3
    for _ in range(3):
        numpy_s = _cpu(lambda stream, key: np.random.default_rng([seed, stream, 1, key]))
        seeder = StreamSeeder(seed, [0, 1, 2])
        fast_s = _cpu(seeder)
        print(
            f"default_rng {1e3 * numpy_s:.1f} ms ({1e6 * numpy_s / 6000:.1f} us each), "
            f"StreamSeeder {1e3 * fast_s:.1f} ms ({1e6 * fast_s / 6000:.1f} us each)"
        )


if __name__ == "__main__":
    main()
