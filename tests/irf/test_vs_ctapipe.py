"""
Side by side with ctapipe-compute-irf on the same DL2 and the same cuts (written into a
ctapipe ``OptimizationResult`` file): point-like effective area and energy dispersion
agree within 2 % in the true-energy bins with at least 10 selected gammas.
"""

import json

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from ctapipe.core import run_tool
from ctapipe.irf import OptimizationResult

from iactpipe.irf import DL2EventSelection, EventCuts, IRFMaker, load_dl2_events

MIN_EVENTS = 10


def test_point_like_aeff_edisp_agree_with_ctapipe(irf_dl2, tmp_path):
    from ctapipe.tools.compute_irf import IrfTool

    # no telescope-level cuts: ctapipe's quality query sees only subarray columns
    selection = DL2EventSelection(min_intensity_pe=0, max_leakage_intensity_width_2=1.0)
    gammas = load_dl2_events(irf_dl2["gamma_point"], selection)
    cuts = EventCuts(gamma_efficiency=0.7, reco_energy_min=1 * u.TeV, reco_energy_max=30 * u.TeV)(
        gammas.events
    )
    maker = IRFMaker(
        true_energy_min=1 * u.TeV, true_energy_max=30 * u.TeV, true_energy_n_bins_per_decade=5
    )
    ours = maker(gammas, cuts, point_like=True)

    multiplicity = QTable(
        {
            "low": cuts.gh_cuts["low"],
            "high": cuts.gh_cuts["high"],
            "center": cuts.gh_cuts["center"],
            "cut": np.full(len(cuts.gh_cuts), 2),
        }
    )
    result = OptimizationResult(
        valid_energy_min=1 * u.TeV,
        valid_energy_max=30 * u.TeV,
        valid_offset_min=0 * u.deg,
        valid_offset_max=5 * u.deg,
        gh_cuts=cuts.gh_cuts,
        clf_prefix="ParticleModel",
        quality_query=[("valid", "EnergyModel_is_valid & ParticleModel_is_valid & disp_is_valid")],
        spatial_selection_table=cuts.theta_cuts,
        multiplicity_cuts=multiplicity,
    )
    cuts_file = tmp_path / "cuts.fits"
    result.write(cuts_file)
    fov_max = maker.fov_offset_bins(gammas)["fov_offset_max"].to_value(u.deg)
    binning = []
    for cls in ("EffectiveArea2dMaker", "EnergyDispersion2dMaker", "PSF3DMaker"):
        binning += [
            f"--{cls}.true_energy_min=1 TeV",
            f"--{cls}.true_energy_max=30 TeV",
            f"--{cls}.true_energy_n_bins_per_decade=5",
            f"--{cls}.fov_offset_max={fov_max} deg",
        ]
    out = tmp_path / "ctapipe_irf.fits"
    config = tmp_path / "ctapipe.json"
    config.write_text(
        json.dumps(
            {
                "DL2EventQualityQuery": {
                    "quality_criteria": [
                        ["valid", "EnergyModel_is_valid & ParticleModel_is_valid & disp_is_valid"]
                    ]
                }
            }
        )
    )
    argv = [
        f"--cuts={cuts_file}",
        f"--gamma-file={irf_dl2['gamma_point']}",
        f"--output={out}",
        "--no-do-background",
        "--spatial-selection-applied",
        "--DL2EventPreprocessor.energy_reconstructor=EnergyModel",
        "--DL2EventPreprocessor.geometry_reconstructor=disp",
        "--DL2EventPreprocessor.gammaness_classifier=ParticleModel",
        f"--config={config}",
        *binning,
    ]
    assert run_tool(IrfTool(), argv=argv, raises=True) == 0

    with fits.open(out) as theirs:
        aeff_ct = theirs["EFFECTIVE AREA"].data["EFFAREA"][0]
        edisp_ct = theirs["ENERGY DISPERSION"].data["MATRIX"][0]
    aeff = ours[0].data["EFFAREA"][0]
    edisp = ours[1].data["MATRIX"][0]
    # where both are defined: true-energy bins with >= MIN_EVENTS selected gammas
    selected = gammas.events[cuts.gh_mask(gammas.events) & cuts.theta_mask(gammas.events)]
    edges = np.geomspace(1, 30, aeff.shape[-1] + 1)
    counts, _ = np.histogram(selected["true_energy"].to_value(u.TeV), edges)
    defined = counts >= MIN_EVENTS
    assert defined.sum() >= 2
    np.testing.assert_allclose(aeff[..., defined], aeff_ct[..., defined], rtol=0.02)
    np.testing.assert_allclose(edisp[..., defined], edisp_ct[..., defined], rtol=0.02, atol=1e-3)
