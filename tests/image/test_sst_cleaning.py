"""Analytic unit tests of the SST-1M image cleaner on synthetic images."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import EarthLocation
from ctapipe.containers import CameraMonitoringContainer
from ctapipe.coordinates import CameraFrame
from ctapipe.image import ImageCleaner, ImageProcessor, tailcuts_clean
from ctapipe.instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    OpticsDescription,
    PixelShape,
    ReflectorShape,
    SizeType,
    SubarrayDescription,
    TelescopeDescription,
)
from traitlets import TraitError
from traitlets.config import Config

from iactpipe.image import (
    SSTImageCleaner,
    pixel_picture_thresholds,
    select_nsb_level,
    sst_image_cleaning,
    validate_nsb_levels,
)
from iactpipe.image.cleaning import DEFAULT_NSB_LEVELS

TEL_ID = 21
SST1M_ARRAY = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "instrument" / "sst1m_array.h5"
)


def _hexagonal_subarray() -> SubarrayDescription:
    """Two telescopes with a ~1300-pixel hexagonal camera, built without files."""
    spacing = 0.024  # m, DigiCam pixel pitch
    n_rings = 20
    coords = [
        (q, r)
        for q in range(-n_rings, n_rings + 1)
        for r in range(-n_rings, n_rings + 1)
        if abs(q + r) <= n_rings
    ]
    q, r = np.array(coords).T
    x = spacing * (q + r / 2)
    y = spacing * r * np.sqrt(3) / 2
    geometry = CameraGeometry(
        name="HexTestCam",
        pix_id=np.arange(len(x)),
        pix_x=u.Quantity(x, u.m),
        pix_y=u.Quantity(y, u.m),
        pix_area=u.Quantity(np.full(len(x), spacing**2 * np.sqrt(3) / 2), u.m**2),
        pix_type=PixelShape.HEXAGON,
        frame=CameraFrame(focal_length=5.6 * u.m),
    )
    readout = CameraReadout(
        name="HexTestCam",
        sampling_rate=250 * u.MHz,
        reference_pulse_shape=np.ones((1, 10)),
        reference_pulse_sample_width=1 * u.ns,
        n_channels=1,
        n_pixels=len(x),
        n_samples=50,
    )
    optics = OpticsDescription(
        name="SST-1M-like",
        size_type=SizeType.SST,
        n_mirrors=1,
        equivalent_focal_length=5.6 * u.m,
        effective_focal_length=5.6 * u.m,
        mirror_area=9.4 * u.m**2,
        n_mirror_tiles=18,
        reflector_shape=ReflectorShape.DAVIES_COTTON,
    )
    telescope = TelescopeDescription(
        name="SST", optics=optics, camera=CameraDescription("HexTestCam", geometry, readout)
    )
    return SubarrayDescription(
        name="hex-test",
        tel_positions={21: [0, 0, 0] * u.m, 22: [100, 0, 0] * u.m},
        tel_descriptions={21: telescope, 22: telescope},
        reference_location=EarthLocation(lon=14.78 * u.deg, lat=49.91 * u.deg, height=510 * u.m),
    )


@pytest.fixture(scope="module")
def subarray() -> SubarrayDescription:
    """The real SST-1M subarray (DigiCam) when shared data exist, else a hexagonal one."""
    if SST1M_ARRAY.exists():
        return SubarrayDescription.from_hdf(SST1M_ARRAY)
    return _hexagonal_subarray()


@pytest.fixture(scope="module")
def geometry(subarray) -> CameraGeometry:
    return subarray.tel[TEL_ID].camera.geometry


def _ring(geometry, pixels):
    """Pixels adjacent to ``pixels`` but not in it."""
    inside = np.zeros(geometry.n_pixels, dtype=bool)
    inside[list(pixels)] = True
    return np.flatnonzero(geometry.neighbor_matrix_sparse.dot(inside) & ~inside)


def _blob(geometry, center, core=20.0, ring=6.0):
    """Image with ``core`` p.e. in ``center`` and its neighbours, ``ring`` p.e. around."""
    image = np.zeros(geometry.n_pixels)
    core_pixels = np.append(geometry.neighbors[center], center)
    image[core_pixels] = core
    image[_ring(geometry, core_pixels)] = ring
    return image


def _center_pixel(geometry, x=0.0, y=0.0):
    distance = np.hypot(geometry.pix_x.to_value(u.m) - x, geometry.pix_y.to_value(u.m) - y)
    return int(np.argmin(distance))


def _monitoring(mean, std) -> CameraMonitoringContainer:
    monitoring = CameraMonitoringContainer()
    monitoring.pixel_statistics.pedestal_image.mean = mean
    monitoring.pixel_statistics.pedestal_image.std = std
    return monitoring


def test_bright_blob_survives(geometry):
    center = _center_pixel(geometry)
    image = _blob(geometry, center)
    times = np.full(geometry.n_pixels, 20.0)
    mask = sst_image_cleaning(geometry, image, times, 8.0, 4.0)
    np.testing.assert_array_equal(mask, image > 0)


def test_isolated_noise_pixels_removed(geometry):
    rng = np.random.default_rng(1)
    # 30 isolated pixels far above the picture threshold, pairwise non-adjacent
    image = np.zeros(geometry.n_pixels)
    chosen = []
    for pixel in rng.permutation(geometry.n_pixels):
        if not any(geometry.neighbor_matrix[pixel, other] for other in chosen):
            chosen.append(pixel)
        if len(chosen) == 30:
            break
    image[chosen] = 50.0
    times = rng.uniform(0, 100, geometry.n_pixels)
    assert not sst_image_cleaning(geometry, image, times, 8.0, 4.0).any()
    # keep_isolated_pixels keeps them, as in tailcuts_clean (time constraint off:
    # an isolated pixel has no neighbour to agree in time with)
    kept = sst_image_cleaning(
        geometry, image, times, 8.0, 4.0, keep_isolated_pixels=True, time_limit_ns=None
    )
    np.testing.assert_array_equal(kept, image > 0)


def test_time_constraint_removes_late_pixel(geometry):
    center = _center_pixel(geometry)
    image = _blob(geometry, center, ring=0.0)
    outer = _ring(geometry, np.flatnonzero(image))
    late = int(outer[0])
    image[late] = 15.0  # picture-level, adjacent to the blob
    times = np.full(geometry.n_pixels, 20.0)
    times[late] = 40.0  # 20 ns late: not from this shower

    without_time = sst_image_cleaning(geometry, image, times, 8.0, 4.0, time_limit_ns=None)
    assert without_time[late]

    mask = sst_image_cleaning(geometry, image, times, 8.0, 4.0, time_limit_ns=5.0)
    assert not mask[late]
    np.testing.assert_array_equal(mask, without_time & (np.arange(geometry.n_pixels) != late))

    # within the limit it stays
    times[late] = 23.0
    assert sst_image_cleaning(geometry, image, times, 8.0, 4.0, time_limit_ns=5.0)[late]


def test_time_constraint_needs_arrival_times(geometry):
    image = _blob(geometry, _center_pixel(geometry))
    with pytest.raises(ValueError, match="arrival_times"):
        sst_image_cleaning(geometry, image, None, 8.0, 4.0, time_limit_ns=5.0)


def test_pixel_picture_thresholds():
    std = np.array([1.0, 2.0, 5.0, np.nan])
    mean = np.array([0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(pixel_picture_thresholds(8.0, mean, std, 2.5), [8.0, 8.0, 13.0, 8.0])
    np.testing.assert_allclose(pixel_picture_thresholds(8.0, None, std, 2.0), [8, 8, 10, 8])
    assert pixel_picture_thresholds(8.0, None, None, 2.5) == 8.0


def test_high_pedestal_std_raises_picture_threshold(subarray, geometry):
    cleaner = SSTImageCleaner(subarray=subarray)
    center = _center_pixel(geometry)
    # a compact 7-pixel group at 9 p.e.: picture pixels at the dark 8 p.e. threshold
    group = np.append(geometry.neighbors[center], center)
    image = np.zeros(geometry.n_pixels)
    image[group] = 9.0
    times = np.full(geometry.n_pixels, 20.0)

    dark = np.full(geometry.n_pixels, 1.0)
    assert cleaner(TEL_ID, image, times, monitoring=_monitoring(None, dark))[group].all()

    # a star on the group: std 5 p.e. there -> picture threshold 2.5 * 5 = 12.5 p.e.
    starry = dark.copy()
    starry[group] = 5.0
    picture, _, _ = cleaner.thresholds(TEL_ID, _monitoring(None, starry))
    np.testing.assert_allclose(picture[group], 12.5)
    np.testing.assert_allclose(np.delete(picture, group), 8.0)
    assert not cleaner(TEL_ID, image, times, monitoring=_monitoring(None, starry)).any()

    # the pedestal mean adds to the threshold as well
    picture, _, _ = cleaner.thresholds(TEL_ID, _monitoring(np.full_like(dark, 1.0), starry))
    np.testing.assert_allclose(picture[group], 13.5)


def test_select_nsb_level():
    levels = validate_nsb_levels(DEFAULT_NSB_LEVELS)
    assert select_nsb_level(levels, 0.5) == 0
    assert select_nsb_level(levels, 1.5) == 0  # bound is inclusive
    assert select_nsb_level(levels, 1.6) == 1
    assert select_nsb_level(levels, 3.0) == 2
    assert select_nsb_level(levels, 100.0) == len(levels) - 1  # above all: noisiest
    assert select_nsb_level(levels, np.nan) is None
    assert select_nsb_level([], 1.0) is None


@pytest.mark.parametrize(
    ("median_std", "picture", "boundary"),
    [(1.0, 8.0, 4.0), (2.0, 10.0, 5.0), (3.5, 12.0, 6.0), (9.0, 12.0, 6.0)],
)
def test_nsb_level_selects_thresholds(subarray, median_std, picture, boundary):
    nsb_levels = [
        {**level, "min_picture_neighbors": i + 1} for i, level in enumerate(DEFAULT_NSB_LEVELS)
    ]
    cleaner = SSTImageCleaner(subarray=subarray, nsb_levels=nsb_levels, pedestal_std_factor=0.0)
    n_pixels = subarray.tel[TEL_ID].camera.geometry.n_pixels
    std = np.full(n_pixels, median_std)
    std[:10] = 50.0  # a few hot pixels do not move the median
    got_picture, got_boundary, got_neighbors = cleaner.thresholds(TEL_ID, _monitoring(None, std))
    np.testing.assert_allclose(got_picture, picture)
    assert got_boundary == boundary
    expected_index = [level["picture_threshold_pe"] for level in DEFAULT_NSB_LEVELS].index(picture)
    assert got_neighbors == expected_index + 1


def test_no_monitoring_or_no_levels_uses_traits(subarray):
    config = Config(
        {
            "SSTImageCleaner": {
                "picture_threshold_pe": [["type", "*", 7.0], ["id", 22, 9.0]],
                "boundary_threshold_pe": 3.5,
                "min_picture_neighbors": 3,
            }
        }
    )
    cleaner = SSTImageCleaner(subarray=subarray, config=config)
    assert cleaner.thresholds(21) == (7.0, 3.5, 3)
    assert cleaner.thresholds(22) == (9.0, 3.5, 3)
    # monitoring without pedestal statistics
    assert cleaner.thresholds(21, CameraMonitoringContainer()) == (7.0, 3.5, 3)

    config.SSTImageCleaner.nsb_levels = []
    cleaner = SSTImageCleaner(subarray=subarray, config=config)
    n_pixels = subarray.tel[21].camera.geometry.n_pixels
    picture, boundary, neighbors = cleaner.thresholds(21, _monitoring(None, np.full(n_pixels, 2.0)))
    np.testing.assert_allclose(picture, 7.0)  # 2.5 * 2.0 = 5 < 7
    assert (boundary, neighbors) == (3.5, 3)


def test_main_island_only_drops_second_island(geometry):
    x = geometry.pix_x.to_value(u.m)
    first = _center_pixel(geometry, x=0.3 * x.min())
    second = _center_pixel(geometry, x=0.3 * x.max())
    image = _blob(geometry, first, core=30.0) + _blob(geometry, second, core=12.0)
    times = np.full(geometry.n_pixels, 20.0)

    both = sst_image_cleaning(geometry, image, times, 8.0, 4.0)
    np.testing.assert_array_equal(both, image > 0)

    main = sst_image_cleaning(geometry, image, times, 8.0, 4.0, main_island_only=True)
    np.testing.assert_array_equal(main, _blob(geometry, first, core=30.0) > 0)


@pytest.mark.parametrize(
    ("levels", "match"),
    [
        ([{"max_pedestal_std_pe": 1.0, "picture_threshold_pe": 8.0}], "missing keys"),
        (
            [{**DEFAULT_NSB_LEVELS[0], "picture_treshold_pe": 8.0}],
            "unknown keys",
        ),
        (list(DEFAULT_NSB_LEVELS)[::-1], "sorted"),
        ([DEFAULT_NSB_LEVELS[0], DEFAULT_NSB_LEVELS[0]], "sorted"),
        ([{**DEFAULT_NSB_LEVELS[0], "picture_threshold_pe": "8"}], "must be a number"),
        ([{**DEFAULT_NSB_LEVELS[0], "min_picture_neighbors": 2.5}], "must be an integer"),
        ([{**DEFAULT_NSB_LEVELS[0], "boundary_threshold_pe": 9.0}], "boundary_threshold_pe >"),
        ([{**DEFAULT_NSB_LEVELS[0], "max_pedestal_std_pe": 0.0}], "must be > 0"),
        ([3.0], "mapping|expected a dict"),
    ],
)
def test_invalid_nsb_levels_raise(subarray, levels, match):
    with pytest.raises(TraitError, match=match):
        validate_nsb_levels(levels)
    # at construction, through the config system
    config = Config({"SSTImageCleaner": {"nsb_levels": levels}})
    with pytest.raises(TraitError, match=match):
        SSTImageCleaner(subarray=subarray, config=config)


def test_nsb_levels_from_yaml(subarray):
    text = """
    SSTImageCleaner:
      pedestal_std_factor: 3.0
      nsb_levels:
        - {max_pedestal_std_pe: 2.0, picture_threshold_pe: 8, boundary_threshold_pe: 4,
           min_picture_neighbors: 2}
        - {max_pedestal_std_pe: .inf, picture_threshold_pe: 11, boundary_threshold_pe: 5.5,
           min_picture_neighbors: 2}
    """
    cleaner = SSTImageCleaner(subarray=subarray, config=Config(yaml.safe_load(text)))
    n_pixels = subarray.tel[TEL_ID].camera.geometry.n_pixels
    picture, boundary, _ = cleaner.thresholds(TEL_ID, _monitoring(None, np.full(n_pixels, 3.0)))
    np.testing.assert_allclose(picture, 11.0)
    assert boundary == 5.5


@pytest.mark.parametrize("keep_isolated_pixels", [False, True])
@pytest.mark.parametrize("min_picture_neighbors", [0, 1, 2, 3])
def test_equals_tailcuts_without_pedestal_time_or_island(
    subarray, geometry, keep_isolated_pixels, min_picture_neighbors
):
    """Peer comparison: with those features off the cleaner is ctapipe's tailcuts."""
    cleaner = SSTImageCleaner(
        subarray=subarray,
        picture_threshold_pe=8.0,
        boundary_threshold_pe=4.0,
        min_picture_neighbors=min_picture_neighbors,
        keep_isolated_pixels=keep_isolated_pixels,
        time_limit_ns=None,
        main_island_only=False,
    )
    rng = np.random.default_rng(min_picture_neighbors)
    for _ in range(20):
        # noise plus a few random showers-like blobs, so every branch gets pixels
        image = rng.normal(1.5, 2.5, geometry.n_pixels)
        for center in rng.integers(0, geometry.n_pixels, 3):
            image += _blob(geometry, center, core=rng.uniform(5, 30), ring=rng.uniform(2, 8))
        expected = tailcuts_clean(
            geometry,
            image,
            picture_thresh=8.0,
            boundary_thresh=4.0,
            keep_isolated_pixels=keep_isolated_pixels,
            min_number_picture_neighbors=min_picture_neighbors,
        )
        np.testing.assert_array_equal(cleaner(TEL_ID, image, None), expected)
        assert expected.any()


def test_registered_for_image_processor(subarray):
    import iactpipe.image  # noqa: F401  (the import is what registers the cleaner)

    assert SSTImageCleaner in ImageCleaner.non_abstract_subclasses().values()
    processor = ImageProcessor(subarray=subarray, image_cleaner_type="SSTImageCleaner")
    assert isinstance(processor.clean, SSTImageCleaner)

    # and the processor's call signature reaches it, with monitoring
    geometry = subarray.tel[TEL_ID].camera.geometry
    image = _blob(geometry, _center_pixel(geometry))
    mask = processor.clean(
        TEL_ID,
        image,
        np.full(geometry.n_pixels, 20.0),
        monitoring=_monitoring(None, np.full(geometry.n_pixels, 1.0)),
    )
    np.testing.assert_array_equal(mask, image > 0)
