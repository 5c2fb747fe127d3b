"""The fast numba kernels of the simulator give what the plain versions give."""

import pickle

import astropy.units as u
import numpy as np
import pytest

from iactpipe.instrument import sst1m_subarray


def test_phase_table_pulses_equal_table_lookup():
    """A pulse added from the per-phase template table equals the one computed from the
    fine template with index arithmetic, at any time (also partly outside the window)."""
    from iactpipe.simulation.pulses import (
        PULSE_TABLE_F32,
        _add_pulse,
        _add_pulse_padded,
        phase_table,
    )

    phases = phase_table(4.0)
    rng = np.random.default_rng(4)
    pad = 25
    for t in rng.uniform(-70.0, 230.0, 300):
        ref = np.zeros(50, np.float32)
        _add_pulse(ref, t, 2.5, 4.0, PULSE_TABLE_F32)
        ext = np.zeros(pad + 50 + phases.shape[1], np.float32)
        _add_pulse_padded(ext, pad, t, 2.5, 4.0, phases)
        np.testing.assert_allclose(ext[pad : pad + 50], ref, rtol=0, atol=1e-6)


def test_normal_quantiles_unit_normal():
    """The 16-bit normal variates have mean 0, variance 1 and normal quantiles."""
    from scipy.stats import norm

    from iactpipe.simulation.camera import NORMAL_16BIT

    assert NORMAL_16BIT.mean() == pytest.approx(0.0, abs=1e-6)
    assert np.mean(NORMAL_16BIT.astype(float) ** 2) == pytest.approx(1.0, abs=1e-6)
    for q in (0.01, 0.16, 0.5, 0.84, 0.99):
        assert np.quantile(NORMAL_16BIT, q) == pytest.approx(norm.ppf(q), abs=0.01)


def test_integer_patch_trigger_equals_float_trigger():
    """Integer ADC patch sums against threshold + m x baseline decide as the float sums of
    baseline-subtracted samples (first sample and number of patches over threshold)."""
    from iactpipe.simulation.trigger import patch_sum_trigger, patch_sum_trigger_adc, patch_table

    patches = patch_table(sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.geometry)
    rng = np.random.default_rng(2)
    n_triggered = 0
    for _ in range(40):
        r0 = rng.poisson(300.0, (1296, 50)).astype(np.uint16)
        pix = rng.integers(0, 1296)
        members = patches[pix][patches[pix] >= 0]
        r0[members, 20:25] += np.uint16(rng.integers(30, 70))
        baseline = 300.0 + rng.uniform(-1, 1)
        expected = patch_sum_trigger(r0.astype(np.float64) - baseline, patches, 340.0)
        assert patch_sum_trigger_adc(r0, patches, 340.0, baseline) == expected
        n_triggered += expected[0] >= 0
    assert 5 < n_triggered < 40  # both outcomes tested


def test_patch_trigger_skipping_equals_full_sums():
    """On camera waveforms (NSB bank, a compact image of 0-30 p.e. per pixel) the integer
    trigger, which skips the patches whose pixel maxima cannot reach the threshold,
    decides as the float sums over every patch; most patches are skipped."""
    from iactpipe.simulation.camera import CameraResponse
    from iactpipe.simulation.trigger import patch_sum_trigger, patch_sum_trigger_adc, patch_table

    sub = sst1m_subarray(tel_ids=(1, 2))
    patches = patch_table(sub.tel[1].camera.geometry)
    camera = CameraResponse(sub.tel[1].camera.readout, 1296)
    rng = np.random.default_rng(5)
    rates = camera.pixel_nsb_rates_mhz(rng)
    baseline = camera.baseline_adc + camera.baseline_shift_adc
    limit = 340.0 + 7 * baseline
    outcomes, skipped = [], []
    for amplitude in np.linspace(0, 30, 16):
        n_pe = np.zeros(1296, dtype=int)
        pix = rng.integers(0, 1296)
        members = patches[pix][patches[pix] >= 0]
        n_pe[members] = rng.poisson(amplitude, len(members))
        r0 = camera.r0_waveforms(rng, n_pe, np.full(1296, 80.0), np.full(1296, 2.0), rates)
        expected = patch_sum_trigger(r0.astype(np.float64) - baseline, patches, 340.0)
        assert patch_sum_trigger_adc(r0, patches, 340.0, baseline) == expected
        outcomes.append(expected[0] >= 0)
        full = patches[:, 6] >= 0
        skipped.append(np.mean(r0.max(axis=1)[patches[full]].sum(axis=1) <= limit))
    assert 0 < sum(outcomes) < len(outcomes)
    assert np.mean(skipped) > 0.9


