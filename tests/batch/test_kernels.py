"""
The numba kernels of iactpipe.batch against ctapipe's per-event functions on the CTA
prod4 SST-1M simulation (real sim_telarray DigiCam waveforms).

Tolerances (per quantity, float32 images in both):
- charge, peak time: exact (same float32 roundings, see iactpipe.batch.extraction);
- cleaning masks, morphology, leakage pixel fractions, n_pixels: exact;
- Hillas and timing (same random draws of the LTS fit): rtol 1e-9 (float64 sums in a
  different order);
- leakage intensity, concentration, intensity and peak-time statistics: rtol 1e-5,
  atol 1e-4 (ctapipe sums the float32 image, and accumulates the mean, std, skewness
  and kurtosis of float32 arrays, in float32; the kernels in float64).
"""

import astropy.units as u
import numpy as np
import pytest
from ctapipe.calib import CameraCalibrator
from ctapipe.coordinates import TelescopeFrame
from ctapipe.fitting import FIT_RNG
from ctapipe.image import ImageProcessor, tailcuts_clean
from ctapipe.image.invalid_pixels import NeighborAverage
from ctapipe.io import EventSource

from iactpipe.batch.cleaning import clean_chunk
from iactpipe.batch.engine import _check_codes
from iactpipe.batch.extraction import extract_local_peak, interpolate_invalid_pixels
from iactpipe.batch.parameters import COLUMNS, parametrize_chunk
from iactpipe.image import sst_image_cleaning

FLOAT32_SUMS = [
    c
    for c in COLUMNS
    if c.startswith(("intensity_", "peak_time_", "concentration_", "leakage_intensity"))
]
EXACT = [c for c in COLUMNS if c.startswith(("morphology_", "leakage_pixels"))]


@pytest.fixture(scope="module")
def prod4(prod4_sst1m_path):
    """R1 waveforms and ctapipe's LocalPeakWindowSum 7/3 images of the prod4 file."""
    source = EventSource(prod4_sst1m_path)
    subarray = source.subarray
    calibrator = CameraCalibrator(
        subarray,
        image_extractor_type="LocalPeakWindowSum",
        invalid_pixel_handler_type=None,
        # sim_telarray's per-pixel time offsets: not applied by the batch engine, which
        # reads HDF5 R1 files without them (see BatchDL1Processor)
        apply_peak_time_shift=False,
    )
    rows = []
    with source:
        for event in source:
            calibrator(event)
            for tel_id, dl1 in event.dl1.tel.items():
                waveform = event.dl0.tel[tel_id].waveform[0]
                rows.append((tel_id, waveform, dl1.image, dl1.peak_time))
    extractor = calibrator.image_extractors["LocalPeakWindowSum"]
    tel_ids = np.array([r[0] for r in rows])
    return {
        "subarray": subarray,
        "geometry": subarray.tel[int(tel_ids[0])].camera.geometry,
        "waveforms": np.stack([r[1] for r in rows]).astype(np.float32),
        "charge": np.stack([r[2] for r in rows]),
        "peak_time": np.stack([r[3] for r in rows]),
        "rate": np.array([extractor.sampling_rate_ghz[t] for t in tel_ids]),
        "correction": np.array([extractor._calculate_correction(int(t))[0] for t in tel_ids]),
    }


def _csr(geometry):
    matrix = geometry.neighbor_matrix_sparse.tocsr()
    matrix.sort_indices()
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)


def _clean(data, picture, boundary, min_neighbors, time=(0, np.nan), main_island=False):
    n = len(data["charge"])
    indptr, indices = _csr(data["geometry"])
    return clean_chunk(
        data["charge"],
        data["peak_time"],
        np.broadcast_to(np.asarray(picture, float), data["charge"].shape).copy(),
        np.full(n, boundary, dtype=float),
        np.full(n, min_neighbors),
        np.zeros(n, dtype=bool),
        np.full(n, time[0]),
        np.full(n, time[1], dtype=float),
        np.full(n, main_island),
        indptr,
        indices,
    )


def test_extraction_equals_local_peak_window_sum(prod4):
    n = len(prod4["waveforms"])
    assert n == 129
    n_pixels, n_samples = prod4["waveforms"].shape[1:]
    charge, peak_time = extract_local_peak(
        prod4["waveforms"].reshape(n, -1),
        0,
        n_pixels,
        n_samples,
        0.0,
        1.0,
        np.full(n, 7),
        np.full(n, 3),
        prod4["rate"],
        prod4["correction"],
    )
    np.testing.assert_array_equal(charge, prod4["charge"])
    np.testing.assert_array_equal(peak_time, prod4["peak_time"])


