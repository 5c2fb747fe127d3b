"""Fixtures for the instrument tests: the reference SST-1M array description."""

from pathlib import Path

import pytest
from ctapipe.instrument import SubarrayDescription

SHARED_DATA = (Path(__file__).parents[2] / ".." / "shared" / "data").resolve()
SST1M_ARRAY = SHARED_DATA / "instrument" / "sst1m_array.h5"
PROD4_SST1M = (
    SHARED_DATA
    / "simtel"
    / "gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst"
)


@pytest.fixture(scope="module")
def reference_subarray() -> SubarrayDescription:
    """The SST-1M array description the built subarray must reproduce."""
    if not SST1M_ARRAY.exists():
        pytest.skip(
            "../shared/data/instrument/sst1m_array.h5 not present:"
            " the reference comparison needs the external test data"
        )
    return SubarrayDescription.from_hdf(SST1M_ARRAY)


@pytest.fixture(scope="module")
def prod4_subarray() -> SubarrayDescription:
    """Subarray of the CTA prod4 SST-1M sim_telarray file (70 telescopes, ids 1-70)."""
    if not PROD4_SST1M.exists():
        pytest.skip(f"../shared/data/simtel/{PROD4_SST1M.name} not present: external test data")
    from ctapipe.io import EventSource

    with EventSource(PROD4_SST1M, max_events=1) as source:
        return source.subarray
