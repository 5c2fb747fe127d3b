"""The stage contracts: ctapipe's names unchanged, iactpipe's nodes in the files written,
and no node path or keyword spelt out anywhere else in the package."""

import re
from pathlib import Path

import tables
from ctapipe.io import hdf5dataformat

from iactpipe.io import dataformat
from iactpipe.io.provenance import read_provenance

SRC = Path(dataformat.__file__).resolve().parents[1]

#: a string literal starting with one of the data model's top-level groups
PATH_LITERAL = re.compile(
    r"""["'](/(r0|r1|dl0|dl1|dl2|simulation|simulation_truth|configuration|report|"""
    r"""cv_predictions)(/|["']))"""
)
#: iactpipe's keywords, HDU names and root attributes as literals
KEYWORD_LITERAL = re.compile(
    r"""["'](SELFP|CUTFP|IACTVER|GH_CUTS|THETA_CUTS|IACTPIPE_[A-Z_]+)["']"""
)


def test_ctapipe_names_are_ctapipes():
    shared = [n for n in dataformat.__all__ if hasattr(hdf5dataformat, n)]
    assert len(shared) >= 20
    for name in shared:
        assert getattr(dataformat, name) == getattr(hdf5dataformat, name), name


def test_own_names_are_distinct_absolute_paths():
    own = {
        n: getattr(dataformat, n)
        for n in dataformat.__all__
        if n.endswith(("_GROUP", "_TABLE")) and not hasattr(hdf5dataformat, n)
    }
    assert all(p.startswith("/") and not p.endswith("/") for p in own.values()), own
    ctapipe = {v for v in vars(hdf5dataformat).values() if isinstance(v, str)}
    assert len(set(own.values())) == len(own) and not set(own.values()) & ctapipe
    assert dataformat.tel_node(dataformat.DL1_TEL_PARAMETERS_GROUP, 22) == (
        "/dl1/event/telescope/parameters/tel_022"
    )
    assert dataformat.fingerprint_attribute("dl1") == dataformat.DL1_FINGERPRINT_ATTRIBUTE


def test_no_literal_outside_the_contracts_module():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "dataformat.py" and path.parent.name == "io":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if PATH_LITERAL.search(code) or KEYWORD_LITERAL.search(code):
                found.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_written_files_have_the_contract_nodes(dl3_chain):
    """A per-telescope DL1 file, a stereo DL1 and a DL2 file hold the nodes named here."""
    df = dataformat
    dl1 = dl3_chain["run_tel021"].with_name("run_tel021.dl1.h5")
    with tables.open_file(dl1) as h5:
        for node in (
            df.DL1_TEL_TRIGGER_TABLE,
            df.DL1_SUBARRAY_TRIGGER_TABLE,
            df.tel_node(df.DL1_TEL_PARAMETERS_GROUP, 21),
            df.tel_node(df.DL1_TEL_SELECTION_GROUP, 21),
            df.tel_node(df.DL0_TEL_POINTING_GROUP, 21),
            df.tel_node(df.DL1_SKY_PEDESTAL_IMAGE_GROUP, 21),
            df.DL1_IMAGE_STATISTICS_TABLE,
            df.OBSERVATION_BLOCK_TABLE,
            df.LAYOUT_TABLE,
        ):
            assert node in h5, node
    assert df.DL1_FINGERPRINT_ATTRIBUTE in read_provenance(dl1)
    with tables.open_file(dl3_chain["observation_dl1"]) as h5:
        for node in (
            df.COINCIDENCE_PAIRS_TABLE,
            df.COINCIDENCE_SUMMARY_TABLE,
            df.COINCIDENCE_INPUTS_TABLE,
            df.tel_node(df.DL1_TEL_ORIGINAL_IDS_GROUP, 22),
        ):
            assert node in h5, node
        assert df.STEREO_SUMMARY_ATTRIBUTE in h5.root._v_attrs
    with tables.open_file(dl3_chain["observation_dl2"]) as h5:
        for group in (
            df.DL2_SUBARRAY_ENERGY_GROUP,
            df.DL2_SUBARRAY_CLASSIFICATION_GROUP,
            df.DL2_SUBARRAY_GEOMETRY_GROUP,
            df.DL2_TEL_IMPACT_GROUP,
        ):
            assert group in h5 and len(h5.get_node(group)._v_children) > 0, group