@pytest.mark.parametrize("particle", ["gamma", "electron"])
def test_cascade_setup_renders_same_images(particle):
    """The batched render set-up (`CherenkovImageModel.cascade_setup`) gives, shower by
    shower, bit for bit the images, emission points and pre-selection of the per-shower
    set-up (diffuse showers, cores up to 600 m: rendered, partly and not rendered)."""
    from traitlets.config import Config

    from iactpipe.simulation.source import ToySimulationSource

    config = Config()
    config.ShowerGenerator.particle = particle
    config.ShowerGenerator.viewcone = 3.0 * u.deg
    config.ShowerGenerator.max_scatter_radius = 600 * u.m
    config.ShowerGenerator.energy_min = 0.1 * u.TeV
    source = ToySimulationSource(config=config)
    batch = source.generator(np.random.default_rng(7), 40)
    model, pos = source.image_model, source._tel_positions()
    setup = model.cascade_setup(batch, pos, batch.obs_height_m)
    n_rendered = 0
    for i in range(len(batch)):
        args = (batch, i, pos, batch.obs_height_m, source._min_render_pe)
        ref = model(np.random.default_rng([1, i]), *args)
        new = model(np.random.default_rng([1, i]), *args, setup=setup)
        np.testing.assert_array_equal(new.rendered, ref.rendered)
        for key in ("pe", "t_sum", "t2_sum"):
            np.testing.assert_array_equal(getattr(new, key), getattr(ref, key))
        for key in ("energy", "x_start", "start", "d_sub", "n_bunch", "d_main", "core"):
            np.testing.assert_array_equal(new.subs[key], ref.subs[key])
        n_rendered += ref.rendered.sum()
    assert 0 < n_rendered < 2 * len(batch)  # both cases met


def test_cascade_setup_none_for_protons():
    """Proton sub-showers are random per shower: no batched set-up."""
    from traitlets.config import Config

    from iactpipe.simulation.source import ToySimulationSource

    source = ToySimulationSource(config=Config({"ShowerGenerator": {"particle": "proton"}}))
    batch = source.generator(np.random.default_rng(7), 3)
    model = source.image_model
    assert model.cascade_setup(batch, source._tel_positions(), batch.obs_height_m) is None


def test_shower_profile_equals_sum_of_subshower_profiles():
    """`ShowerImages.profile` (all sub-showers at once) equals the Greisen profiles of a
    proton's sub-showers added one by one, bit for bit (so x_max is unchanged)."""
    from traitlets.config import Config

    from iactpipe.simulation.cherenkov import (
        CRITICAL_ENERGY_TEV,
        DEPTH_GRID_G_CM2,
        X0_G_CM2,
        ShowerImages,
        greisen_profile,
    )
    from iactpipe.simulation.source import ToySimulationSource

    source = ToySimulationSource(config=Config({"ShowerGenerator": {"particle": "proton"}}))
    batch = source.generator(np.random.default_rng(3), 20)
    for i in range(len(batch)):
        images = ShowerImages(2, 10)
        images.subs = source.image_model.subshowers(
            np.random.default_rng(i), batch, i, batch.obs_height_m
        )
        expected = np.zeros(len(DEPTH_GRID_G_CM2))
        for energy, x_start in zip(images.subs["energy"], images.subs["x_start"], strict=True):
            t = (DEPTH_GRID_G_CM2 - x_start) / X0_G_CM2
            expected[t > 0] += greisen_profile(np.log(energy / CRITICAL_ENERGY_TEV), t[t > 0])
        assert len(images.subs["energy"]) > 1
        np.testing.assert_array_equal(images.profile, expected)


