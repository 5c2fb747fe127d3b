"""iactpipe-r0-dl1: equality with ctapipe-process, selection flags, errors, fingerprint."""

import gc
import json
import shutil

import numpy as np
import pytest
import tables
from astropy.table import join
from ctapipe.core import run_tool
from ctapipe.io import EventSource, TableLoader, read_table
from ctapipe.tools.process import ProcessorTool

from iactpipe.batch import (
    BatchEventsDL1Engine,
    BatchTablesDL1Engine,
    CtapipeDL1Engine,
    DL1Engine,
)
from iactpipe.batch.engines import engine_class
from iactpipe.io import read_provenance
from iactpipe.tools.r0_dl1 import R0DL1Tool

EXTRACTION = [
    "--CameraCalibrator.image_extractor_type=LocalPeakWindowSum",
    "--LocalPeakWindowSum.window_width=7",
    "--LocalPeakWindowSum.window_shift=3",
    "--LocalPeakWindowSum.apply_integration_correction=True",
]
TAILCUTS = [
    "--ImageProcessor.image_cleaner_type=TailcutsImageCleaner",
    "--TailcutsImageCleaner.picture_threshold_pe=8",
    "--TailcutsImageCleaner.boundary_threshold_pe=4",
    "--TailcutsImageCleaner.min_picture_neighbors=2",
]
HILLAS = ["intensity", "fov_lon", "fov_lat", "r", "phi", "length", "width", "psi"]


def run_r0_dl1(argv, cwd):
    return run_tool(R0DL1Tool(), argv=argv, cwd=cwd, raises=False)


@pytest.fixture(scope="session")
def prod4_dl1_pair(prod4_sst1m_path, tmp_path_factory):
    """The prod4 file through iactpipe-r0-dl1 and ctapipe-process, tailcuts 8/4 in both."""
    tmp = tmp_path_factory.mktemp("prod4_dl1")
    ours, peer = tmp / "iactpipe.dl1.h5", tmp / "ctapipe.dl1.h5"
    argv = [f"--input={prod4_sst1m_path}", *EXTRACTION, *TAILCUTS]
    assert run_r0_dl1([*argv, f"--output={ours}"], tmp) == 0
    assert run_tool(ProcessorTool(), argv=[*argv, f"--output={peer}"], cwd=tmp) == 0
    return ours, peer


def _parameters(path):
    with TableLoader(path) as loader:
        return loader.read_telescope_events(dl1_parameters=True, dl1_images=False)


