"""
A run whose zenith drifts across the nodes: interpolated vs nearest-node models and IRFs.

A source at declination 35 deg (Crab-like: the MAGIC log-parabola at ``--flux-scale``
times the Crab above ``--gamma-energy-min``) is tracked from Ondřejov for 6300 s while it
sets from zenith 21.9 to 37.8 deg (azimuth 235 -> 266 deg). The MC production has two
nodes, zenith 20 and 40 deg at the run's mean azimuth (251 deg): point gammas (0.4 deg
wobble offset), diffuse gammas and protons at each. One ``iactpipe-chain`` call takes
everything to DL3 with a model node and an IRF node per pointing (``workflow.nodes``):
each event reconstructed by the models of the two nodes bracketing its own zenith,
interpolated in cos(zenith), and the run's IRFs interpolated at its mean zenith. A
second chain in a copy of the output redoes the run's DL2 and DL3 with the nearest node
(``iactpipe-chain --node-choice nearest``: events below 31.5 deg take the 20 deg models,
the others the 40 deg models; the run takes the 20 deg IRFs, the nearer to its mean
cos(zenith)). A third chain in another copy redoes only the DL3 with the IRFs averaged
over the run's zenith track (``--node-choice track``: slices of <= 0.5 deg, each
interpolated, averaged by live time and effective area; the same DL2 as the first).
The DL3 sets get the ON/OFF log-parabola fit of
``iactpipe.analysis.injected`` (curvature fixed to the injected one, then free); printed:
the fitted amplitude and index, their pulls against the injection, and the model-node
shares of the run.

Usage::

    nice -n 5 python benchmarks/drifting_zenith.py --workdir /tmp/drift --run-seeds 3
    # the same runs, node MC with 10 000 point gammas (other showers), or three nodes
    nice -n 5 python benchmarks/drifting_zenith.py --workdir /tmp/drift_big \
        --inputs /tmp/drift/inputs --n-point 10000 --run-seeds 3 --only-interpolated
    nice -n 5 python benchmarks/drifting_zenith.py --workdir /tmp/drift3 \
        --inputs /tmp/drift/inputs --node-zeniths 20 30 40 --run-seeds 3 --only-interpolated

Simulated files and chain outputs are kept in the work directory; a second call redoes
nothing but the fits. Copying the first work directory's ``interpolated*`` outputs
(``cp -a``, without their ``dl3``) into another work directory that shares its inputs
keeps the runs' DL1 up to date there. ``--run-seeds N`` analyses N other realisations
of the single run (obs_id and seed 3001 + 1000 k) with the same node products.
``--split 4`` also cuts the drift into four consecutive runs of 1575 s, each with the
IRFs of its own mid-run zenith. ``benchmarks/drift_cut_efficiency.py`` then measures
the run's cut efficiencies against the IRFs'.

Result with the efficiency-mean gammaness cut between model nodes (2026-12-07,
``iactpipe-dl2-dl3``'s default since: ``iactpipe.dl3.node_cuts``; the DL2, IRF and DL3
steps redone on the DL1 of the run below, ``--run-seeds 3``, 366 s wall at load ~3.5:
per chain 71 s for the interpolated one (6 MC DL2 10-12 s each, the run's DL2 13 s, the
IRF nodes 9 and 6 s, DL3 7.5 s), 76-88 s per other realisation, 22 s nearest, 17 s
track). The run's gammaness cut keeps 0.707 of its gammas above 3 TeV (0.69-0.73 along
the run; realisations 0.697-0.702; theta 0.671-0.683), not 0.578. Curvature fixed,
amplitude at 5 TeV against the injection: interpolated +7.0, +4.4, +3.7, +7.5 % (pulls
+3.1, +2.0, +1.7, +3.3; N_on 2154-2233; alpha pulls -0.8 to +0.7), curvature free +2.4,
+6.1, +6.6, +8.2 % (pulls +0.8 to +2.7, beta -2.5 to +1.5 sigma); track-averaged IRFs
+6.6 % (+2.9); nearest node -3.9 % (-1.8; was -2.0 %: its events reconstructed by the
40 deg models now get the 40 deg node's cut, not the run's 20 deg one). The cut no
longer biases the flux; what is left (+5.7 % on average, 1.9 % spread) comes from
elsewhere, in part the interpolated models' energy scale (median reco/true energy of
3-30 TeV point gammas 0.990 / 0.993 at 30 / 36 deg against 0.977 / 0.979 at the 20 /
40 deg nodes: docs/reco.rst). With three nodes (``--node-zeniths 20 30 40``, the same
cut; 554 s wall at load ~4) the run is within 2 sigma: interpolated +3.5, -1.1, -2.3,
+2.8 % (pulls +1.6, -0.5, -1.1, +1.3; alpha 2.72-2.75, pulls -1.1 to -1.8), curvature
free +0.6, +3.1, +3.3, +3.9 % (pulls +0.2 to +1.3); track-averaged IRFs +5.3 % (+2.4);
nearest node -5.3 % (-2.5); the cut keeps 0.710-0.729 (theta 0.658-0.661).

Result before it (2026-12-07, the re-tuned toy, defaults and ``--run-seeds 3``; 24 min wall for
the simulations and chains on the shared 2-core machine at load ~5): about 4300 DL3
events per run, model node shares 0.60 (20 deg) / 0.40 (40 deg), IRF weights 0.613 /
0.387 at the mid-run zenith 29.2 deg; curvature fixed, amplitude at 5 TeV against the
injection: interpolated -8.8, -11.6, -10.7, -9.9 % (pulls -4.2 to -5.6; 1840-1900 ON
events), with 10 000 point gammas per node -7.1, -10.2, -9.4, -8.9 %; nearest node -2.0 %
(-0.9), track-averaged IRFs -9.3 % (-4.4). Not statistics: the interpolated models'
gammaness passes the interpolated cut for 58 % of the run's gammas instead of 70 %
(docs/reco.rst has the table and the three-node production). Before the toy's re-tuning
(871 DL3 events): interpolated +10.8 % (+2.3), nearest +3.3 sigma, track +2.3, four runs
+1.6.
Run it from a source tree that has its ``data_configs/`` (``StageConfigs.config_dir``):
with ``PYTHONPATH`` at a copy of ``src/`` alone the chain finds no stage configs and the
numbers differ (that run: interpolated +1.7, nearest +2.6, 4 runs +1.8 sigma).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import astropy.units as u
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from iactpipe.analysis.injected import fit_point_source_spectrum
from iactpipe.io.dataformat import MODEL_NODES_HDU

BIN = Path(sys.executable).parent
START = "2024-01-10T22:00:00"
#: the source: hour angle 22.4 deg west of the meridian at START (zenith 21.9 deg)
SOURCE = SkyCoord(72.308, 35.0, unit="deg")
DURATION_S = 6300.0
NODES = {"zd20": (20.0, 251.0), "zd40": (40.0, 251.0)}
#: the random seeds' offset of each node (the default nodes keep theirs)
NODE_SEEDS = {"zd20": 0, "zd40": 10}
AZIMUTH = 251.0


def nodes_of(args) -> dict[str, tuple[float, float]]:
    """The production's nodes: ``--node-zeniths`` at the run's mean azimuth."""
    return {f"zd{z:g}": (float(z), AZIMUTH) for z in args.node_zeniths}


def node_seed(node: str, k: int) -> int:
    """Seed offset of a node: the default nodes' own, other nodes 20 + 10 k."""
    return NODE_SEEDS.get(node, 20 + 10 * k)