def test_r1_calibration_kernel_equals_numpy():
    """`CameraResponse.r1_from_r0` (one numba pass) gives the values of the numpy
    expression it replaced, bit for bit."""
    from iactpipe.simulation.camera import PULSE_AREA_NS, CameraResponse

    camera = CameraResponse(sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.readout, 1296)
    rng = np.random.default_rng(5)
    rates = camera.pixel_nsb_rates_mhz(rng)
    r0 = rng.integers(250, 4096, size=(1296, camera.n_samples)).astype(np.uint16)
    gain = camera.gain_adc_per_pe * camera.gain_factor
    rate_ghz = rates[:, np.newaxis] * 1e-3
    baseline = camera.baseline_adc + rate_ghz * (1 + camera.cross_talk) * PULSE_AREA_NS * gain
    expected = ((r0 - baseline) / gain * camera.r1_scale).astype(np.float32)
    np.testing.assert_array_equal(camera.r1_from_r0(r0, rates), expected)


def test_time_moments_kernel_equals_numpy():
    """The one-pass time moments equal the numpy expressions they replaced, bit for bit,
    with empty pixels (0) and pixels whose variance rounds below 0 (clipped)."""
    from iactpipe.simulation.cherenkov import ShowerImages

    rng = np.random.default_rng(4)
    images = ShowerImages(2, 1296)
    lit = rng.random((2, 1296)) < 0.3
    images.pe[lit] = rng.exponential(3.0, lit.sum())
    t = rng.normal(80.0, 3.0, (2, 1296))
    images.t_sum[lit] = (images.pe * t)[lit]
    images.t2_sum[lit] = (images.pe * t * t)[lit]
    mean, spread = images.time_moments()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_mean = np.where(images.pe > 0, images.t_sum / images.pe, 0.0)
        var = np.where(images.pe > 0, images.t2_sum / images.pe, 0.0) - expected_mean**2
    np.testing.assert_array_equal(mean, expected_mean)
    np.testing.assert_array_equal(spread, np.sqrt(np.clip(var, 0.0, None)))
    assert np.all(mean[~lit] == 0) and np.any(var[lit] < 0)


def test_scalar_interp_equals_numpy_interp():
    """`render_kernels._interp` (one float, no allocation) gives ``np.interp``'s values
    bit for bit: inside, at and outside the grid, on flat steps (repeated ``xp``)."""
    from iactpipe.simulation.render_kernels import _interp, subshower_track

    rng = np.random.default_rng(9)
    t_grid, cdf, _ = subshower_track(3.0, 0.3)
    flat = np.concatenate([np.linspace(0, 0.4, 50), np.full(20, 0.4), np.linspace(0.4, 1, 30)])
    for xp, fp in ((cdf, t_grid), (flat, np.arange(100.0) ** 1.5)):
        xs = np.concatenate([rng.uniform(-0.1, 1.1, 3000), xp, [0.4, np.nan]])
        expected = np.interp(xs, xp, fp)
        got = np.array([_interp(x, xp, fp) for x in xs])
        np.testing.assert_array_equal(got, expected)


