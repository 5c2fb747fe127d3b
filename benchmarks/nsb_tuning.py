"""
Benchmark: MC tuned to moonlit nights (issue 21).

Toy "data": observation runs (interleaved pedestal events) simulated at 250 and 500 MHz
NSB per pixel; MC: gammas simulated dark (40 MHz). For each moon level:

1. ``iactpipe-tune-mc`` derives the extra NSB rate from the data's pedestal spread;
2. the tuning applied to a dark observation run (the MC camera with pedestal events):
   its pedestal spread vs the data's (goal: within 3 %);
3. the dark MC gammas through ``iactpipe-r0-dl1`` with the tuning (waveform level),
   with lstchain's image-level approach (ctapipe's ``ImageModifier``: Poisson noise
   added to the extracted image, before cleaning) and untuned, against the same gammas
   simulated directly at the moon level (same seed: the same showers and true images);
   Hillas intensity, width and length after cleaning (tailcuts 10/5 at 250 MHz, 14/7
   at 500 MHz; intensity > 50 p.e.): two-sample Kolmogorov-Smirnov tests, their power
   to see a 5 % shift (bootstrap) and the sample size at which it reaches 80 %, and
   the median paired ratio per event (matched by event id) with its bootstrap error
   and the power of that paired test to see a 5 % shift.

Run: ``nice -n 5 .venv/bin/python benchmarks/nsb_tuning.py [workdir] [n_showers]``;
prints a table (the numbers in docs/calibration.rst) and writes ``results.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import tables
from ctapipe.io import read_table
from scipy.stats import ks_2samp, norm

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
MOON_MHZ = (250.0, 500.0)
DARK_MHZ = 40.0
#: tailcuts (picture, boundary) per moon level: about 5 times the pedestal std at 250 MHz
#: (2.0 p.e.), 14/7 at 500 MHz (2.7 p.e.; 10/5 leaves images dominated by noise islands)
THRESHOLDS = {250.0: (10, 5), 500.0: (14, 7)}


def cleaning(moon_mhz: float) -> list[str]:
    picture, boundary = THRESHOLDS[moon_mhz]
    return [
        "--ImageProcessor.image_cleaner_type=TailcutsImageCleaner",
        f"--TailcutsImageCleaner.picture_threshold_pe={picture}",
        f"--TailcutsImageCleaner.boundary_threshold_pe={boundary}",
        "--TailcutsImageCleaner.min_picture_neighbors=2",
    ]


COLUMNS = ("hillas_intensity", "hillas_width", "hillas_length")
PEDESTAL = "/dl1/monitoring/telescope/calibration/camera/pixel_statistics/sky_pedestal_image"


def run(*argv) -> None:
    print("$", " ".join(str(a) for a in argv), flush=True)
    subprocess.run([str(a) for a in argv], check=True, stdout=subprocess.DEVNULL)


def camera(rate_mhz: float) -> list[str]:
    if rate_mhz == DARK_MHZ:
        return ["--CameraResponse.nsb_condition=dark"]
    return ["--CameraResponse.nsb_condition=moon", f"--CameraResponse.nsb_rate_moon_mhz={rate_mhz}"]


def simulate_observation(work: Path, rate_mhz: float) -> Path:
    """A 2 s run with 50 Hz pedestal events (100 per telescope), R1 -> DL1 of tel 21."""
    r1 = work / f"obs_{rate_mhz:.0f}.r1.h5"
    dl1 = work / f"obs_{rate_mhz:.0f}.dl1.h5"
    if not dl1.exists():
        run(
            BIN / "iactpipe-simulate",
            f"--config={ROOT / 'data_configs/simulate_observation.yaml'}",
            "--ObservationRun.duration=2 s",
            "--ToySimulationSource.pedestal_rate=50 Hz",
            # the pedestal events are what is measured: few showers (the simulator's time)
            "--ObservationRun.proton_flux_scale=0.02",
            "--ObservationRun.source_flux_scale=0.1",
            *camera(rate_mhz),
            f"--output={r1}",
            "--overwrite",
        )
        run(
            BIN / "iactpipe-r0-dl1",
            f"--input={work / r1.name.replace('.r1.h5', '.r1_tel021.h5')}",
            f"--output={dl1}",
            "--engine=batch",
            "--overwrite",
        )
    return dl1


def simulate_gammas(work: Path, rate_mhz: float, n_showers: int) -> Path:
    r1 = work / f"gamma_{rate_mhz:.0f}.r1.h5"
    if not r1.exists():
        run(
            BIN / "iactpipe-simulate",
            f"--config={ROOT / 'data_configs/simulate_mc_gamma.yaml'}",
            "-n",
            n_showers,
            "--ShowerGenerator.max_scatter_radius=200 m",
            *camera(rate_mhz),
            f"--output={r1}",
            "--overwrite",
        )
    return r1


def r0_dl1(r1: Path, out: Path, moon_mhz: float, *argv) -> Path:
    picture, boundary = THRESHOLDS[moon_mhz]
    out = out.with_name(out.name.replace(".dl1.h5", f"_tc{picture}_{boundary}.dl1.h5"))
    if not out.exists():
        run(
            BIN / "iactpipe-r0-dl1",
            f"--input={r1}",
            f"--output={out}",
            *cleaning(moon_mhz),
            *argv,
            "--overwrite",
        )
    return out


def pedestal_std(dl1: Path, tel_id: int = 21) -> tuple[float, float]:
    table = read_table(dl1, f"{PEDESTAL}/tel_{tel_id:03d}")
    rows = ~np.asarray(table["from_shower_events"], bool)
    std = np.nanmedian(np.asarray(table["std"])[rows], axis=-1)
    mean = np.nanmedian(np.asarray(table["mean"])[rows], axis=-1)
    return float(np.median(std)), float(np.median(mean))


def tuning(work: Path, data: Path, mc_dl1: Path) -> dict:
    out = work / f"tune_{data.stem}.yaml"
    if not out.exists():
        run(
            BIN / "iactpipe-tune-mc",
            f"--data={data}",
            f"--mc={mc_dl1}",
            f"--output={out}",
            "--n-toy-events=50",
            "--overwrite",
        )
    summary = json.loads(out.with_suffix(".json").read_text())["telescopes"][0]
    return summary


def modifier_argv(extra_mhz: float, tel_ids) -> list[str]:
    rates = json.dumps([["id", t, extra_mhz] for t in tel_ids])
    return [
        "--NSBWaveformModifier.enabled=True",
        f"--NSBWaveformModifier.extra_nsb_rate_mhz={rates}",
    ]


def image_modifier_argv(data_std: float, data_mean: float, mc_std: float, mc_mean: float):
    """lstchain's tuning (lstchain_tune_nsb) as ctapipe's ImageModifier settings."""
    extra = max(data_std**2 - mc_std**2, 0.0)
    return [
        "--engine=ctapipe",
        "--ImageProcessor.apply_image_modifier=True",
        f"--ImageModifier.noise_level_dim_pixels={extra:.4f}",
        f"--ImageModifier.noise_bias_dim_pixels={data_mean - mc_mean:.4f}",
        f"--ImageModifier.noise_level_bright_pixels={extra:.4f}",
        "--ImageModifier.noise_transition_charge=8",
    ]


def parameters(dl1: Path) -> dict[int, np.ndarray]:
    out = {}
    with tables.open_file(dl1) as h5:
        for node in h5.root.dl1.event.telescope.parameters:
            t = node.read()
            t = t[np.isfinite(t["hillas_intensity"]) & (t["hillas_intensity"] > 50)]
            out[int(node._v_name[4:])] = t
    return out


def ks_power(sample: np.ndarray, n1: int, n2: int, shift: float = 1.05, n_boot: int = 200):
    """Power of the KS test (5 % level) to see ``shift`` with samples of n1 and n2
    drawn from ``sample`` (bootstrap)."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(n_boot):
        a = rng.choice(sample, n1)
        b = rng.choice(sample, n2) * shift
        hits += ks_2samp(a, b).pvalue < 0.05
    return hits / n_boot


