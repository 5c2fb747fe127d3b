"""
Every tool against the failure classes of issue 18: bad numbers, missing files, corrupt
inputs, the wrong input kind, a read-only output directory, and a failure among several
inputs. Each case: exit code 2, exactly one ERROR line naming the option or file (no
CRITICAL line, no back trace), and no new file in the output directory (hidden ones
included). In-process through ``run_tool``; one case as a real process proves the exit code
and stderr the shell sees.
"""

from __future__ import annotations

import pytest

from .conftest import assert_failure, read_only, run_failing, run_subprocess

OUT_H5 = "{out}/x.h5"

# (class/case, tool, argv, words in the ERROR line); every case exits with 2
CASES = [
    # ------------------------------------------------------------------ bad numbers
    (
        "numbers/simulate-n",
        "simulate",
        ["-n", "-5", "-o", OUT_H5],
        ["ShowerGenerator.n_showers", "-5", ">= 1"],
    ),
    (
        "numbers/simulate-duration",
        "simulate",
        ["--mode", "observation", "--duration", "-3 s", "-o", OUT_H5],
        ["ObservationRun.duration", "-3"],
    ),
    (
        "numbers/simulate-duration-nan",
        "simulate",
        ["--mode", "observation", "--duration", "nan s", "-o", OUT_H5],
        ["ObservationRun.duration", "nan"],
    ),
    (
        "numbers/simulate-duration-unit",
        "simulate",
        ["--mode", "observation", "--duration", "3 m", "-o", OUT_H5],
        ["ObservationRun.duration", "time"],
    ),
    (
        "numbers/simulate-energy-range",
        "simulate",
        ["--ShowerGenerator.energy_min=200 TeV", "-o", OUT_H5],
        ["ShowerGenerator.energy_max", "ShowerGenerator.energy_min"],
    ),
    (
        "numbers/simulate-nsb-bank",
        "simulate",
        ["--CameraResponse.nsb_bank_samples=64", "-o", OUT_H5],
        ["CameraResponse.nsb_bank_samples", "64", "70 samples"],
    ),
    (
        "numbers/r0-dl1-max-events",
        "r0-dl1",
        ["-i", "{r1}", "-o", OUT_H5, "-m", "-1"],
        ["EventSource.max_events", "-1"],
    ),
    (
        "numbers/r0-dl1-threshold",
        "r0-dl1",
        ["-i", "{r1}", "-o", OUT_H5, "--SSTImageCleaner.picture_threshold_pe=-3"],
        ["SSTImageCleaner.picture_threshold_pe", "-3"],
    ),
    (
        "numbers/r0-dl1-threshold-pattern",
        "r0-dl1",
        [
            "-i",
            "{r1}",
            "-o",
            OUT_H5,
            '--SSTImageCleaner.boundary_threshold_pe=[["type", "*", 4], ["id", 22, -1]]',
        ],
        ["SSTImageCleaner.boundary_threshold_pe", "-1"],
    ),
    (
        "numbers/dl1-stereo-chunk",
        "dl1-stereo",
        ["-i", "{mono21}", "-i", "{mono22}", "-o", OUT_H5, "--DL1StereoTool.chunk_size=0"],
        ["DL1StereoTool.chunk_size", "0"],
    ),
    (
        "numbers/train-n-0",
        "train",
        ["-g", "{mc_dl1}", "-p", "{proton_dl1}", "-o", "{out}/models", "-n", "0"],
        ["ModelTrainer.n_events", ">= 1"],
    ),
    (
        "numbers/train-model-class",
        "train",
        [
            "-g",
            "{mc_dl1}",
            "-p",
            "{proton_dl1}",
            "-o",
            "{out}/models",
            "--RecoModel.model_cls=NoSuchForest",
        ],
        ["model_cls", "NoSuchForest"],
    ),
    (
        "numbers/irf-energy-bins",
        "irf",
        [
            "-g",
            "{mc_dl2}",
            "-o",
            "{out}/irfs",
            "--IRFMaker.true_energy_min=100 TeV",
            "--IRFMaker.true_energy_max=1 TeV",
        ],
        ["IRFMaker.true_energy_max", "IRFMaker.true_energy_min"],
    ),
    (
        "numbers/irf-containment",
        "irf",
        ["-g", "{mc_dl2}", "-o", "{out}/irfs", "--theta-containment", "1.5"],
        ["theta_containment", "1.5"],
    ),
    (
        "numbers/performance-obs-time",
        "performance",
        ["-g", "{mc_dl2}", "-o", "{out}/p.fits", "--PerformanceMaker.obs_time=-1 h"],
        ["PerformanceMaker.obs_time"],
    ),
    (
        "numbers/dl2-dl3-efficiency",
        "dl2-dl3",
        ["-i", "{dl2}", "--irfs", "{irfs}", "-o", "{out}/dl3", "--gamma-efficiency", "1.5"],
        ["gamma_efficiency", "1.5"],
    ),
    (
        "numbers/analysis-energy-bins",
        "analysis",
        [
            "-i",
            "{dl3}",
            "-o",
            "{out}/an",
            "-t",
            "Crab",
            "--SpectrumAnalysis.energy_min=50 TeV",
            "--SpectrumAnalysis.energy_max=5 TeV",
        ],
        ["SpectrumAnalysis.energy_max", "SpectrumAnalysis.energy_min"],
    ),
    (
        "numbers/analysis-theta-nan",
        "analysis",
        ["-i", "{dl3}", "-o", "{out}/an", "-t", "Crab", "--SpectrumAnalysis.theta_cut=nan deg"],
        ["SpectrumAnalysis.theta_cut", "nan"],
    ),
    (
        "numbers/dqm-rate-bin",
        "dqm",
        ["-i", "{mono21}", "-o", "{out}/dqm", "--rate-bin", "-1"],
        ["rate_bin_s", "-1"],
    ),
    # ------------------------------------------------------ missing files, bad options
    (
        "missing/config-file",
        "simulate",
        ["--config", "{missing}.yaml", "-o", OUT_H5],
        ["{missing}.yaml", "does not exist"],
    ),
    (
        "missing/config-not-yaml",
        "simulate",
        ["--config", "{bad_yaml}", "-o", OUT_H5],
        ["{bad_yaml}", "cannot read the config file"],
    ),
    (
        "missing/unknown-option",
        "simulate",
        ["--ShowerGenerator.no_such_option=3", "-o", OUT_H5],
        ["no_such_option"],
    ),
    ("missing/r0-dl1", "r0-dl1", ["-i", "{missing}.h5", "-o", OUT_H5], ["{missing}.h5"]),
    (
        "missing/dl1-stereo",
        "dl1-stereo",
        ["-i", "{missing}.h5", "-i", "{mono22}", "-o", OUT_H5],
        ["{missing}.h5"],
    ),
    ("missing/train", "train", ["-g", "{missing}.h5", "-o", "{out}/models"], ["{missing}.h5"]),
    (
        "missing/dl1-dl2",
        "dl1-dl2",
        ["-i", "{missing}.h5", "-m", "{models}", "-o", OUT_H5],
        ["{missing}.h5"],
    ),
    ("missing/irf", "irf", ["-g", "{missing}.h5", "-o", "{out}/irfs"], ["{missing}.h5"]),
    (
        "missing/performance",
        "performance",
        ["-g", "{missing}.h5", "-o", "{out}/p.fits"],
        ["{missing}.h5"],
    ),
    (
        "missing/dl2-dl3",
        "dl2-dl3",
        ["-i", "{missing}.h5", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{missing}.h5"],
    ),
    ("missing/index", "index", ["-d", "{missing}"], ["{missing}"]),
    (
        "missing/analysis",
        "analysis",
        ["-i", "{missing}", "-o", "{out}/an", "-t", "Crab"],
        ["{missing}"],
    ),
    ("missing/dqm", "dqm", ["-i", "{missing}.h5", "-o", "{out}/dqm"], ["{missing}.h5"]),
    (
        "missing/chain-config",
        "chain",
        ["--config", "{missing}.yaml", "-o", "{out}/chain"],
        ["{missing}.yaml", "does not exist"],
    ),
    ("missing/quickstart-dir", "quickstart", ["--output-dir", "{missing}"], ["{missing}"]),
    # ------------------------------------------------------------------ corrupt inputs
    ("corrupt/r0-dl1", "r0-dl1", ["-i", "{junk_h5}", "-o", OUT_H5], ["{junk_h5}"]),
    (
        "corrupt/dl1-stereo",
        "dl1-stereo",
        ["-i", "{junk_h5}", "-i", "{mono22}", "-o", OUT_H5],
        ["{junk_h5}", "not a readable HDF5 file"],
    ),
    ("corrupt/train", "train", ["-g", "{truncated_h5}", "-o", "{out}/models"], ["{truncated_h5}"]),
    (
        "corrupt/dl1-dl2",
        "dl1-dl2",
        ["-i", "{truncated_h5}", "-m", "{models}", "-o", OUT_H5],
        ["{truncated_h5}", "truncated"],
    ),
    (
        "corrupt/irf",
        "irf",
        ["-g", "{truncated_h5}", "-o", "{out}/irfs"],
        ["{truncated_h5}", "truncated"],
    ),
    (
        "corrupt/irf-junk",
        "irf",
        ["-g", "{junk_h5}", "-o", "{out}/irfs"],
        ["{junk_h5}", "not a readable HDF5 file"],
    ),
    (
        "corrupt/performance",
        "performance",
        ["-g", "{junk_h5}", "-o", "{out}/p.fits"],
        ["{junk_h5}", "not a readable HDF5 file"],
    ),
    (
        "corrupt/dl2-dl3",
        "dl2-dl3",
        ["-i", "{truncated_h5}", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{truncated_h5}", "truncated"],
    ),
    (
        "corrupt/dl2-dl3-junk",
        "dl2-dl3",
        ["-i", "{junk_h5}", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{junk_h5}", "not a readable HDF5 file"],
    ),
    ("corrupt/index", "index", ["-d", "{bad_dl3}"], ["dl3_", "not a readable FITS file"]),
    (
        "corrupt/analysis",
        "analysis",
        ["-i", "{bad_dl3}", "-o", "{out}/an", "-t", "Crab"],
        ["dl3_", "not a readable FITS file"],
    ),
    ("corrupt/dqm", "dqm", ["-i", "{junk_h5}", "-o", "{out}/dqm"], ["{junk_h5}"]),
    # ------------------------------------------------------------------ wrong input kind
    ("kind/r0-dl1-dl2", "r0-dl1", ["-i", "{dl2}", "-o", OUT_H5], ["{dl2}"]),
    (
        "kind/dl1-stereo-r1-keep-mono",
        "dl1-stereo",
        ["-i", "{r1}", "-i", "{r1_22}", "--keep-mono", "-o", OUT_H5],
        ["{r1}", "not a DL1 file", "R1"],
    ),
    ("kind/train-r1", "train", ["-g", "{r1}", "-o", "{out}/models"], ["{r1}", "DL1"]),
    (
        "kind/dl1-dl2-r1",
        "dl1-dl2",
        ["-i", "{r1}", "-m", "{models}", "-o", OUT_H5],
        ["{r1}", "not a DL1 file"],
    ),
    ("kind/irf-dl1", "irf", ["-g", "{mc_dl1}", "-o", "{out}/irfs"], ["{mc_dl1}", "DL2"]),
    (
        "kind/performance-dl1",
        "performance",
        ["-g", "{mc_dl1}", "-o", "{out}/p.fits"],
        ["{mc_dl1}", "DL2"],
    ),
    (
        "kind/dl2-dl3-dl1",
        "dl2-dl3",
        ["-i", "{dl1}", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{dl1}", "DL2 columns", "missing"],
    ),
    (
        "kind/dl2-dl3-r1",
        "dl2-dl3",
        ["-i", "{r1}", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{r1}", "not a DL2 file", "R1"],
    ),
    (
        "kind/dl2-dl3-mc",
        "dl2-dl3",
        ["-i", "{mc_dl2}", "--irfs", "{irfs}", "-o", "{out}/d"],
        ["{mc_dl2}", "simulated"],
    ),
    (
        "kind/analysis-not-dl3",
        "analysis",
        ["-i", "{models}", "-o", "{out}/an", "-t", "Crab"],
        ["{models}", "DL3"],
    ),
    # ------------------------------------------------- a failure among several inputs
    (
        "multi/dl1-dl2-output-dir",
        "dl1-dl2",
        ["-i", "{dl1}", "-i", "{dl2}", "-m", "{models}", "--output-dir", "{out}"],
        ["{dl2}", "already holds DL2"],
    ),
    (
        "multi/dl2-dl3",
        "dl2-dl3",
        ["-i", "{dl2}", "-i", "{mc_dl2}", "--irfs", "{irfs}", "-o", "{out}/dl3"],
        ["{mc_dl2}", "simulated"],
    ),
]

# a read-only output directory ({ro}, see conftest.read_only)
READ_ONLY_CASES = [
    (
        "readonly/dl1-dl2",
        "dl1-dl2",
        ["-i", "{dl1}", "-m", "{models}", "--output-dir", "{ro}"],
        ["{ro}"],
    ),
    ("readonly/irf", "irf", ["-g", "{mc_dl2}", "-o", "{ro}/irfs"], ["{ro}", "not writable"]),
    (
        "readonly/dl2-dl3",
        "dl2-dl3",
        ["-i", "{dl2}", "--irfs", "{irfs}", "-o", "{ro}/dl3"],
        ["{ro}", "not writable"],
    ),
    (
        "readonly/analysis",
        "analysis",
        ["-i", "{dl3}", "-o", "{ro}/an", "-t", "Crab"],
        ["{ro}", "not writable"],
    ),
    ("readonly/dqm", "dqm", ["-i", "{mono21}", "-o", "{ro}/dqm"], ["{ro}", "not writable"]),
    (
        "readonly/dl1-stereo",
        "dl1-stereo",
        ["-i", "{mono21}", "-i", "{mono22}", "-o", "{ro}/x.h5"],
        ["{ro}", "not writable"],
    ),
    (
        "readonly/train",
        "train",
        ["-g", "{mc_dl1}", "-p", "{proton_dl1}", "-o", "{ro}/models"],
        ["{ro}", "not writable"],
    ),
    (
        "readonly/performance",
        "performance",
        ["-g", "{mc_dl2}", "-o", "{ro}/p.fits"],
        ["{ro}", "not writable"],
    ),
    ("readonly/quickstart", "quickstart", ["--output-dir", "{ro}"], ["{ro}", "not writable"]),
    ("readonly/simulate", "simulate", ["-n", "5", "-o", "{ro}/x.h5"], ["{ro}", "not writable"]),
    ("readonly/r0-dl1", "r0-dl1", ["-i", "{r1}", "-o", "{ro}/x.h5"], ["{ro}", "not writable"]),
]


def _values(files, out):
    chain = files["irfs"].parent
    return {
        **{k: str(v) for k, v in files.items()},
        "out": str(out),
        "ro": str(out / "ro"),
        "missing": str(out.parent / "no_such_file"),
        "r1_22": str(files["r1"].with_name("run_tel022.h5")),
        "mono21": str(chain / "run_tel021.dl1.h5"),
        "mono22": str(chain / "run_tel022.dl1.h5"),
    }


def _format(items, values):
    return [item.format(**values) for item in items]


@pytest.mark.parametrize(
    ("tool", "argv", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(tool, argv, words, reliability_files, case_dirs, capsys):
    out, cwd = case_dirs
    values = _values(reliability_files, out)
    code, stderr = run_failing(tool, _format(argv, values), out, cwd, capsys)
    assert_failure(code, stderr, 2, _format(words, values))


@pytest.mark.parametrize(
    ("tool", "argv", "words"),
    [c[1:] for c in READ_ONLY_CASES],
    ids=[c[0] for c in READ_ONLY_CASES],
)
def test_read_only_output(tool, argv, words, reliability_files, case_dirs, capsys):
    out, cwd = case_dirs
    values = _values(reliability_files, out)
    (out / "ro").mkdir()
    with read_only(out / "ro"):
        code, stderr = run_failing(tool, _format(argv, values), out, cwd, capsys)
    assert_failure(code, stderr, 2, _format(words, values))


def test_exit_code_as_process(reliability_files, case_dirs):
    """A missing config file was exit 1 with two CRITICAL lines from traitlets: now exit 2
    and one ERROR line naming the file, in the real process."""
    out, cwd = case_dirs
    missing = out.parent / "no_such_file.yaml"
    code, stderr = run_subprocess(
        "simulate", ["--config", str(missing), "-o", str(out / "x.h5")], cwd
    )
    assert_failure(code, stderr, 2, [str(missing), "does not exist"])
    assert list(out.iterdir()) == []