def test_render_shortcuts_reject_only_what_the_ring_rejects():
    """The cheap rejections of `render_bunches` (`_may_reach` before the emission point's
    trigonometry, ``cos_edge`` before the Cherenkov angle's) reject an (emission point,
    telescope) pair only when the exact test (cos psi below cos of the ring's outer edge)
    rejects it too, on random geometries with many pairs near that edge; and they reject
    a good share of the points (otherwise they would save nothing)."""
    from iactpipe.simulation.atmosphere import N_EXCESS0, SCALE_HEIGHT_M
    from iactpipe.simulation.geometry import altaz_to_ground_vector
    from iactpipe.simulation.render_kernels import (
        _axis_coordinates,
        _may_reach,
        _perpendicular_basis,
        _ring_edge,
    )

    rng = np.random.default_rng(3)
    tel_pos = np.array([[-60.0, 40.0, 2.0], [70.0, -30.0, 0.0], [300.0, 200.0, 0.0]])
    active = np.ones(3, bool)
    n_points = n_rejected = 0
    for _ in range(300):
        d = altaz_to_ground_vector(np.deg2rad(rng.uniform(40, 90)), rng.uniform(0, 2 * np.pi))
        e1, e2 = _perpendicular_basis(d)
        start = np.array([rng.uniform(-400, 400), rng.uniform(-400, 400), 0.0])
        start += rng.uniform(8e3, 2e4) / d[2] * d
        ring_w = rng.choice([0.1, 0.25, 0.4])
        coords = [_axis_coordinates(t, start, d) for t in tel_pos]
        tel_along = np.array([c[0] for c in coords])
        tel_off_axis = np.array([c[1] for c in coords])
        for _ in range(100):
            along = -rng.uniform(0, 1.5e4)
            r = rng.exponential(20.0)
            exp_h = np.exp(-((start + along * d)[2]) / SCALE_HEIGHT_M)
            theta_c = np.arccos(1.0 / (1.0 + N_EXCESS0 * exp_h))
            edge_exact = min(theta_c + 5.0 * ring_w * theta_c + 1e-9, np.pi)
            phi, beta = rng.uniform(0, 2 * np.pi, 2)
            p = start + along * d + r * (np.cos(phi) * e1 + np.sin(phi) * e2)
            v = tel_pos - p
            u = v / np.linalg.norm(v, axis=1)[:, np.newaxis]
            # electron angle near the (farthest) telescope's angle from the axis plus the
            # ring edge: about half of the points could be rejected for every telescope
            gamma = np.arccos(np.clip(u @ -d, -1, 1))
            alpha = max(gamma.max() + edge_exact + rng.normal(0, 3e-3), 0.0)
            e_dir = -np.cos(alpha) * d + np.sin(alpha) * (np.cos(beta) * e1 + np.sin(beta) * e2)
            cos_psi = u @ e_dir
            exact_reject = cos_psi < np.cos(edge_exact)
            edge = _ring_edge(exp_h, 1.0 + 5.0 * ring_w)
            assert edge >= edge_exact
            cheap_reject = cos_psi < 1.0 - 0.5 * edge * edge - 1e-12
            assert np.all(exact_reject[cheap_reject])
            reaches = _may_reach(alpha, along, r, edge, active, tel_along, tel_off_axis)
            if not reaches:
                assert np.all(exact_reject)
                n_rejected += 1
            n_points += 1
    assert 0.1 < n_rejected / n_points < 0.6


def test_prefetch_changes_nothing():
    """`prefetch` compiles into a kernel and leaves the values alone (also for indices
    past the end: a prefetch never faults)."""
    from numba import njit

    from iactpipe.simulation.prefetch import prefetch

    @njit
    def total(a):
        s = 0.0
        for i in range(a.shape[0]):
            prefetch(a, i + 64)
            s += a[i]
        return s

    a = np.arange(1000.0)
    assert total(a) == a.sum()


def test_prefetch_write_changes_nothing():
    """`prefetch_write` compiles into a kernel and changes no value of the array (also
    for indices past the end)."""
    from numba import njit

    from iactpipe.simulation.prefetch import prefetch_write

    @njit
    def touch(a):
        for i in range(0, a.shape[0] + 64, 8):
            prefetch_write(a, i)

    a = np.arange(1000, dtype=np.uint16)
    touch(a)
    np.testing.assert_array_equal(a, np.arange(1000, dtype=np.uint16))