def ks_size_for_power(sample: np.ndarray, power: float = 0.8, shift: float = 1.05) -> int:
    """Sample size (each of two equal samples) at which the KS test sees ``shift`` with
    ``power`` (bootstrap from ``sample``, sizes doubling from 250)."""
    n = 250
    while n < 64_000 and ks_power(sample, n, n, shift, n_boot=100) < power:
        n *= 2
    return n


def paired_power(error: float, shift: float = 0.05) -> float:
    """Power of the paired test (median ratio vs 1, two-sided 5 %) to see ``shift``."""
    z = shift / error
    return float(norm.cdf(z - 1.96) + norm.cdf(-z - 1.96))


def compare(reference: Path, candidate: Path) -> dict:
    ref, cand = parameters(reference), parameters(candidate)
    result = {}
    for column in COLUMNS:
        a = np.concatenate([t[column] for t in ref.values()])
        b = np.concatenate([t[column] for t in cand.values()])
        ratios = []
        for tel_id, t in ref.items():
            common, ia, ib = np.intersect1d(
                t["event_id"], cand[tel_id]["event_id"], return_indices=True
            )
            ratios.append(cand[tel_id][column][ib] / t[column][ia])
        ratios = np.concatenate(ratios)
        boot = np.random.default_rng(1).choice(ratios, (500, len(ratios)))
        result[column] = {
            "n_reference": len(a),
            "n_candidate": len(b),
            "ks_pvalue": float(ks_2samp(a, b).pvalue),
            "ks_power_5pct": ks_power(a, len(a), len(b)),
            "ks_n_for_80pct_power": ks_size_for_power(a),
            "median_paired_ratio": float(np.median(ratios)),
            "median_paired_ratio_err": float(np.std(np.median(boot, axis=1))),
            "paired_power_5pct": paired_power(float(np.std(np.median(boot, axis=1)))),
            "mean_ratio": float(np.mean(b) / np.mean(a)),
        }
    return result