def test_fixed_point_extraction_and_codes(prod4):
    """int16 fixed-point samples (look-up decoding) as ctapipe decodes them; extremes."""
    n = len(prod4["waveforms"])
    n_pixels, n_samples = prod4["waveforms"].shape[1:]
    offset, scale = 100.0, 8.0
    stored = np.round(prod4["waveforms"].reshape(n, -1) * scale + offset).astype(np.int16)
    decoded = ((stored.astype(np.float64) - offset) / scale).astype(np.float32)
    settings = (np.full(n, 7), np.full(n, 3), prod4["rate"], prod4["correction"])
    extremes = np.empty(2)
    charge, peak_time = extract_local_peak(
        stored, 0, n_pixels, n_samples, offset, scale, *settings, extremes
    )
    expected = extract_local_peak(decoded, 0, n_pixels, n_samples, 0.0, 1.0, *settings)
    np.testing.assert_array_equal(charge, expected[0])
    np.testing.assert_array_equal(peak_time, expected[1])
    np.testing.assert_array_equal(extremes, [stored.min(), stored.max()])
    codes = (-32768, 32767, -32767)  # NaN, +inf, -inf as ctapipe's int16 coding
    _check_codes(stored, 0, stored.shape[1], codes, extremes)  # no code: accepted
    stored[3, 17] = 32767
    extract_local_peak(stored, 0, n_pixels, n_samples, offset, scale, *settings, extremes)
    with pytest.raises(ValueError, match="NaN or infinite"):
        _check_codes(stored, 0, stored.shape[1], codes, extremes)


def test_interpolation_equals_neighbor_average(prod4):
    geometry = prod4["geometry"]
    handler = NeighborAverage(prod4["subarray"])
    indptr, indices = _csr(geometry)
    rng = np.random.default_rng(1)
    for i in range(0, 129, 16):
        invalid = rng.random(geometry.n_pixels) < 0.05
        invalid[geometry.neighbors[0]] = True  # pixel 0 without valid neighbours
        invalid[0] = True
        tel_id = prod4["subarray"].tel_ids[0]
        image, time = handler(
            tel_id, prod4["charge"][i].copy(), prod4["peak_time"][i].copy(), invalid[None]
        )
        ours_image, ours_time = prod4["charge"][i].copy(), prod4["peak_time"][i].copy()
        interpolate_invalid_pixels(ours_image, ours_time, invalid, indptr, indices)
        np.testing.assert_allclose(ours_image, image, rtol=1e-6)
        np.testing.assert_allclose(ours_time, time, rtol=1e-6)


@pytest.mark.parametrize("min_neighbors", [0, 2])
def test_tailcuts_equal_ctapipe(prod4, min_neighbors):
    masks = _clean(prod4, 8.0, 4.0, min_neighbors)
    geometry = prod4["geometry"]
    for charge, mask in zip(prod4["charge"], masks, strict=True):
        expected = tailcuts_clean(geometry, charge, 8.0, 4.0, False, min_neighbors)
        np.testing.assert_array_equal(mask, expected)
    assert masks.sum() > 500


def test_sst_cleaning_equals_iactpipe(prod4):
    """Per-pixel thresholds, the time constraint and the brightest island."""
    geometry = prod4["geometry"]
    picture = np.random.default_rng(2).uniform(5.0, 9.0, geometry.n_pixels)
    masks = _clean(prod4, picture, 3.0, 2, time=(1, 8.0), main_island=True)
    for charge, time, mask in zip(prod4["charge"], prod4["peak_time"], masks, strict=True):
        expected = sst_image_cleaning(
            geometry, charge, time, picture, 3.0, 2, False, 1, 8.0, main_island_only=True
        )
        np.testing.assert_array_equal(mask, expected)
    assert masks.sum() > 500


def test_parameters_equal_image_processor(prod4):
    subarray, geometry = prod4["subarray"], prod4["geometry"]
    masks = _clean(prod4, 6.0, 3.0, 2)
    valid = masks.sum(axis=1) > 0
    assert 50 < valid.sum() < len(valid)
    frame = geometry.transform_to(TelescopeFrame())
    indptr, indices = _csr(geometry)
    arrays = (
        frame.pix_x.to_value(u.deg),
        frame.pix_y.to_value(u.deg),
        frame.pix_area.to_value(u.deg**2),
        frame.pixel_width.to_value(u.deg),
        geometry.get_border_pixel_mask(1),
        geometry.get_border_pixel_mask(2),
        indptr,
        indices,
    )
    state = FIT_RNG.bit_generator.state
    ours = parametrize_chunk(prod4["charge"], prod4["peak_time"], masks, valid, arrays, FIT_RNG)
    FIT_RNG.bit_generator.state = state
    processor = ImageProcessor(subarray)
    tel_id = subarray.tel_ids[0]
    for row in np.nonzero(valid)[0]:
        expected = processor._parameterize_image(
            tel_id, prod4["charge"][row], masks[row], prod4["peak_time"][row]
        ).as_dict(recursive=True, flatten=True, add_prefix=True)
        for column, value in zip(COLUMNS, ours[row], strict=True):
            reference = u.Quantity(expected[column]).to_value(
                u.rad
                if column in ("hillas_phi", "hillas_psi", "hillas_psi_uncertainty")
                else u.Quantity(expected[column]).unit
            )
            if column in EXACT:
                assert value == reference, column
            elif column in FLOAT32_SUMS:
                np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-4, err_msg=column)
            else:
                np.testing.assert_allclose(value, reference, rtol=1e-9, err_msg=column)
    assert np.all(np.isnan(ours[~valid]))