def test_digitise_equals_round_then_saturate():
    """`digitise_plain` (saturated before rounding) gives ``np.round`` then the
    saturation at 0 and ``adc_max``, on values around both bounds and half-integers;
    `_digitise_bank_window` gives `digitise_plain` of the bank window in ADC."""
    from iactpipe.simulation.nsb_bank import (
        _BANK_STEP_ADC,
        _digitise_bank_window,
        digitise_plain,
    )

    rng = np.random.default_rng(21)
    wf = np.concatenate(
        [
            rng.uniform(-310.0, 3900.0, 400),
            np.arange(-305.5, -294.0, 0.5),  # around 0 after the baseline
            np.arange(3790.0, 3800.0, 0.25),  # around adc_max
        ]
    ).astype(np.float32)
    out = np.empty((1, len(wf)), dtype=np.uint16)
    digitise_plain(out, 0, wf, 300.0, 4095)
    expected = np.clip(np.round(wf.astype(np.float64) + 300.0), 0, 4095)
    np.testing.assert_array_equal(out[0], expected)
    assert out.min() == 0 and out.max() == 4095

    bank = rng.integers(-32768, 32768, 5000).astype(np.int16)
    for at in (0, 17, 4950):
        window = np.empty((2, 50), dtype=np.uint16)
        _digitise_bank_window(window, 1, bank, at, 300.0, 4095)
        wf = (bank[at : at + 50] * _BANK_STEP_ADC).astype(np.float32)
        digitise_plain(window, 0, wf, 300.0, 4095)
        np.testing.assert_array_equal(window[1], window[0])


def _camera_inputs(seed: int):
    """A camera with a bright image on a few hundred pixels, its NSB rates and inputs."""
    from iactpipe.simulation.camera import CameraResponse

    camera = CameraResponse(sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.readout, 1296)
    rng = np.random.default_rng(seed)
    rates = camera.pixel_nsb_rates_mhz(rng)
    n_pe = np.where(rng.random(1296) < 0.2, rng.poisson(30.0, 1296), 0)
    times = rng.uniform(60.0, 100.0, 1296)
    spreads = rng.uniform(0.0, 3.0, 1296)
    return camera, rates, n_pe, times, spreads


def test_fused_bank_kernel_equals_offsets_then_synthesis():
    """`synthesise_camera_bank` (one call, flat arguments) gives the R0 of `bank_offsets`
    followed by `synthesise_r0_bank` with the `PulseSettings` of the camera, bit for bit,
    and uses every p.e. word (a change of the word layout would show)."""
    from iactpipe.simulation.camera import NORMAL_16BIT
    from iactpipe.simulation.nsb_bank import (
        bank_offsets,
        synthesise_camera_bank,
        synthesise_r0_bank,
    )

    camera, rates, n_pe, times, spreads = _camera_inputs(11)
    bank = camera.nsb_bank(rates)
    const = camera._synthesis_constants()
    n_nsb = np.random.default_rng(12).poisson(0.3, 1296)
    raw = np.random.default_rng(13).bit_generator.random_raw(n_pe.sum() + n_nsb.sum() + 1296)
    fused = np.empty((1296, camera.n_samples), dtype=np.uint16)
    synthesise_camera_bank(
        raw, n_pe, n_nsb, times, spreads, const["params"], camera._cross_talk_cdf,
        camera._phases, NORMAL_16BIT, bank.waveforms, bank.group_start, bank.order, fused,
    )  # fmt: skip
    offsets, visit = np.empty(1296, dtype=np.int64), np.empty(1296, dtype=np.int64)
    stride = camera.n_samples + camera._phases.shape[1]
    n_words = len(raw) - 1296
    bank_offsets(
        raw[n_words:], bank.group_start, bank.order, camera.nsb_bank_samples, stride,
        offsets, visit,
    )  # fmt: skip
    expected = np.empty_like(fused)
    synthesise_r0_bank(
        raw, n_pe, n_nsb, times, spreads, const["pulse"], camera.baseline_adc, camera.adc_max,
        bank.waveforms, offsets, visit, expected,
    )  # fmt: skip
    np.testing.assert_array_equal(fused, expected)
    # the last p.e. word feeds the last pulse: another value there changes the waveforms
    raw[n_words - 1] = ~raw[n_words - 1]
    synthesise_camera_bank(
        raw, n_pe, n_nsb, times, spreads, const["params"], camera._cross_talk_cdf,
        camera._phases, NORMAL_16BIT, bank.waveforms, bank.group_start, bank.order, fused,
    )  # fmt: skip
    assert not np.array_equal(fused, expected)


