"""
End-to-end check of the chain: simulated Crab-like observation -> DL3 -> gammapy 1D
spectral fit, compared with the injected spectrum.

MC at the run's pointing (zenith 27.5 deg, azimuth 180 deg): diffuse gammas and protons
train the (small-forest) stereo models and give the background IRF; point gammas at the
0.4 deg wobble offset give the cuts (70 % gamma efficiency, 68 % theta containment) and
the point-like IRFs. The observation run tracks the Crab in wobble mode at
``--flux-scale`` times the MAGIC 2015 log-parabola above ``--gamma-energy-min`` (the
MC's lower energy too, so that IRF and data cover the same true energies), protons at
``--proton-scale`` times the reference flux (reduced: the simulator spends most of its
time on protons and the check is about the source spectrum). ON region = RAD_MAX,
one reflected (wobble) OFF region, log-parabola with the injected curvature fixed
(free amplitude at 5 TeV and alpha), then with free curvature.

Run: python benchmarks/dl3_crab_fit.py [--duration "20 s"] [--workdir DIR]
(about 3.5 min CPU with the defaults).

Result (defaults, seeds fixed, shared 2-core machine, 192 s CPU): cut flow 6878 subarray
events, 6478 physics, 3522 with both telescopes, 1266 selected (quality, multiplicity
2), 910 after the gammaness cut; ON (RAD_MAX) 319 events in 3-60 TeV, OFF 0, live time
19.86 s of 20.00 s. Beta fixed: amplitude(5 TeV) 9.41e-9 +- 0.64e-9 (injected 9.26e-9,
pull +0.23), alpha 2.72 +- 0.10 (injected 2.806, pull -0.84). Beta free: amplitude
9.40e-9 +- 0.65e-9, alpha 2.69 +- 0.24, beta 0.13 +- 0.15 (injected 0.104).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import astropy.units as u
from astropy.coordinates import SkyCoord

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chain_fixtures import (
    Production,
    apply_models,
    crab_fit_chain,
    simulate_mc_stereo_dl1,
    train_models,
)

from iactpipe.analysis.injected import fit_point_source_spectrum

ZENITH, AZIMUTH = "27.5 deg", "180 deg"
CRAB = SkyCoord(83.63308, 22.0145, unit="deg")


def cut_flow(dl2: Path, library: Path) -> dict[str, int]:
    """Subarray events, physics stereo events, selected, after the gammaness cut."""
    import numpy as np
    from ctapipe.io import TableLoader

    from iactpipe.dl3.events import load_observed_events
    from iactpipe.dl3.irf_choice import read_irf_file
    from iactpipe.instrument import ONDREJOV_LOCATION
    from iactpipe.irf.cuts import GammaCuts
    from iactpipe.irf.events import DL2EventSelection

    irf = read_irf_file(next(library.rglob("irf_point_like.fits.gz")))
    cuts = GammaCuts(irf.gh_cuts, irf.theta_cuts, np.nan, np.nan, "IRF")
    with TableLoader(dl2) as loader:
        events = loader.read_subarray_events(dl2=False, observation_info=False)
    n_tel = np.array([np.sum(t) for t in events["tels_with_trigger"]])
    physics = events["event_type"] == 32
    run = load_observed_events(dl2, DL2EventSelection(), cuts, ONDREJOV_LOCATION)
    return {
        "subarray events": len(events),
        "physics": int(physics.sum()),
        "physics, 2 telescopes": int((physics & (n_tel == 2)).sum()),
        "selected (quality, multiplicity 2)": run.n_selected,
        "gammaness cut": len(run.events),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20 s")
    parser.add_argument("--flux-scale", type=float, default=20000.0)
    parser.add_argument("--proton-scale", type=float, default=0.02)
    parser.add_argument("--gamma-energy-min", default="2 TeV")
    parser.add_argument("--n-point", type=int, default=4000)
    parser.add_argument("--n-diffuse", type=int, default=1500)
    parser.add_argument("--n-proton", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="dl3_crab_fit_"))
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    emin = args.gamma_energy_min
    training = {
        "gamma_diffuse": Production(
            "gamma",
            args.n_diffuse,
            72,
            emin,
            "100 TeV",
            "300 m",
            viewcone="2.5 deg",
            zenith=ZENITH,
            azimuth=AZIMUTH,
            spectral_index=2.0,
        ),
        "proton": Production(
            "proton",
            args.n_proton,
            73,
            "2 TeV",
            "60 TeV",
            "300 m",
            viewcone="3.5 deg",
            zenith=ZENITH,
            azimuth=AZIMUTH,
        ),
    }
    dl1 = {name: simulate_mc_stereo_dl1(tmp, name, p) for name, p in training.items()}
    models = train_models(tmp, dl1["gamma_diffuse"], dl1["proton"])
    dl2 = {name: apply_models(path, models) for name, path in dl1.items()}
    point = Production(
        "gamma",
        args.n_point,
        71,
        emin,
        "100 TeV",
        "300 m",
        source_offset="0.4 deg",
        zenith=ZENITH,
        azimuth=AZIMUTH,
        spectral_index=2.0,
    )
    observation = {
        "ObservationRun": {
            "start_time": "2024-01-10T21:16:55",
            "source_flux_scale": args.flux_scale,
            "proton_flux_scale": args.proton_scale,
            "gamma_energy_min": emin,
            "gamma_scatter_radius": "300 m",
        },
    }
    dl3 = crab_fit_chain(
        tmp,
        models,
        dl2,
        point,
        args.duration,
        observation,
        2001,
        17,
        ("--EventCuts.theta_max=0.3 deg",),
    )
    t_chain = time.process_time() - t0
    for step, n in cut_flow(tmp / "fit_run.stereo.dl2.h5", tmp / "irfs_fit").items():
        print(f"cut flow: {step:36s} {n}")
    e_min = u.Quantity(emin)
    for free_beta in (False, True):
        result = fit_point_source_spectrum(
            dl3,
            CRAB,
            args.flux_scale,
            reference=5 * u.TeV,
            energy_range=(1.5 * e_min, 60 * u.TeV),
            true_energy_range=(e_min, 100 * u.TeV),
            free_beta=free_beta,
        )
        print(f"\nlog-parabola fit, beta {'free' if free_beta else 'fixed to the injected'}:")
        print(result.summary())
    print(f"\nCPU: chain {t_chain:.0f} s, total {time.process_time() - t0:.0f} s; files in {tmp}")


if __name__ == "__main__":
    main()