OBS_ID = 3001
FORESTS = [
    '--RecoModel.model_config={"n_estimators": 60, "min_samples_leaf": 5}',
    '--NormSignDispModel.sign_config={"n_estimators": 60, "min_samples_leaf": 5}',
    "--ModelTrainer.cv_folds=2",
]
IRF = ["--gamma-efficiency", "0.7", "--EventCuts.theta_max=0.3 deg"]
#: the nearest node: the chain's --node-choice nearest, and the nearest IRF node accepted
#: at the run's mean zenith (30 deg: 0.074 from the 20 deg node in cos(zenith))
NEAREST = {"dl2_dl3_data": ["--IRFSelector.max_cos_zenith_distance=0.1"]}


def simulate(inputs: Path, name: str, config: dict, args: list[str]) -> None:
    """One iactpipe-simulate run (skipped when its output exists)."""
    if list(inputs.glob(f"{name}*.h5")):
        return
    path = inputs / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    t0 = time.perf_counter()
    argv = [str(BIN / "iactpipe-simulate"), f"--config={path}", *args]
    result = subprocess.run(argv, cwd=inputs, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{name}: {result.stderr[-3000:]}")
    print(f"  simulated {name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


#: the point gammas per node of the default production (other sizes: other file names)
N_POINT = 4000


def mc_name(args, kind: str, node: str) -> str:
    """File stem of a node's MC: ``gamma_point_n10000_zd20`` for a non-default size."""
    if kind == "gamma_point" and args.n_point != N_POINT:
        return f"{kind}_n{args.n_point}_{node}"
    return f"{kind}_{node}"


def mc_jobs(args) -> list[tuple]:
    """Point gammas, diffuse gammas and protons at each node."""
    kinds = {  # kind: (showers, energy min, viewcone, source offset, spectral index)
        "gamma_point": (args.n_point, args.gamma_energy_min, "0 deg", "0.4 deg", 2.0),
        "gamma_diffuse": (args.n_diffuse, args.gamma_energy_min, "2.5 deg", "0 deg", 2.0),
        "proton": (args.n_proton, "2 TeV", "3.5 deg", "0 deg", 2.7),
    }
    jobs = []
    for k, (node, (zenith, azimuth)) in enumerate(nodes_of(args).items()):
        for j, (kind, (n, e_min, viewcone, offset, index)) in enumerate(kinds.items()):
            generator = {
                "particle": kind.split("_")[0],
                "spectral_index": index,
                "energy_min": e_min,
                "energy_max": "100 TeV" if kind != "proton" else "60 TeV",
                "max_scatter_radius": "300 m",
                "viewcone": viewcone,
                "source_offset": offset,
                "zenith": f"{zenith} deg",
                "azimuth": f"{azimuth} deg",
            }
            name = mc_name(args, kind, node)
            # another size of the point gammas: other showers (independent seeds)
            seed = 500 + node_seed(node, k) + j + (100 if name != f"{kind}_{node}" else 0)
            argv = ["--mode=mc", f"--seed={seed}", f"--obs-id={seed}", f"-n={n}"]
            jobs.append((name, {"ShowerGenerator": generator}, [*argv, f"--output={name}.r1.h5"]))
    return jobs


def runs_of(split: int) -> list[tuple[int, str, float]]:
    """(obs_id, start, duration in s) of the drift: one run, or ``split`` consecutive runs."""
    if split == 1:
        return [(OBS_ID, START, DURATION_S)]
    start, step = Time(START), DURATION_S / split
    return [(OBS_ID + 100 + k, (start + k * step * u.s).isot, step) for k in range(split)]


def run_job(args, obs_id: int, start: str, duration_s: float) -> tuple:
    """A run of the drift (a long run at a low source flux and very few protons)."""
    run = {
        "start_time": start,
        "source_ra": f"{SOURCE.ra.deg} deg",
        "source_dec": f"{SOURCE.dec.deg} deg",
        "source_flux_scale": args.flux_scale,
        "proton_flux_scale": args.proton_scale,
        "gamma_energy_min": args.gamma_energy_min,
        "gamma_scatter_radius": "300 m",
    }
    argv = ["--mode=observation", f"--duration={duration_s} s", f"--seed={obs_id}"]
    # interleaved pedestals at 0.2 Hz instead of 10 Hz: 1260 instead of 63 000 per telescope
    argv.append(f"--ToySimulationSource.pedestal_rate={args.pedestal_rate}")
    argv += [f"--obs-id={obs_id}", f"--output=run{obs_id}.h5"]
    return f"run{obs_id}", {"ObservationRun": run}, argv


def chain_config(
    args,
    workdir: Path,
    inputs: Path,
    extra: dict,
    split: int = 1,
    tag: str = "",
    runs_list: list[tuple[int, str, float]] | None = None,
) -> Path:
    """The two-node production and the run(s) (``runs_list``, or the drift cut in ``split``)."""
    productions = [
        {
            "name": f"{kind}_{node}",
            "kind": kind,
            "files": [f"{mc_name(args, kind, node)}.r1.h5"],
            "pointing": list(pointing),
        }
        for node, pointing in nodes_of(args).items()
        for kind in ("gamma_point", "gamma_diffuse", "proton")
    ]
    runs = [
        {
            "obs_id": obs_id,
            "night": "20240110",
            "source": "Drift",
            "files": {t: f"run{obs_id}_tel{t:03d}.h5" for t in (21, 22)},
        }
        for obs_id, _, _ in (runs_list or runs_of(split))
    ]
    config = {
        "DataSet": {
            "base_dir": str(inputs),
            "mc_productions": productions,
            "observed_runs": runs,
            "sources": {
                "Drift": {"ra_deg": float(SOURCE.ra.deg), "dec_deg": float(SOURCE.dec.deg)}
            },
        },
        "StageConfigs": {"extra_args": {"train": FORESTS, "irf": IRF, **extra}},
        "StepExecutor": {"jobs": 2},
    }
    tag = tag or ("_nearest" if extra else "")
    path = workdir / f"chain{tag}{f'_split{split}' if split > 1 else ''}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def chain(config: Path, out: Path, *args: str) -> None:
    """iactpipe-chain up to DL3 and the index."""
    t0 = time.perf_counter()
    argv = [str(BIN / "iactpipe-chain"), f"--config={config}", f"-o={out}", "--no-analysis"]
    argv += ["--no-progress", *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(
            f"iactpipe-chain {config} failed:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
        )
    print(f"  iactpipe-chain {config.name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def realisations(n: int) -> list[tuple[int, str, float]]:
    """Other realisations of the single drifting run: obs_id (and seed) 3001 + 1000 k."""
    return [(OBS_ID + 1000 * k, START, DURATION_S) for k in range(1, n + 1)]


def node_shares(dl3_dir: Path) -> str:
    """The model-node shares and the IRF choice recorded in the run's DL3 file."""
    path = sorted(dl3_dir.rglob("dl3_obs*.fits.gz"))[0]
    with fits.open(path) as hdul:
        table = Table.read(hdul[MODEL_NODES_HDU])
        header = hdul["EVENTS"].header
    shares = ", ".join(f"{n} {s:.3f}" for n, s in zip(table["NODE"], table["SHARE"], strict=True))
    irf = header["IRF_METH"] + "".join(
        f" {header[f'IRF_ND{i}'].split('/')[0]} {header[f'IRF_WT{i}']:.3f}"
        for i in (1, 2)
        if f"IRF_ND{i}" in header
    )
    if "IRF_NSL" in header:
        irf += (
            f" ({header['IRF_NSL']} slices, zd {header['IRF_ZMIN']:.1f}-{header['IRF_ZMAX']:.1f})"
        )
    return (
        f"zenith at mid-run {90 - header['ALT_PNT']:.1f} deg; model nodes: {shares}; "
        f"IRFs: {irf or header['IRF_NODE']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--flux-scale", type=float, default=80.0)
    parser.add_argument("--pedestal-rate", default="0.2 Hz")
    parser.add_argument("--proton-scale", type=float, default=1e-4)
    parser.add_argument("--gamma-energy-min", default="2 TeV")
    parser.add_argument("--n-point", type=int, default=4000)
    parser.add_argument("--n-diffuse", type=int, default=1500)
    parser.add_argument("--n-proton", type=int, default=2000)
    parser.add_argument(
        "--split",
        type=int,
        default=1,
        help="Also cut the drift into this many consecutive runs (each its own IRFs)",
    )
    parser.add_argument(
        "--run-seeds",
        type=int,
        default=0,
        help="Also simulate this many other realisations of the single run (other seeds), "
        "each analysed with the same node models and IRFs (interpolated)",
    )
    parser.add_argument(
        "--inputs",
        type=Path,
        help="Directory of the simulated files (default: <workdir>/inputs); another work "
        "directory's inputs share its runs, with other node MC sizes (--n-point)",
    )
    parser.add_argument(
        "--node-zeniths",
        type=float,
        nargs="+",
        default=[zenith for zenith, _ in NODES.values()],
        help="Zenith angles (deg) of the production's nodes (azimuth 251 deg)",
    )
    parser.add_argument(
        "--only-interpolated",
        action="store_true",
        help="Skip the nearest-node and track-averaged chains",
    )
    args = parser.parse_args()
    inputs = args.inputs or args.workdir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        jobs = [run_job(args, *run) for run in runs_of(1)] + mc_jobs(args)
        if args.split > 1:
            jobs += [run_job(args, *run) for run in runs_of(args.split)]
        jobs += [run_job(args, *run) for run in realisations(args.run_seeds)]
        list(pool.map(lambda job: simulate(inputs, *job), jobs))
    interpolated, nearest = args.workdir / "interpolated", args.workdir / "nearest"
    chain(chain_config(args, args.workdir, inputs, {}), interpolated)
    outputs = [("interpolated", interpolated)]
    if not args.only_interpolated:
        if not nearest.exists():
            shutil.copytree(interpolated, nearest)
        chain(chain_config(args, args.workdir, inputs, NEAREST), nearest, "--node-choice=nearest")
        # the same DL2 (models interpolated per event); only the run's IRFs differ
        track = args.workdir / "track"
        if not track.exists():
            shutil.copytree(interpolated, track)
            shutil.rmtree(track / "dl3")
        config = chain_config(args, args.workdir, inputs, {}, tag="_track")
        chain(config, track, "--node-choice=track")
        outputs += [
            ("nearest node", nearest),
            ("interpolated models, IRFs over the zenith track", track),
        ]
    for run in realisations(args.run_seeds):
        # the node products (DL1, models, IRFs) are reused: only this run is processed
        out = args.workdir / f"interpolated_seed{run[0]}"
        if not out.exists():
            shutil.copytree(interpolated, out)
            shutil.rmtree(out / "dl3")
        tag = f"_seed{run[0]}"
        chain(chain_config(args, args.workdir, inputs, {}, tag=tag, runs_list=[run]), out)
        outputs.append((f"interpolated, run seed {run[0]}", out))
    if args.split > 1:
        split = args.workdir / f"interpolated_split{args.split}"
        if not split.exists():
            shutil.copytree(interpolated, split)
            shutil.rmtree(split / "dl3")
        chain(chain_config(args, args.workdir, inputs, {}, args.split), split)
        outputs.append((f"interpolated, {args.split} runs", split))
    e_min = u.Quantity(args.gamma_energy_min)
    for name, out in outputs:
        print(f"\n== {name}: {node_shares(out / 'dl3')}")
        for free_beta in (False, True):
            result = fit_point_source_spectrum(
                out / "dl3",
                SOURCE,
                args.flux_scale,
                reference=5 * u.TeV,
                energy_range=(1.5 * e_min, 60 * u.TeV),
                true_energy_range=(e_min, 100 * u.TeV),
                free_beta=free_beta,
            )
            print(f"log-parabola fit, beta {'free' if free_beta else 'fixed to the injected'}:")
            print(result.summary())
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; files in {args.workdir}")


if __name__ == "__main__":
    main()