@pytest.mark.parametrize("method", ["bank", "pulses"])
def test_cached_constants_follow_trait_changes(method):
    """`CameraResponse.r0_waveforms` keeps its per-camera constants between calls; a
    trait changed afterwards (also on a pickled copy) gives the waveforms of a camera
    made with that setting."""
    from iactpipe.simulation.camera import CameraResponse

    camera, rates, n_pe, times, spreads = _camera_inputs(14)
    camera.nsb_method = method
    before = camera.r0_waveforms(np.random.default_rng(15), n_pe, times, spreads, rates)
    # a pickled copy (as sent to another process) keeps the handler that drops the cache
    camera = pickle.loads(pickle.dumps(camera))
    camera.gain_adc_per_pe = 25.0
    camera.dead_pixels = [3, 700]
    after = camera.r0_waveforms(np.random.default_rng(15), n_pe, times, spreads, rates)
    fresh = CameraResponse(
        sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.readout,
        1296,
        nsb_method=method,
        gain_adc_per_pe=25.0,
        dead_pixels=[3, 700],
    )
    expected = fresh.r0_waveforms(np.random.default_rng(15), n_pe, times, spreads, rates)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, expected)
    np.testing.assert_array_equal(camera.r1_from_r0(after, rates), fresh.r1_from_r0(after, rates))


def test_pixel_lookup_equals_kd_tree_table():
    """`PixelLookup` (each pixel visits the cells within its outer radius) gives the table
    of the nearest-centre k-d tree query it replaced (distance above the radius: -1), for
    the SST-1M camera and a square-pixel camera."""
    from ctapipe.instrument import CameraGeometry
    from scipy.spatial import cKDTree

    from iactpipe.simulation.pixel_lookup import PixelLookup

    cameras = [
        sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.geometry,
        CameraGeometry.make_rectangular(npix_x=20, npix_y=12),
    ]
    for geometry in cameras:
        lookup = PixelLookup(geometry)
        x, y = geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m)
        r_out = np.sqrt(geometry.pix_area.to_value(u.m**2).max() / (1.5 * np.sqrt(3)))
        nx, ny = lookup.table.shape
        gx, gy = np.meshgrid(
            lookup.x0 + (np.arange(nx) + 0.5) * lookup.cell_m,
            lookup.y0 + (np.arange(ny) + 0.5) * lookup.cell_m,
            indexing="ij",
        )
        dist, idx = cKDTree(np.column_stack([x, y])).query(
            np.column_stack([gx.ravel(), gy.ravel()])
        )
        idx[dist > r_out] = -1
        np.testing.assert_array_equal(lookup.table, idx.reshape(nx, ny))
        assert lookup.table.dtype == np.int32
        assert 0 < np.mean(lookup.table >= 0) < 1  # pixels and gaps both met


def test_numba_generator_draws_numpys_numbers():
    """numba's ``Generator.uniform`` / ``standard_normal`` in a kernel give NumPy's
    numbers and leave the generator in NumPy's state, over enough normals to meet the
    ziggurat's rejections and tail (|x| > 3.65)."""
    from numba import njit

    @njit
    def draw(rng, n):
        return rng.uniform(1e-12, 1.0, (n, 5)), rng.standard_normal((2, n, 2))

    a, b = np.random.default_rng([4, 0, 1, 7]), np.random.default_rng([4, 0, 1, 7])
    rnd, gauss = draw(a, 300_000)
    np.testing.assert_array_equal(rnd, b.uniform(1e-12, 1.0, size=(300_000, 5)))
    expected = b.standard_normal(size=(2, 300_000, 2))
    np.testing.assert_array_equal(gauss, expected)
    assert np.sum(np.abs(expected) > 3.7) > 50
    assert a.random() == b.random()