def main(work: Path, n_showers: int) -> None:
    work.mkdir(parents=True, exist_ok=True)
    results = {"n_showers": n_showers}
    dark_obs = simulate_observation(work, DARK_MHZ)
    gamma_dark = simulate_gammas(work, DARK_MHZ, n_showers)
    for moon in MOON_MHZ:
        level = f"{moon:.0f}"
        dl1_dark = r0_dl1(gamma_dark, work / "gamma_40_untuned.dl1.h5", moon, "--engine=batch")
        data = simulate_observation(work, moon)
        summary = tuning(work, data, dark_obs)
        extra = summary["extra_nsb_rate_mhz"]
        # the tuning on the dark run with pedestal events (tel 21): pedestal spread
        tuned_obs = r0_dl1(
            work / "obs_40.r1_tel021.h5",
            work / f"obs_40_tuned_{level}.dl1.h5",
            moon,
            "--engine=batch",
            "--NSBWaveformModifier.modify_observed_data=True",
            *modifier_argv(extra, [21]),
        )
        data_std, data_mean = pedestal_std(data)
        tuned_std, _ = pedestal_std(tuned_obs)
        dark_std, dark_mean = pedestal_std(dark_obs)
        gamma_moon = simulate_gammas(work, moon, n_showers)
        direct = r0_dl1(gamma_moon, work / f"gamma_{level}_direct.dl1.h5", moon, "--engine=batch")
        tuned = r0_dl1(
            gamma_dark,
            work / f"gamma_40_tuned_{level}.dl1.h5",
            moon,
            "--engine=batch",
            *modifier_argv(extra, [1, 2]),
        )
        image_level = r0_dl1(
            gamma_dark,
            work / f"gamma_40_imagelevel_{level}.dl1.h5",
            moon,
            *image_modifier_argv(data_std, data_mean, dark_std, dark_mean),
        )
        results[level] = {
            "tuning": summary,
            "pedestal_std_data_pe": data_std,
            "pedestal_std_dark_pe": dark_std,
            "pedestal_std_tuned_pe": tuned_std,
            "pedestal_std_tuned_over_data": tuned_std / data_std,
            "waveform_tuned_vs_direct": compare(direct, tuned),
            "image_level_vs_direct": compare(direct, image_level),
            "untuned_vs_direct": compare(direct, dl1_dark),
        }
        (work / "results.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(results: dict) -> None:
    for level in (f"{m:.0f}" for m in MOON_MHZ):
        if level not in results:
            continue
        r = results[level]
        print(
            f"\n{level} MHz: extra {r['tuning']['extra_nsb_rate_mhz']} MHz; pedestal std data "
            f"{r['pedestal_std_data_pe']:.3f}, dark {r['pedestal_std_dark_pe']:.3f}, tuned "
            f"{r['pedestal_std_tuned_pe']:.3f} p.e. (ratio {r['pedestal_std_tuned_over_data']:.3f})"
        )
        for method in ("waveform_tuned_vs_direct", "image_level_vs_direct", "untuned_vs_direct"):
            for column, c in r[method].items():
                print(
                    f"  {method:26s} {column:17s} n={c['n_reference']}/{c['n_candidate']} "
                    f"KS p={c['ks_pvalue']:.3f} (power 5%: {c['ks_power_5pct']:.2f}, 80% at "
                    f"n={c['ks_n_for_80pct_power']}) paired ratio "
                    f"{c['median_paired_ratio']:.3f} +- {c['median_paired_ratio_err']:.3f} "
                    f"(power 5%: {c['paired_power_5pct']:.2f})"
                )


if __name__ == "__main__":
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("nsb_tuning_benchmark")
    main(workdir, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
