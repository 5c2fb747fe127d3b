"""Physics and format tests of the toy simulator on simulated data with truth."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.calib import CameraCalibrator
from ctapipe.core import run_tool
from ctapipe.image import hillas_parameters, tailcuts_clean
from ctapipe.image.extractor import LocalPeakWindowSum
from ctapipe.io import EventSource, read_table
from sklearn.metrics import roc_auc_score

from iactpipe.instrument import sst1m_subarray
from iactpipe.io.errors import OutputExistsError
from iactpipe.simulation import CameraResponse, pulse_template
from iactpipe.tools.simulate import SimulateTool

CONFIGS = Path(__file__).parents[2] / "data_configs"
TEMPLATE = Path(__file__).parents[3] / "shared/data/calib/pulse_template_all_pixels.txt"


def _dl1(path):
    """Calibrated, cleaned Hillas parameters and truth of every telescope event."""
    rows = []
    with EventSource(path) as source:
        sub = source.subarray
        extractor = LocalPeakWindowSum(sub, window_width=7, window_shift=3)
        calib = CameraCalibrator(sub, image_extractor=extractor)
        for event in source:
            calib(event)
            for tel_id, dl1 in event.dl1.tel.items():
                geom = sub.tel[tel_id].camera.geometry
                mask = tailcuts_clean(geom, dl1.image, 8, 4, min_number_picture_neighbors=2)
                row = {
                    "obs_id": event.index.obs_id,
                    "event_id": event.index.event_id,
                    "tel_id": tel_id,
                    "n_pixels": mask.sum(),
                    "total": dl1.image.sum(),
                }
                if event.simulation is not None:
                    row["energy"] = event.simulation.shower.energy.to_value(u.TeV)
                if mask.sum() >= 5:
                    h = hillas_parameters(geom[mask], dl1.image[mask])
                    row.update(intensity=h.intensity, width=h.width.to_value(u.m), alpha=_alpha(h))
                rows.append(row)
    return rows


def _alpha(h):
    """Angle (deg) between the major axis and the line to the camera centre (source)."""
    phi = np.arctan2(-h.y.to_value(u.m), -h.x.to_value(u.m))
    d = np.abs(np.rad2deg(phi - h.psi.to_value(u.rad))) % 180
    return np.minimum(d, 180 - d)


@pytest.fixture(scope="module")
def gamma_dl1(gamma_file):
    return _dl1(gamma_file)


@pytest.fixture(scope="module")
def proton_dl1(proton_file):
    return _dl1(proton_file)


def _col(rows, key):
    return np.array([r[key] for r in rows if key in r and "intensity" in r])


def test_alpha_peaks_at_zero(gamma_dl1):
    alpha = _col([r for r in gamma_dl1 if r.get("intensity", 0) > 100], "alpha")
    counts, _ = np.histogram(alpha, bins=9, range=(0, 90))
    assert len(alpha) > 50
    assert np.argmax(counts) == 0
    assert counts[0] > 3 * counts[4:].mean()


def test_intensity_grows_with_energy(gamma_dl1):
    """Median cleaned intensity rises with energy (images surviving the 8/4 cleaning
    with >= 5 pixels start near 1 TeV, so the bins start there; >= 10 images each)."""
    energy = _col(gamma_dl1, "energy")
    intensity = _col(gamma_dl1, "intensity")
    bins = np.geomspace(1, 40, 4)
    counts = np.histogram(energy, bins)[0]
    medians = [
        np.median(intensity[(energy >= lo) & (energy < hi)])
        for lo, hi in zip(bins[:-1], bins[1:], strict=True)
    ]
    print("intensity medians", np.round(medians, 1), counts)
    assert np.all(counts >= 10)
    assert np.all(np.diff(medians) > 0)


def test_trigger_turn_on(turn_on_file):
    """Trigger efficiency of telescope 1 for cores within 120 m versus true energy.

    Re-based for the shower model tuned to CORSIKA (issue 19): its light matches
    CORSIKA's and the p.e. yield is the SST-1M's, so images are 2-4 times brighter and
    the 50 % point moved from 0.5-0.7 TeV to 0.18-0.25 TeV; the same test on a file four
    times lower in energy (before: below 0.5 TeV < 0.3, above 4 TeV > 0.8, 50 % between
    0.4 and 2.5 TeV; measured 0.14, 1.0; 0.25-8 TeV now gives 0.95 below 0.5 TeV).
    Requirements: below 0.125 TeV < 0.3, above 1 TeV > 0.8, 50 % crossed between 0.1
    and 0.6 TeV. Measured (seed 4): 0.03 below 0.125 TeV from 492 thrown showers
    (binomial sigma 0.007), 1.0 above 1 TeV (33 showers; an efficiency of 0.95 would
    fall below 0.8 with probability < 1e-3), 50 % crossed in the 0.18-0.25 TeV bin (0.57).
    Bin edges are edges of the thrown histogram (no bin straddles 0.125 TeV).
    """
    with tables.open_file(turn_on_file) as f:
        hist = f.root.simulation.service.shower_distribution[0]
    thrown = hist["histogram"].sum(axis=0)
    e_bins = hist["bins_energy"]
    assert np.isclose(e_bins[8], 0.125) and np.isclose(e_bins[32], 1.0)
    shower = read_table(turn_on_file, "/simulation/event/subarray/shower")
    trig = read_table(turn_on_file, "/dl1/event/telescope/trigger")
    sel = np.isin(shower["event_id"], trig["event_id"][trig["tel_id"] == 1])
    n_trig = np.histogram(shower["true_energy"][sel], e_bins)[0]
    low = n_trig[:8].sum() / thrown[:8].sum()
    high = n_trig[32:].sum() / thrown[32:].sum()
    coarse = np.add.reduceat(n_trig, np.arange(0, 40, 4)) / np.add.reduceat(
        thrown, np.arange(0, 40, 4)
    )
    e_mid = np.sqrt(e_bins[:-1:4] * e_bins[4::4])
    print("turn-on", thrown[:8].sum(), low, thrown[32:].sum(), high, np.round(coarse, 3))
    assert thrown[:8].sum() > 400
    assert low < 0.3
    assert high > 0.8
    threshold = e_mid[np.argmax(coarse > 0.5)]
    assert 0.1 < threshold < 0.6


def test_protons_wider_but_not_trivially(gamma_dl1, proton_dl1):
    g_int, g_w = _col(gamma_dl1, "intensity"), _col(gamma_dl1, "width")
    p_int, p_w = _col(proton_dl1, "intensity"), _col(proton_dl1, "width")
    sel_g, sel_p = (g_int > 80) & (g_int < 600), (p_int > 80) & (p_int < 600)
    labels = np.r_[np.ones(sel_p.sum()), np.zeros(sel_g.sum())]
    auc = roc_auc_score(labels, np.r_[p_w[sel_p], g_w[sel_g]])
    print("width AUC", auc)
    # issue target 0.7-0.98. Measured 0.73 (85 gammas, 75 protons: statistical error
    # about 0.04) with charged pions feeding displaced, tilted second-generation
    # sub-showers (before: 0.63 with all pion energy cascading at the interaction).
    # With the shower model tuned to CORSIKA (issue 19; narrower, brighter gammas): 0.82
    assert 0.7 < auc < 0.98


def test_effective_area_matches_expectation(gamma_file):
    from pyirf.irf import effective_area_per_energy
    from pyirf.simulations import SimulatedEventsInfo

    config = read_table(gamma_file, "/configuration/simulation/run")[0]
    info = SimulatedEventsInfo(
        n_showers=int(config["n_showers"]),
        energy_min=config["energy_range_min"] * u.TeV,
        energy_max=config["energy_range_max"] * u.TeV,
        max_impact=config["max_scatter_range"] * u.m,
        spectral_index=config["spectral_index"],
        viewcone_min=0 * u.deg,
        viewcone_max=0 * u.deg,
    )
    shower = read_table(gamma_file, "/simulation/event/subarray/shower")
    bins = np.geomspace(0.3, 100, 6) * u.TeV
    aeff = effective_area_per_energy(shower, info, bins)
    with tables.open_file(gamma_file) as f:
        hist = f.root.simulation.service.shower_distribution[0]
    thrown = np.histogram(
        np.repeat(
            np.sqrt(hist["bins_energy"][1:] * hist["bins_energy"][:-1]),
            hist["histogram"].sum(axis=0).astype(int),
        ),
        bins.value,
    )[0]
    n_trig = np.histogram(shower["true_energy"], bins.value)[0]
    area = np.pi * (config["max_scatter_range"] * u.m) ** 2
    expected = n_trig / thrown * area
    err = np.sqrt(n_trig) / thrown * area
    ok = n_trig > 0
    print("Aeff", aeff[ok].to(u.m**2), expected[ok].to(u.m**2))
    assert np.all(np.abs(aeff[ok] - expected[ok]) < 3 * err[ok] + 0.05 * expected[ok])


def test_observation_run_stereo_and_pedestals(observation_files):
    tables_ = {
        t: read_table(p, "/dl1/event/telescope/trigger") for t, p in observation_files.items()
    }
    for t, tab in tables_.items():
        assert np.all(np.diff(tab["event_id"]) == 1) and tab["event_id"][0] == 1
        with EventSource(observation_files[t]) as source:
            types = [e.trigger.event_type.name for e in source]
            assert "SKY_PEDESTAL" in types and not source.is_simulation
    t21 = np.sort(tables_[21]["time"].mjd * 86400e9)
    t22 = np.sort(tables_[22]["time"].mjd * 86400e9)
    # coincidences within 1 us after removing the 250 ns clock offset
    idx = np.clip(np.searchsorted(t22, t21 + 250), 1, len(t22) - 1)
    dt = np.minimum(np.abs(t22[idx] - t21 - 250), np.abs(t22[idx - 1] - t21 - 250))
    fraction = np.mean(dt < 1000)
    print("stereo fraction", fraction)
    assert 0.1 < fraction < 0.9


def test_round_trip_and_seed(gamma_file, sim_dir):
    rows = [r for r in _dl1(gamma_file)]
    sums = read_table(gamma_file, "/simulation/event/telescope/images/tel_001")
    true = {int(e): s for e, s in zip(sums["event_id"], sums["true_image_sum"], strict=False)}
    pairs = np.array(
        [
            (r["intensity"], true[r["event_id"]])
            for r in rows
            if r["tel_id"] == 1 and "intensity" in r
        ]
    )
    # cleaned intensity vs the true sum: the calibration is exact on average
    # (test_calibrated_charge_is_true_charge), cleaning drops the faint tails
    bright = pairs[:, 1] > 200
    ratio = np.median(pairs[bright, 0] / pairs[bright, 1])
    assert 0.65 < ratio < 1.1
    again = sim_dir / "gamma_again.h5"
    args = ["--n-showers", "100", "--seed", "1", "--ShowerGenerator.max_scatter_radius=400 m"]
    for path in (again, sim_dir / "gamma_again2.h5"):
        assert run_tool(SimulateTool(), ["-o", str(path), *args]) == 0
    a = read_table(again, "/r1/event/telescope/tel_001")["waveform"]
    b = read_table(sim_dir / "gamma_again2.h5", "/r1/event/telescope/tel_001")["waveform"]
    assert np.array_equal(a, b)
    with pytest.raises(OutputExistsError):  # no overwrite without --overwrite
        run_tool(SimulateTool(), ["-o", str(again), *args], raises=True)


def test_calibrated_charge_is_true_charge():
    sub = sst1m_subarray(tel_ids=(1, 2))
    readout = sub.tel[1].camera.readout
    camera = CameraResponse(readout, 1296, nsb_rate_dark_mhz=0.0, dark_count_rate_mhz=0.0)
    rng = np.random.default_rng(0)
    n_pe = np.full(1296, 50)
    times = rng.uniform(60, 100, 1296)
    r0 = camera.r0_waveforms(rng, n_pe, times, np.zeros(1296), np.zeros(1296))
    r1 = camera.r1_from_r0(r0, np.zeros(1296))
    # as stored by iactpipe-simulate (int16, steps of 1/500) and read back
    from ctapipe.io.tableio import FixedPointColumnTransform

    from iactpipe.tools.simulate import WRITER_DEFAULTS

    transform = FixedPointColumnTransform(
        WRITER_DEFAULTS["waveform_scale"], 0, np.float32, WRITER_DEFAULTS["waveform_dtype"]
    )
    r1 = transform.inverse(transform(r1))
    extractor = LocalPeakWindowSum(sub, window_width=7, window_shift=3)
    charge = extractor(
        r1[np.newaxis],
        tel_id=1,
        selected_gain_channel=None,
        broken_pixels=np.zeros((1, 1296), bool),
    ).image
    assert np.mean(charge) == pytest.approx(50, rel=0.03)


@pytest.mark.skipif(not TEMPLATE.exists(), reason="../shared/data absent")
def test_pulse_template_matches_measurement():
    data = np.loadtxt(TEMPLATE)
    t = data[:, 0] - data[np.argmax(data[:, 1]), 0]
    measured = data[:, 1] / data[:, 1].max()
    core = (t > -10) & (t < 15)
    assert np.max(np.abs(pulse_template(t[core]) - measured[core])) < 0.12


@pytest.mark.parametrize("name", ["mc_gamma", "mc_proton", "observation"])
def test_configs_setup(name, tmp_path):
    """Each shipped config sets the tool up as it says, and an unfinished run leaves
    no file behind."""
    tool = SimulateTool()
    tool.load_config_file(CONFIGS / f"simulate_{name}.yaml")
    tool.output_path = tmp_path / "out.h5"
    tool.setup()
    expected_mode = "observation" if name == "observation" else "mc"
    assert tool.source.mode == expected_mode
    # observation runs are written per telescope (21, 22), MC in one file
    assert len(tool.writers) == (2 if expected_mode == "observation" else 1)
    tool._exit_stack.close()
    assert list(tmp_path.iterdir()) == []


def test_help_all():
    assert run_tool(SimulateTool(), ["--help-all"]) == 0


def _triggered(particle, safety, **generator):
    from traitlets.config import Config

    from iactpipe.simulation import ToySimulationSource

    config = Config(
        {
            "ShowerGenerator": {"particle": particle, **generator},
            "CherenkovImageModel": {"preselection_safety": safety},
        }
    )
    source = ToySimulationSource(config=config, seed=7)
    out = {}
    for event in source:
        for tel_id in event.trigger.tels_with_trigger:
            out[(event.index.event_id, int(tel_id))] = (
                event.simulation.shower.energy.to_value(u.TeV),
                event.r1.tel[tel_id].waveform,
            )
    return out


@pytest.mark.parametrize(
    ("particle", "generator"),
    [
        ("gamma", {"n_showers": 400, "max_scatter_radius": 600 * u.m}),
        (
            "proton",
            {
                "n_showers": 150,
                "max_scatter_radius": 500 * u.m,
                "viewcone": 5 * u.deg,
                "energy_min": 1 * u.TeV,
            },
        ),
    ],
)
def test_preselection_does_not_bias_trigger(particle, generator):
    """The light-pool pre-selection skips only telescopes that cannot trigger: with and
    without it (same seed) the same telescope events trigger, with identical waveforms,
    so the trigger efficiency versus energy is unchanged."""
    with_cut = _triggered(particle, 3.0, **generator)
    without = _triggered(particle, 0.0, **generator)
    assert len(without) > 20
    assert set(with_cut) == set(without)
    for key, (energy, waveform) in without.items():
        assert with_cut[key][0] == energy
        np.testing.assert_array_equal(with_cut[key][1], waveform)


def test_quantised_r1_round_trip(gamma_file, sim_dir):
    """R1 is stored as int16 in steps of 1/500: read back within half a step."""
    from traitlets.config import Config

    from iactpipe.simulation import ToySimulationSource
    from iactpipe.tools.simulate import WRITER_DEFAULTS

    path = sim_dir / "gamma_rt.h5"
    args = ["--n-showers", "60", "--seed", "1", "--ShowerGenerator.max_scatter_radius=400 m"]
    assert run_tool(SimulateTool(), ["-o", str(path), *args]) == 0
    config = Config({"ShowerGenerator": {"n_showers": 60, "max_scatter_radius": 400 * u.m}})
    expected = {
        (e.index.event_id, t): r1.waveform
        for e in ToySimulationSource(config=config, seed=1)
        for t, r1 in e.r1.tel.items()
    }
    n = 0
    with EventSource(path) as source:
        for event in source:
            for tel_id, r1 in event.r1.tel.items():
                ref = expected[(event.index.event_id, tel_id)]
                step = 1 / WRITER_DEFAULTS["waveform_scale"]
                assert np.max(np.abs(r1.waveform - ref)) <= 0.5 * step + 1e-5
                n += 1
    assert n == len(expected) > 0


def test_pure_noise_waveform_statistics():
    """NSB + dark counts + electronic noise (numba, float32): sample mean and variance of
    pure-noise R0 equal the analytic values (Campbell's theorem): mean = baseline +
    rate (1 + x) A g, variance = rate E[a^2] int p^2 dt + noise^2 + 1/12 (rounding), with
    E[a^2] = g^2 (1 + 3x + x^2)(1 + s^2) for Poisson cross-talk x and single-p.e. spread s."""
    from iactpipe.simulation.camera import PULSE_AREA_NS, PULSE_TABLE, TABLE_STEP_NS

    sub = sst1m_subarray(tel_ids=(1, 2))
    camera = CameraResponse(sub.tel[1].camera.readout, 1296)
    rng = np.random.default_rng(3)
    zeros, rate = np.zeros(1296), 42.0
    rates = np.full(1296, rate)
    waveforms = np.stack(
        [camera.r0_waveforms(rng, np.zeros(1296, int), zeros, zeros, rates) for _ in range(10)]
    ).astype(float)[..., 5:45]  # samples whose pulses' support lies inside the NSB window
    g = camera.gain_adc_per_pe * camera.gain_factor
    x, s = camera.cross_talk, camera.single_pe_spread
    mean = camera.baseline_adc + rate * 1e-3 * (1 + x) * PULSE_AREA_NS * g
    var = (
        rate
        * 1e-3
        * g**2
        * (1 + 3 * x + x**2)
        * (1 + s**2)
        * np.sum(PULSE_TABLE**2)
        * TABLE_STEP_NS
        + camera.electronic_noise_adc**2
        + 1 / 12
    )
    # 518400 samples, correlated over about 4 samples: the mean is known to about 0.05 ADC,
    # the variance to about 1 %
    assert waveforms.mean() == pytest.approx(mean, abs=0.15)
    assert waveforms.var() == pytest.approx(var, rel=0.03)
    assert mean == pytest.approx(camera.baseline_adc + camera.baseline_shift_adc, rel=1e-3)


def test_telescope_outside_light_pool_gets_empty_true_image(monkeypatch):
    """A shower that triggers one telescope while the light-pool pre-selection skipped the
    other (rare: seed 1 of a 25 000-shower production met it) is written like any event
    with one triggered telescope instead of failing on the missing true image."""
    from traitlets.config import Config

    from iactpipe.simulation import ToySimulationSource

    config = Config({"ShowerGenerator": {"n_showers": 150, "max_scatter_radius": 300 * u.m}})
    source = ToySimulationSource(config=config, seed=7)
    simulate = source._simulate_telescopes

    def second_not_rendered(*args, **kwargs):
        images, results = simulate(*args, **kwargs)
        results[2] = {"true_image": None, "r0": None}
        return images, results

    monkeypatch.setattr(source, "_simulate_telescopes", second_not_rendered)
    events = list(source)
    assert len(events) > 5
    for event in events:
        assert list(event.trigger.tels_with_trigger) == [1]
        assert list(event.simulation.tel) == [1]  # as for any untriggered telescope
        assert event.simulation.tel[1].true_image_sum > 0