def test_draw_and_render_equals_render_with_numpy_draws():
    """`draw_and_render_subshowers` (random numbers drawn in the kernel) renders the
    images of `render_subshowers` given NumPy's draws, bit for bit, and leaves the shower
    stream where NumPy's draws leave it; with one telescope not rendered."""
    from traitlets.config import Config

    from iactpipe.simulation import cherenkov
    from iactpipe.simulation.render_kernels import draw_and_render_subshowers
    from iactpipe.simulation.source import ToySimulationSource

    source = ToySimulationSource(config=Config({"ShowerGenerator": {"particle": "proton"}}))
    batch = source.generator(np.random.default_rng(11), 6)
    pos = source._tel_positions()
    model = source.image_model
    lookup = model.lookup
    for i in range(len(batch)):
        subs = model.subshowers(np.random.default_rng(i), batch, i, batch.obs_height_m)
        active = np.array([True, i % 2 == 0])
        images = [cherenkov.ShowerImages(2, lookup.n_pixels) for _ in range(2)]
        rngs = [np.random.default_rng([2, i]) for _ in range(2)]
        n_total = int(subs["n_bunch"].sum())
        common = (
            active, pos, batch.obs_height_m, batch.pointing_alt_rad[i],
            batch.pointing_az_rad[i], model.focal_m, lookup.table, lookup.x0, lookup.y0,
            lookup.cell_m, model.params,
        )  # fmt: skip
        geometry = [subs[k] for k in ("energy", "x_start", "start", "d_sub", "n_bunch")]
        geometry += [1.0, subs["d_main"], subs["core"]]
        cherenkov.render_subshowers(
            *geometry,
            rngs[0].uniform(1e-12, 1.0, size=(n_total, 5)),
            rngs[0].standard_normal(size=(2, n_total, 2)),
            *common,
            images[0].pe,
            images[0].t_sum,
            images[0].t2_sum,
        )
        draw_and_render_subshowers(
            rngs[1], *geometry, *common, images[1].pe, images[1].t_sum, images[1].t2_sum
        )
        for key in ("pe", "t_sum", "t2_sum"):
            np.testing.assert_array_equal(getattr(images[1], key), getattr(images[0], key))
        assert images[0].pe.sum() > 0
        assert rngs[0].random() == rngs[1].random()


def test_patch_table_equals_neighbor_lists():
    from iactpipe.simulation.trigger import patch_table

    geometry = sst1m_subarray(tel_ids=(1, 2)).tel[1].camera.geometry
    expected = np.full((geometry.n_pixels, 7), -1, dtype=np.int64)
    for pix, neighbors in enumerate(geometry.neighbors):
        members = [pix, *neighbors][:7]
        expected[pix, : len(members)] = members
    np.testing.assert_array_equal(patch_table(geometry), expected)


@pytest.mark.parametrize("sample_ns", [4.0, 3.0])
@pytest.mark.parametrize("stop_ns", [1000.0, 1150.0])
def test_nsb_bank_stream_equals_pulse_by_pulse(sample_ns, stop_ns):
    """`synthesise_nsb_bank` (its unrolled 250 MHz path, or the general one for another
    sampling or pulses past the buffer) gives the sums of `_add_pulse_padded` pulse by
    pulse, bit for bit."""
    from iactpipe.simulation.nsb_bank import _poisson_times, synthesise_nsb_bank
    from iactpipe.simulation.pulses import (
        NORMAL_16BIT,
        TABLE_START_NS,
        _add_pulse_padded,
        _poisson_16bit,
        phase_table,
    )

    phases = phase_table(sample_ns)
    cdf = np.cumsum([0.9, 0.08, 0.015, 0.005])
    cdf[-1] = 1.0
    rng = np.random.default_rng(11)
    n_samples = 250
    times = _poisson_times(rng, 0.3, -60.0, stop_ns)
    raw = rng.bit_generator.random_raw(len(times))
    out = np.empty(n_samples, dtype=np.float32)
    synthesise_nsb_bank(raw, times, cdf, 0.1, 5.7, sample_ns, phases, NORMAL_16BIT, out)
    pad = max(int(-(times[0] + TABLE_START_NS) / sample_ns) + 2, 0)
    ext = np.zeros(pad + n_samples + phases.shape[1], dtype=np.float32)
    for r, t in zip(raw, times, strict=True):
        n_xt = _poisson_16bit(r & np.uint64(0xFFFF), cdf)
        amp = (1 + n_xt) * (1 + 0.1 * float(NORMAL_16BIT[(int(r) >> 16) & 0xFFFF]))
        _add_pulse_padded(ext, pad, t, amp * 5.7, sample_ns, phases)
    np.testing.assert_array_equal(out.view(np.int32), ext[pad : pad + n_samples].view(np.int32))