def test_hillas_equals_ctapipe_process(prod4_dl1_pair):
    ours, peer = (_parameters(p) for p in prod4_dl1_pair)
    assert len(ours) == len(peer) == 129
    both = join(ours, peer, keys=["obs_id", "event_id", "tel_id"], table_names=["i", "c"])
    assert len(both) == 129
    n_valid = np.count_nonzero(np.isfinite(both["hillas_intensity_c"]))
    assert n_valid > 50
    for name in HILLAS:
        a, b = both[f"hillas_{name}_i"], both[f"hillas_{name}_c"]
        np.testing.assert_allclose(a, b, rtol=1e-6, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(both["morphology_n_pixels_i"], both["morphology_n_pixels_c"])


def test_simulation_truth_written(prod4_dl1_pair):
    ours, _ = prod4_dl1_pair
    with TableLoader(ours) as loader:
        events = loader.read_subarray_events(simulated=True)
    assert len(events) == 31
    assert np.all(events["true_energy"].quantity.to_value("TeV") > 0.2)
    with tables.open_file(ours) as h5:
        assert "/simulation/service/shower_distribution" in h5


def test_selection_flags_match_parameters(prod4_dl1_pair):
    ours, _ = prod4_dl1_pair
    with tables.open_file(ours) as h5:
        names = list(h5.root.dl1.event.telescope.selection._v_children)
    assert names
    for name in names:
        flags = read_table(ours, f"/dl1/event/telescope/selection/{name}")
        pars = read_table(ours, f"/dl1/event/telescope/parameters/{name}")
        with np.errstate(invalid="ignore"):
            expected = (
                (pars["hillas_intensity"] > 50)
                & (pars["hillas_width"].value > 0)
                & (pars["hillas_length"].value > 0)
                & (pars["leakage_intensity_width_2"] < 0.2)
            )
        np.testing.assert_array_equal(flags["event_id"], pars["event_id"])
        np.testing.assert_array_equal(flags["is_good"], expected)


def test_provenance_and_fingerprint(prod4_dl1_pair, prod4_sst1m_path, tmp_path):
    ours, _ = prod4_dl1_pair
    prov = read_provenance(ours)
    assert prov["IACTPIPE_TOOL"] == "iactpipe-r0-dl1"
    dl1 = json.loads(prov["IACTPIPE_DL1_CONFIG"])
    assert dl1["LocalPeakWindowSum"]["window_width"] == [["type", "*", 7]]
    # one changed cleaning threshold must change the fingerprint, nothing else may
    outputs = {}
    for threshold in (8, 8, 9):
        out = tmp_path / f"fp_{len(outputs)}.h5"
        argv = [
            f"--input={prod4_sst1m_path}",
            f"--output={out}",
            "--max-events=3",
            f"--SSTImageCleaner.picture_threshold_pe={threshold}",
        ]
        assert run_r0_dl1(argv, tmp_path) == 0
        outputs[out] = read_provenance(out)["IACTPIPE_DL1_FINGERPRINT"]
    first, same, changed = outputs.values()
    assert first == same != changed


def test_existing_output_needs_overwrite(prod4_sst1m_path, tmp_path):
    out = tmp_path / "exists.h5"
    out.write_bytes(b"precious")
    argv = [f"--input={prod4_sst1m_path}", f"--output={out}", "--max-events=2"]
    assert run_r0_dl1(argv, tmp_path) == 2
    assert out.read_bytes() == b"precious"
    assert run_r0_dl1([*argv, "--overwrite"], tmp_path) == 0
    assert tables.is_hdf5_file(out)


def _assert_clean_failure(argv, tmp_path, capsys, words):
    """Non-zero exit, one ERROR line naming the problem, no output and no partial file."""
    out = tmp_path / "out.h5"
    assert run_r0_dl1([*argv, f"--output={out}"], tmp_path) != 0
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert "Traceback" not in "\n".join(errors)
    assert any(all(w in e for w in words) for e in errors), errors


def test_missing_input(tmp_path, capsys):
    missing = tmp_path / "nope.simtel.zst"
    _assert_clean_failure([f"--input={missing}"], tmp_path, capsys, [str(missing), "not exist"])


def test_unreadable_input(tmp_path, capsys):
    junk = tmp_path / "junk.simtel.gz"
    junk.write_bytes(b"this is not a sim_telarray file" * 10)
    _assert_clean_failure([f"--input={junk}"], tmp_path, capsys, [str(junk), "not a readable"])


def test_unknown_telescope(prod4_sst1m_path, tmp_path, capsys):
    argv = [f"--input={prod4_sst1m_path}", "--allowed-tels=999"]
    _assert_clean_failure(argv, tmp_path, capsys, ["999"])


def test_zero_events(prod4_sst1m_path, tmp_path, capsys):
    # telescope 40 of the prod4 array sees none of the 31 showers
    argv = [f"--input={prod4_sst1m_path}", "--allowed-tels=40"]
    _assert_clean_failure(argv, tmp_path, capsys, [prod4_sst1m_path.name, "no telescope events"])


def test_help_all_lists_components(capsys):
    with pytest.raises(SystemExit) as exit_info:
        R0DL1Tool().run(["--help-all"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in ("SSTImageCleaner", "LocalPeakWindowSum", "DL1EventSelection", "DataWriter"):
        assert f"--{name}." in text, name


def test_command_line_overrides_sst1m_defaults(prod4_sst1m_path, tmp_path):
    out = tmp_path / "override.h5"
    argv = [
        f"--input={prod4_sst1m_path}",
        f"--output={out}",
        "--max-events=2",
        "--LocalPeakWindowSum.window_width=5",
    ]
    assert run_r0_dl1(argv, tmp_path) == 0
    dl1 = json.loads(read_provenance(out)["IACTPIPE_DL1_CONFIG"])
    assert dl1["LocalPeakWindowSum"]["window_width"] == [["type", "*", 5]]
    # the defaults not overridden stay in force
    assert dl1["LocalPeakWindowSum"]["window_shift"] == [["type", "*", 3]]
    assert dl1["ImageProcessor"]["image_cleaner_type"] == "SSTImageCleaner"


def test_show_config_shows_defaults(capsys):
    assert run_tool(R0DL1Tool(), argv=["--show-config"], raises=False) == 0
    out = capsys.readouterr().out
    assert "LocalPeakWindowSum" in out
    assert "SSTImageCleaner" in out


@pytest.fixture(scope="module")
def small_r1(tmp_path_factory, request):
    from iactpipe.tools.simulate import SimulateTool

    tmp = tmp_path_factory.mktemp("r0_dl1_batch")
    path = tmp / "gamma.r1.h5"
    config = request.config.rootpath / "data_configs" / "simulate_mc_gamma.yaml"
    argv = [f"--config={config}", "-n", "150", f"--output={path}"]
    assert run_tool(SimulateTool(), argv, cwd=tmp) == 0
    return path


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("--CameraCalibrator.image_extractor_type=FixedWindowSum", ["FixedWindowSum"]),
        ("--image-cleaner-type=MARSImageCleaner", ["MARSImageCleaner"]),
        ("--write-images", ["write_dl1_images"]),
        (
            "--CameraCalibrator.data_volume_reducer_type=TailCutsDataVolumeReducer",
            ["data volume reducer"],
        ),
    ],
)
def test_batch_engine_refuses_what_it_cannot_reproduce(small_r1, tmp_path, capsys, option, words):
    argv = [f"--input={small_r1}", "--engine=batch", option]
    _assert_clean_failure(argv, tmp_path, capsys, ["--engine=batch", *words])


def test_help_all_lists_engine(capsys):
    assert run_tool(R0DL1Tool(), ["--help-all"]) == 0
    out = capsys.readouterr().out
    assert "--R0DL1Tool.engine" in out and "--R0DL1Tool.chunk_size" in out
    assert "'batch'" in out or "batch" in out.split("--R0DL1Tool.engine")[1][:400]


def _corrupt_a_chunk(small_r1, tmp_path):
    """A copy of ``small_r1`` with a bit flipped in the second stored chunk of tel 1's R1."""
    corrupted = tmp_path / "corrupted.r1.h5"
    shutil.copy(small_r1, corrupted)
    with tables.open_file(corrupted) as h5:
        table = h5.root.r1.event.telescope.tel_001
        rows = table.chunkshape[0]
        info = table.chunk_info((rows,))
    with open(corrupted, "r+b") as f:
        f.seek(info.offset + 1000)
        byte = f.read(1)[0]
        f.seek(info.offset + 1000)
        f.write(bytes([byte ^ 1]))
    return corrupted, rows


def test_batch_engine_reports_a_corrupted_chunk(small_r1, tmp_path, capsys):
    """A flipped bit in a stored R1 chunk fails the Fletcher-32 check: one line naming the
    file, the table and the rows; exit 2; no output."""
    corrupted, rows = _corrupt_a_chunk(small_r1, tmp_path)
    argv = [f"--input={corrupted}", "--engine=batch"]
    words = [str(corrupted), "tel_001", f"rows {rows}-{2 * rows - 1}", "Fletcher-32"]
    _assert_clean_failure(argv, tmp_path, capsys, words)


def test_per_event_engine_reports_a_corrupted_chunk(small_r1, tmp_path, capsys):
    """HDF5's own check, through the event source: one line with its cause, not the
    library's back trace."""
    corrupted, _ = _corrupt_a_chunk(small_r1, tmp_path)
    out = tmp_path / "out.h5"
    argv = [f"--input={corrupted}", f"--output={out}", "--engine=ctapipe"]
    assert run_r0_dl1(argv, tmp_path) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if str(corrupted) in line]
    assert "read error after" in line and "filter returned failure during read" in line
    assert "H5Dchunk.c" not in err


