"""Session fixtures of the chain tests: the tiny data set of chain_data.py, simulated and
run through iactpipe-chain once."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # chain_data.py
from chain_data import RUNS, run_chain, simulate, write_config

from iactpipe.workflow import DATA_CONFIGS


@pytest.fixture(scope="session")
def tiny_chain(tmp_path_factory):
    """The tiny data set and a first local run of the chain on it (``out``)."""
    tmp = tmp_path_factory.mktemp("chain")
    inputs = tmp / "inputs"
    inputs.mkdir()
    simulate(inputs)
    dl2_dl3 = tmp / "dl2_dl3.yaml"
    shutil.copy(DATA_CONFIGS / "dl2_dl3_data_stereo.yaml", dl2_dl3)
    config = write_config(tmp / "chain.yaml", inputs, RUNS, dl2_dl3)
    code, status = run_chain(config, tmp / "out")
    return {
        "tmp": tmp,
        "inputs": inputs,
        "config": config,
        "dl2_dl3": dl2_dl3,
        "out": tmp / "out",
        "code": code,
        "status": status,
    }


@pytest.fixture
def chain_copy(tiny_chain, tmp_path):
    """A copy of the finished chain (modification times kept: its steps are up to date)."""
    out = tmp_path / "out"
    shutil.copytree(tiny_chain["out"], out)
    return out


@pytest.fixture(scope="session")
def node_chain(tiny_chain, tmp_path_factory):
    """The tiny data set as a two-node production (chain_data.NODES) with a third run,
    chained in a copy of the tiny chain's output (the first node's DL1 is up to date):
    ``out``, the first call's ``code`` and ``status``, and the ``second`` call's."""
    from chain_data import simulate_second_node, write_node_config

    tmp = tmp_path_factory.mktemp("node_chain")
    node_inputs = tmp / "inputs"
    node_inputs.mkdir()
    simulate_second_node(node_inputs)
    out = tmp / "out"
    shutil.copytree(tiny_chain["out"], out)
    config = write_node_config(
        tmp / "chain.yaml", tiny_chain["inputs"], node_inputs, tiny_chain["dl2_dl3"]
    )
    code, status = run_chain(config, out, "--no-analysis")
    second = run_chain(config, out, "--no-analysis")
    return {"out": out, "config": config, "code": code, "status": status, "second": second}
