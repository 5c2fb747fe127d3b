"""Shower by shower: iactpipe's ray tracing of CORSIKA photons vs sim_telarray.

The CORSIKA IACT file of CTA prod4 run 102 (``../shared/data/corsika``) is the input from
which sim_telarray made ``../shared/data/simtel/gamma_20deg_0deg_run102_...simtel.zst``.
For every telescope event stored by sim_telarray whose shower is in the CORSIKA file
(event id = shower x 100 + reuse - 1, telescope id = CORSIKA telescope index + 1), this
compares sim_telarray's true p.e. image with iactpipe's from the same photons
(`iactpipe.simulation.corsika.CorsikaPhotonImager`): total p.e., Hillas cog, width,
length and psi of the true images (all pixels with light, no cleaning).

Run: ``python benchmarks/corsika_vs_simtel.py [--plot docs/_static]``; prints a table
and the medians quoted in ``docs/simulate.rst``.
"""

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.image import hillas_parameters
from ctapipe.io import SimTelEventSource

from iactpipe.instrument.telescope import sst1m_telescope
from iactpipe.simulation import CameraResponse, CameraTrigger
from iactpipe.simulation.corsika import CorsikaPhotonImager, read_corsika_events

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CORSIKA = DATA / "corsika" / "run102_gamma_za20deg_azm0deg-paranal-sst.corsika.zst"
SIMTEL = (
    DATA
    / "simtel"
    / "gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst"
)


def simtel_true_images(path=SIMTEL):
    """{(event_id, tel_id): true image} and the camera geometry of the sim_telarray file."""
    images = {}
    with SimTelEventSource(path, focal_length_choice="EQUIVALENT") as source:
        geometry = source.subarray.tel[source.subarray.tel_ids[0]].camera.geometry
        for event in source:
            for tel_id, tel in event.simulation.tel.items():
                if tel.true_image is not None and tel.true_image.sum() > 0:
                    images[(event.index.event_id, tel_id)] = tel.true_image.astype(float)
    return images, geometry


def hillas(geometry, image):
    """(cog x, cog y (m), width, length (m), psi (deg)) of a true image."""
    if image.sum() <= 0:
        return (np.nan,) * 5
    h = hillas_parameters(geometry, image)
    return (
        h.x.to_value(u.m),
        h.y.to_value(u.m),
        h.width.to_value(u.m),
        h.length.to_value(u.m),
        h.psi.to_value(u.deg),
    )


def compare(max_showers=None, seed=0, imager_config=None):
    """Rows (event_id, tel_id, size_simtel, size_iactpipe, hillas_simtel, hillas_iactpipe)."""
    images, geometry = simtel_true_images()
    wanted = {}
    for event_id, tel_id in images:
        wanted.setdefault(event_id, []).append(tel_id)
    imager = CorsikaPhotonImager(geometry, config=imager_config)
    rng = np.random.default_rng(seed)
    rows = []
    for event in read_corsika_events(CORSIKA, max_showers=max_showers):
        for tel_id in wanted.get(event.event_id, []):
            bunches = event.bunches.get(tel_id - 1)
            if bunches is None:
                continue
            ours = imager(rng, bunches, event.alt_rad, event.az_rad, event.obs_height_m)
            ref = images[(event.event_id, tel_id)]
            rows.append(
                (
                    event.event_id,
                    tel_id,
                    ref.sum(),
                    ours.n_pe.sum(),
                    hillas(geometry, ref),
                    hillas(geometry, ours.n_pe.astype(float)),
                )
            )
    return rows


def trigger_comparison(max_showers=None, seed=0):
    """Trigger yes/no of the iactpipe camera (toy response and 7-pixel patch trigger, dark
    NSB) on the CORSIKA images: for the telescopes sim_telarray triggered and for those
    with light it did not trigger, in the showers sim_telarray stored. Returns
    {(sim_telarray triggered, iactpipe triggered): count} and the sizes of each class."""
    images, geometry = simtel_true_images()
    events = {e for e, _ in images}
    telescope = sst1m_telescope()
    camera = CameraResponse(telescope.camera.readout, geometry.n_pixels)
    trigger = CameraTrigger(geometry)
    imager = CorsikaPhotonImager(geometry)
    rng = np.random.default_rng(seed)
    nsb = camera.pixel_nsb_rates_mhz(rng)
    baseline = camera.baseline_adc + camera.baseline_shift_adc
    counts, sizes = {}, {}
    for event in read_corsika_events(CORSIKA, max_showers=max_showers):
        if event.event_id not in events:
            continue
        for k, bunches in event.bunches.items():
            ours = imager(rng, bunches, event.alt_rad, event.az_rad, event.obs_height_m)
            if ours.n_pe.sum() < 10:
                continue
            times = ours.mean_time_ns - np.average(ours.mean_time_ns, weights=ours.n_pe) + 80
            r0 = camera.r0_waveforms(rng, ours.n_pe, times, ours.time_spread_ns, nsb)
            key = ((event.event_id, k + 1) in images, bool(trigger(r0, baseline)[0] >= 0))
            counts[key] = counts.get(key, 0) + 1
            sizes.setdefault(key, []).append(int(ours.n_pe.sum()))
    return counts, sizes


