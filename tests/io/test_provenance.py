"""Config fingerprints: stable under reordering, sensitive to any value."""

import json

import tables
from ctapipe.image import TailcutsImageCleaner
from traitlets.config import Config

from iactpipe import __version__
from iactpipe.instrument import sst1m_subarray
from iactpipe.io import config_fingerprint, effective_config, read_provenance, write_provenance


def test_fingerprint_ignores_key_order_not_values():
    a = {"X": {"a": 1, "b": [["type", "*", 8.0]]}, "Y": {"c": "s"}}
    b = {"Y": {"c": "s"}, "X": {"b": [["type", "*", 8.0]], "a": 1}}
    changed = {"X": {"a": 1, "b": [["type", "*", 8.5]]}, "Y": {"c": "s"}}
    assert config_fingerprint(a) == config_fingerprint(b)
    assert config_fingerprint(a) != config_fingerprint(changed)


def test_effective_config_includes_defaults_and_telescope_parameters():
    subarray = sst1m_subarray()
    cleaner = TailcutsImageCleaner(
        subarray=subarray, config=Config({"TailcutsImageCleaner": {"picture_threshold_pe": 9.0}})
    )
    config = effective_config([cleaner])["TailcutsImageCleaner"]
    assert config["picture_threshold_pe"] == [["type", "*", 9.0]]
    assert config["boundary_threshold_pe"] == [["type", "*", 5.0]]  # ctapipe default
    json.dumps(config)  # serialisable


def test_write_and_read_back(tmp_path):
    path = tmp_path / "f.h5"
    with tables.open_file(path, "w"):
        pass
    dl1 = {"Cleaner": {"threshold": 8}}
    written = write_provenance(path, "iactpipe-test", {"T": {"x": 1}}, {"DL1": dl1})
    read = read_provenance(path)
    assert read == written
    assert read["IACTPIPE_VERSION"] == __version__
    assert read["IACTPIPE_DL1_FINGERPRINT"] == config_fingerprint(dl1)
    assert json.loads(read["IACTPIPE_DL1_CONFIG"]) == dl1
