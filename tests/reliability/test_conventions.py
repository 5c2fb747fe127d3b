"""The pieces of the failure convention, one by one: configuration-time validation
(io/traits.py), one-line messages, outputs committed together (io/outputs.py), and the
README's per-telescope command-line example."""

from __future__ import annotations

import re
from pathlib import Path

import astropy.units as u
import pytest
from ctapipe.core import Component
from traitlets import TraitError

from iactpipe.image.cleaning import SSTImageCleaner
from iactpipe.instrument import sst1m_subarray
from iactpipe.io import OutputExistsError
from iactpipe.io.outputs import OutputSet, new_empty_directory_cleanup
from iactpipe.io.traits import BoundedQuantity, check_ordered
from iactpipe.tools.base import one_line
from iactpipe.tools.r0_dl1 import R0DL1Tool

README = Path(__file__).resolve().parents[2] / "README.md"


class Binning(Component):
    low = BoundedQuantity(
        default_value=1 * u.TeV, min=0 * u.TeV, exclusive_min=True, help="low"
    ).tag(config=True)
    high = BoundedQuantity(default_value=10 * u.TeV, min=0 * u.TeV, max=1 * u.PeV, help="high").tag(
        config=True
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        check_ordered(self, [("low", "high")])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"low": -1 * u.TeV}, "Binning.low = -1.0 TeV: must be > 0.0 TeV"),
        ({"low": 0 * u.TeV}, "Binning.low = 0.0 TeV: must be > 0.0 TeV"),
        ({"low": "nan TeV"}, "Binning.low = nan TeV"),
        ({"high": "2 PeV"}, "Binning.high = 2.0 PeV: must be >= 0.0 TeV and <= 1.0 PeV"),
        ({"high": "3 m"}, "Binning.high: '3 m' is not a valid quantity"),
        ({"low": "20 TeV"}, "Binning.high = 10.0 TeV must be larger than Binning.low = 20.0"),
    ],
)
def test_bad_values_name_the_option(values, message):
    with pytest.raises(TraitError) as info:
        Binning(**values)
    assert message in str(info.value)


def test_good_values_in_any_unit():
    binning = Binning(low="500 GeV", high=0.5 * u.PeV)
    assert binning.low == 0.5 * u.TeV and binning.high == 500 * u.TeV


def test_readme_per_telescope_example():
    """The README's command line parses, and gives 9 p.e. to the telescope it names."""
    (option,) = re.findall(
        r"(--SSTImageCleaner\.picture_threshold_pe=)'([^']+)'", README.read_text()
    )
    tool = R0DL1Tool()
    tool.parse_command_line(["".join(option)])
    cleaner = SSTImageCleaner(subarray=sst1m_subarray((1, 2)), parent=tool)
    assert cleaner.picture_threshold_pe.tel[1] == 8.0
    assert cleaner.picture_threshold_pe.tel[2] == 9.0


def test_hdf5_back_trace_reduced_to_its_cause():
    trace = (
        "f.h5: not a readable HDF5 file (HDF5 error back trace\n\n"
        '  File "H5F.c", line 836, in H5Fopen\n    unable to open file\n'
        '  File "H5Fsuper.c", line 435, in H5F__super_read(): truncated file: eof = 9\n\n'
        "End of HDF5 error back trace\n\nUnable to open/create file 'f.h5')"
    )
    line = one_line(trace)
    assert "\n" not in line and "H5F.c" not in line
    assert line.startswith("f.h5: not a readable HDF5 file") and "truncated file: eof = 9" in line


def test_traitlets_bound_message_rewritten():
    message = (
        "The value of the 'n_showers' trait of a ShowerGenerator instance should not be "
        "less than 1, but a value of -5 was specified"
    )
    assert one_line(message) == "ShowerGenerator.n_showers = -5: must be >= 1"


def test_outputs_committed_together(tmp_path):
    outputs = OutputSet()
    directory = outputs.directory(tmp_path / "new" / "dir")
    files = [outputs.add(directory / f"{name}.txt") for name in "ab"]
    for f in files:
        f.temporary_path.write_text("x")
    assert not any(f.path.exists() for f in files)
    assert outputs.commit() == [f.path for f in files]
    outputs.discard()  # after a commit: keeps everything
    assert all(f.path.read_text() == "x" for f in files)
    with pytest.raises(OutputExistsError):
        OutputSet().add(files[0].path)


def test_failed_run_leaves_nothing(tmp_path):
    outputs = OutputSet()
    directory = outputs.directory(tmp_path / "new" / "dir")
    outputs.add(directory / "a.txt").temporary_path.write_text("x")
    outputs.discard()
    assert list(tmp_path.iterdir()) == []


def test_new_empty_directories_removed(tmp_path):
    (tmp_path / "lib" / "old").mkdir(parents=True)
    cleanup = new_empty_directory_cleanup(tmp_path / "lib")
    (tmp_path / "lib" / "zd20" / "geff0.7").mkdir(parents=True)
    (tmp_path / "lib" / "kept").mkdir()
    (tmp_path / "lib" / "kept" / "file").write_text("x")
    cleanup()
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == ["kept", "old"]
