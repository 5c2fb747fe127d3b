"""Shared pytest fixtures: locations of the real external test data in ../shared/data, and
the simulated chain (MC -> models -> IRF library -> observation runs -> DL3) shared by
tests/dl3 and tests/analysis (built once per session; statistics in chain_fixtures.py)."""

import logging
import signal
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # chain_fixtures.py
from chain_fixtures import build_crab_fit_dl3, build_dl3_chain

REPO_ROOT = Path(__file__).resolve().parents[1]

# `make test` runs the suite on every core with pytest-xdist (``--dist loadgroup``).
# A session fixture is built once per worker that needs it, so the tests sharing an
# expensive one run on the same worker: each test goes to the group of the first family
# below whose fixtures it uses (directly or through other fixtures), any other test to
# the group of its file (its module-scoped fixtures are built once too).
FIXTURE_FAMILIES = {
    "chain": ("dl3_chain", "crab_fit_dl3", "analysis_dl3", "reliability_files"),
    "third_party": ("third_party_dl3",),
    "dqm": ("dqm_runs",),
    "irf": ("irf_dl2", "irf_library"),
    "reco": ("reco_dir",),
    "simulation": ("sim_dir",),
    "workflow": ("tiny_chain",),
}
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
PROD4_SST1M = (
    SHARED_DATA
    / "simtel"
    / "gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst"
)
SST1M_ARRAY = SHARED_DATA / "instrument" / "sst1m_array.h5"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present: real external test data lives in ../shared/data")
    return path


@pytest.fixture(scope="session")
def prod4_sst1m_path() -> Path:
    """The CTA prod4 SST-1M sim_telarray file (31 gamma showers, 70 telescopes)."""
    return _require(PROD4_SST1M)


@pytest.fixture(scope="session")
def sst1m_array_path() -> Path:
    """ctapipe SubarrayDescription of the two SST-1M telescopes (tel 21, 22)."""
    return _require(SST1M_ARRAY)


@pytest.fixture(scope="session")
def dl3_chain(tmp_path_factory) -> dict[str, Path]:
    """``{"library", "models", "observation_dl1", "observation_dl2", "run_tel021", ...}``."""
    return build_dl3_chain(tmp_path_factory.mktemp("dl3_chain"))


@pytest.fixture(scope="session")
def crab_fit_dl3(dl3_chain, tmp_path_factory) -> Path:
    """DL3 directory of the spectral-fit run (statistics in tests/dl3/test_crab_fit.py)."""
    return build_crab_fit_dl3(tmp_path_factory.mktemp("crab_fit"), dl3_chain)


def xdist_group_of(fixturenames, path: Path) -> str:
    """The xdist group of a test using ``fixturenames`` defined in the file ``path``."""
    for family, fixtures in FIXTURE_FAMILIES.items():
        if any(name in fixturenames for name in fixtures):
            return family
    return path.relative_to(REPO_ROOT).as_posix()


def pytest_itemcollected(item):
    """Group the tests for ``pytest -n N --dist loadgroup`` (see FIXTURE_FAMILIES); while
    collecting, before xdist reads the groups in ``pytest_collection_modifyitems``."""
    if item.get_closest_marker("xdist_group") is None:
        group = xdist_group_of(getattr(item, "fixturenames", ()), Path(item.fspath))
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _package_loggers_propagate():
    """A Tool run in this process leaves ctapipe's logging config behind: the package
    loggers (``iactpipe``, ``ctapipe``) no longer propagate to the root logger, where
    ``caplog`` listens. Each test starts with them propagating, whatever ran before it on
    its worker."""
    for name in ("iactpipe", "ctapipe"):
        logging.getLogger(name).propagate = True


#: the signals whose disposition or mask a test must leave as it found them
_WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def _signal_state_restored(request):
    """A test that leaves SIGINT/SIGTERM/SIGHUP ignored, handled or blocked changes every
    later test on its worker: a Tool forked from it keeps an ignored signal ignored (a
    fresh-clone CI once saw the simulate SIGINT test hang so). After each test the
    dispositions and the thread's signal mask are compared with those before it; a change
    is undone and reported as a warning naming the test, so the culprit shows in the
    summary instead of in a later, unrelated test."""
    before = {sig: signal.getsignal(sig) for sig in _WATCHED_SIGNALS}
    mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    changed = [sig.name for sig in _WATCHED_SIGNALS if signal.getsignal(sig) is not before[sig]]
    mask_after = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    blocked = sorted(s.name for s in (mask_after - mask_before) if s in _WATCHED_SIGNALS)
    for sig in _WATCHED_SIGNALS:
        if sig.name in changed and before[sig] is not None:
            signal.signal(sig, before[sig])
    if mask_after != mask_before:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask_before)
    if changed or blocked:
        warnings.warn(
            f"{request.node.nodeid} left signal handlers changed {changed}, blocked {blocked};"
            " restored",
            stacklevel=1,
        )