def summarise(rows, min_size=50.0):
    """Medians of the iactpipe / sim_telarray ratios (images with at least ``min_size``)."""
    ref = np.array([r[2] for r in rows])
    ours = np.array([r[3] for r in rows])
    h_ref = np.array([r[4] for r in rows])
    h_ours = np.array([r[5] for r in rows])
    sel = ref >= min_size
    dpsi = (h_ours[:, 4] - h_ref[:, 4] + 90) % 180 - 90
    return {
        "n": int(sel.sum()),
        "size_ratio": float(np.median(ours[sel] / ref[sel])),
        "size_ratio_scatter": float(np.std(ours[sel] / ref[sel])),
        "width_ratio": float(np.median(h_ours[sel, 2] / h_ref[sel, 2])),
        "length_ratio": float(np.median(h_ours[sel, 3] / h_ref[sel, 3])),
        "cog_shift_m": float(np.median(np.hypot(*(h_ours[sel, :2] - h_ref[sel, :2]).T))),
        "psi_diff_deg": float(np.median(np.abs(dpsi[sel]))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-showers", type=int, default=None)
    parser.add_argument("--efficiency", type=float, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="directory of the PNG figures")
    parser.add_argument("--trigger", action="store_true", help="also compare the triggers")
    args = parser.parse_args()
    config = None
    if args.efficiency is not None:
        from traitlets.config import Config

        config = Config({"CorsikaPhotonImager": {"photon_detection_efficiency": args.efficiency}})
    rows = compare(args.max_showers, imager_config=config)
    print("event_id tel  pe_simtel pe_iactpipe  width_s width_i  length_s length_i")
    for r in rows:
        print(
            f"{r[0]:8d} {r[1]:3d} {r[2]:10.0f} {r[3]:11.0f}  {r[4][2]:.4f}  {r[5][2]:.4f}"
            f"   {r[4][3]:.4f}  {r[5][3]:.4f}"
        )
    for key, value in summarise(rows).items():
        print(f"{key}: {value:.3f}")
    if args.trigger:
        counts, sizes = trigger_comparison(args.max_showers)
        for (simtel, ours), n in sorted(counts.items()):
            median = np.median(sizes[(simtel, ours)])
            label = f"triggered by sim_telarray {simtel!s:5} by iactpipe {ours!s:5}"
            print(f"{label}: {n:4d} (median {median:.0f} p.e.)")
    if args.plot:
        plot(rows, args.plot)


def plot(rows, directory):
    """Size and width/length scatter plots, iactpipe vs sim_telarray."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = np.array([r[2] for r in rows])
    ours = np.array([r[3] for r in rows])
    h_ref = np.array([r[4] for r in rows])
    h_ours = np.array([r[5] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    axes[0].loglog(ref, ours, "o", ms=4)
    lim = [max(1, ref.min() * 0.8), ref.max() * 1.2]
    axes[0].plot(lim, lim, "k--", lw=1)
    axes[0].set(xlabel="sim_telarray true p.e.", ylabel="iactpipe true p.e.", title="size")
    for ax, k, name in ((axes[1], 2, "width"), (axes[2], 3, "length")):
        deg = np.rad2deg(1 / 5.6)
        ax.plot(h_ref[:, k] * deg, h_ours[:, k] * deg, "o", ms=4)
        top = max(h_ref[:, k].max(), h_ours[:, k].max()) * deg * 1.1
        ax.plot([0, top], [0, top], "k--", lw=1)
        ax.set(xlabel=f"sim_telarray {name} (deg)", ylabel=f"iactpipe {name} (deg)", title=name)
    fig.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    fig.savefig(directory / "corsika_vs_simtel.png", dpi=90)


if __name__ == "__main__":
    main()
