"""The fast-seeded random streams equal numpy's default_rng bit for bit."""

import numpy as np
import pytest

from iactpipe.simulation.streams import StreamSeeder, seed_sequence_states


def test_seed_sequence_states_equal_numpy():
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**32, (300, 4), dtype=np.uint64)
    words[:20] = rng.integers(0, 3, (20, 4))  # small values and zeros, as in a run
    words[-1] = 2**32 - 1
    states = seed_sequence_states(words)
    for row, state in zip(words, states, strict=True):
        expected = np.random.SeedSequence([int(w) for w in row]).generate_state(4, np.uint64)
        np.testing.assert_array_equal(state, expected)


def test_seed_sequence_states_rejects_wide_words():
    with pytest.raises(ValueError):
        seed_sequence_states(np.array([[0, 1, 2, 2**32]]))
    with pytest.raises(ValueError):
        seed_sequence_states(np.zeros((2, 3), dtype=np.int64))


@pytest.mark.parametrize("seed", [0, 3, 2**32 - 1, 2**40, -1])
def test_stream_seeder_equals_default_rng(seed):
    seeder = StreamSeeder(seed, [0, 1, 2], block=16)
    for stream, key in [(0, 0), (1, 5), (2, 15), (0, 16), (2, 40), (1, 3), (7, 4), (1, 2**33)]:
        if seed < 0:
            # numpy refuses negative entropy: so does the seeder
            with pytest.raises(ValueError):
                seeder(stream, key)
            continue
        got = seeder(stream, key)
        expected = np.random.default_rng([seed, stream, 1, key])
        assert got.bit_generator.state == expected.bit_generator.state
        np.testing.assert_array_equal(got.random(5), expected.random(5))
