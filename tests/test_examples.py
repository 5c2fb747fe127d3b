"""The runnable examples: a user-defined cleaner chosen by name; reading a DL1 file."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.table import join
from ctapipe.core import run_tool
from ctapipe.io import TableLoader

from iactpipe.io import read_provenance
from iactpipe.tools.r0_dl1 import R0DL1Tool

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CUSTOM_CLEANER = EXAMPLES / "custom_cleaner"
KEYS = ["obs_id", "event_id", "tel_id"]
#: examples/read_dl1.py as a module (run in this process: no second interpreter start)
READ_DL1 = runpy.run_path(str(EXAMPLES / "read_dl1.py"))


def _reference_config(path):
    """The example's config with SSTImageCleaner in place of MyCleaner (same thresholds)."""
    config = yaml.safe_load(path.read_text())
    sst = dict(config.pop("MyCleaner"))
    min_pixels = sst.pop("min_pixels")
    config["SSTImageCleaner"] = sst
    config["ImageProcessor"]["image_cleaner_type"] = "SSTImageCleaner"
    return config, min_pixels


def _parameters(path):
    with TableLoader(path) as loader:
        return loader.read_telescope_events(**READ_DL1["TABLES"])


def _min_pixels_per_telescope(tel_ids, patterns):
    # the example's patterns are [["type", "*", n], ["id", tel_id, m], ...]: later wins
    values = np.zeros(len(tel_ids), dtype=int)
    for kind, which, value in patterns:
        selected = np.ones(len(tel_ids), bool) if kind == "type" else tel_ids == which
        values[selected] = value
    return values


@pytest.fixture(scope="module")
def custom_and_reference(prod4_sst1m_path, tmp_path_factory):
    """The prod4 file through examples/custom_cleaner/run.py and, as the peer, through
    iactpipe-r0-dl1 with SSTImageCleaner and the same thresholds."""
    tmp = tmp_path_factory.mktemp("custom_cleaner")
    custom, reference = tmp / "my_cleaner.dl1.h5", tmp / "sst_cleaner.dl1.h5"
    config, min_pixels = _reference_config(CUSTOM_CLEANER / "config.yaml")
    (tmp / "reference.yaml").write_text(yaml.safe_dump(config))

    # the example exactly as a user runs it, in its own process, from another directory
    example = subprocess.Popen(
        [
            sys.executable,
            str(CUSTOM_CLEANER / "run.py"),
            f"--config={CUSTOM_CLEANER / 'config.yaml'}",
            f"--input={prod4_sst1m_path}",
            f"--output={custom}",
        ],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    argv = [f"--config={tmp / 'reference.yaml'}", f"--input={prod4_sst1m_path}"]
    assert run_tool(R0DL1Tool(), argv=[*argv, f"--output={reference}"], cwd=tmp) == 0
    output, _ = example.communicate(timeout=120)
    assert example.returncode == 0, output
    return custom, reference, min_pixels


def test_custom_cleaner_named_in_provenance(custom_and_reference):
    custom, reference, min_pixels = custom_and_reference
    dl1 = json.loads(read_provenance(custom)["IACTPIPE_DL1_CONFIG"])
    assert dl1["ImageProcessor"]["image_cleaner_type"] == "MyCleaner"
    assert dl1["ImageProcessor"]["MyCleaner"]["min_pixels"] == min_pixels
    fingerprints = [read_provenance(p)["IACTPIPE_DL1_FINGERPRINT"] for p in (custom, reference)]
    assert fingerprints[0] != fingerprints[1]


def test_custom_cleaner_drops_small_images_only(custom_and_reference):
    custom, reference, min_pixels = custom_and_reference
    both = join(_parameters(custom), _parameters(reference), keys=KEYS, table_names=["my", "sst"])
    assert len(both) == 129
    n_my, n_sst = both["morphology_n_pixels_my"], both["morphology_n_pixels_sst"]
    survived_my, survived_sst = n_my > 0, n_sst > 0
    # fewer or equal surviving images, and on this file MyCleaner really removed some
    assert np.count_nonzero(survived_my) < np.count_nonzero(survived_sst)
    assert not np.any(survived_my & ~survived_sst)

    # exactly the SSTImageCleaner images with at least min_pixels pixels survive, unchanged
    required = _min_pixels_per_telescope(np.asarray(both["tel_id"]), min_pixels)
    np.testing.assert_array_equal(survived_my, survived_sst & (n_sst >= required))
    for name in ["intensity", "length", "width", "psi"]:
        np.testing.assert_allclose(
            both[f"hillas_{name}_my"][survived_my],
            both[f"hillas_{name}_sst"][survived_my],
            rtol=1e-12,
            err_msg=name,
        )


def test_read_dl1_example(custom_and_reference, capsys):
    custom, _, _ = custom_and_reference
    table = READ_DL1["read_hillas_with_flags"](custom)
    assert len(table) == 129
    good = np.asarray(table["is_good"])
    assert 0 < np.count_nonzero(good) < len(table)
    # the default selection asks for hillas_intensity > 50 p.e.
    assert np.all(np.asarray(table["hillas_intensity"])[good] > 50)
    READ_DL1["main"](custom)
    printed = capsys.readouterr().out
    assert "hillas_intensity" in printed
    assert "is_good" in printed