@pytest.fixture(scope="module")
def extra_trait_cleaner():
    """An SSTImageCleaner subclass with one more setting (gone from the registry after)."""
    from ctapipe.core.traits import FloatTelescopeParameter

    from iactpipe.image import SSTImageCleaner

    class ExtraTraitSSTImageCleaner(SSTImageCleaner):
        extra_threshold_pe = FloatTelescopeParameter(
            default_value=1.0, help="A setting no batch kernel knows"
        ).tag(config=True)

    yield ExtraTraitSSTImageCleaner.__name__
    del ExtraTraitSSTImageCleaner
    gc.collect()


@pytest.mark.parametrize("engine", sorted(DL1Engine.non_abstract_subclasses()))
def test_engine_contract(engine, small_r1, tmp_path, capsys, extra_trait_cleaner, request):
    """
    Every DL1Engine is chosen by its class name; its declarations name real traits;
    given a cleaner subclass with a trait it does not declare, it refuses it at set-up
    (exit 2, one line naming the component, the trait and the engine) or, declaring
    every trait (the reference), honours it. (That the engines write the reference's
    tables: tests/batch/test_engine.py.)
    """
    cls = DL1Engine.non_abstract_subclasses()[engine]
    for component, names in (cls.reproduced_traits or {}).items():
        assert names <= set(component.class_trait_names(config=True)), component
    path = small_r1
    with EventSource(small_r1) as source:
        if cls.unreadable(source) is not None:  # the zfits engine
            path = request.config.rootpath / "../shared/data/r0_zfits/example_10_evts.000.fits.fz"
            if not path.exists():
                pytest.skip(f"{path} not present: real external test data lives in ../shared/data")
    argv = [f"--input={path}", f"--output={tmp_path / 'out.h5'}", f"--engine={engine}"]
    cleaner = f"--image-cleaner-type={extra_trait_cleaner}"
    honours = cls.reproduced_traits is None
    with R0DL1Tool() as tool:
        tool.initialize([*argv, cleaner] if honours else argv)
        tool.setup()
        assert type(tool.dl1_engine) is cls
        expected = extra_trait_cleaner if honours else "SSTImageCleaner"
        assert type(tool.dl1_engine.process_images.clean).__name__ == expected
    assert not list(tmp_path.glob("*out.h5*"))
    if not honours:
        assert run_r0_dl1([*argv, cleaner], tmp_path) == 2
        assert not list(tmp_path.glob("*out.h5*"))
        errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
        (line,) = [e for e in errors if extra_trait_cleaner in e]
        assert all(w in line for w in ["extra_threshold_pe", engine, "--engine="]), line


def test_engine_aliases(small_r1):
    """--engine=batch reads the R1 tables of a simulated HDF5 file, else the events."""
    with EventSource(small_r1) as source:
        assert engine_class("batch", source) is BatchTablesDL1Engine
        assert engine_class("ctapipe", source) is CtapipeDL1Engine
    with EventSource(small_r1, allowed_tels={1}) as source:
        assert engine_class("batch", source) is BatchEventsDL1Engine
        assert "allowed_tels" in BatchTablesDL1Engine.unreadable(source)


def test_unknown_engine(small_r1, tmp_path, capsys):
    """An unknown engine name is a configuration error listing the names (traitlets')."""
    out = tmp_path / "out.h5"
    argv = [f"--input={small_r1}", "--engine=warp", f"--output={out}"]
    assert run_r0_dl1(argv, tmp_path) != 0
    assert not out.exists()
    err = capsys.readouterr().err
    assert "'warp'" in err and "BatchTablesDL1Engine" in err and "Traceback" not in err
