"""DigiCam geometry and readout, without external data."""

import astropy.units as u
import numpy as np
import pytest
from ctapipe.instrument import PixelShape

from iactpipe.instrument import digicam_geometry, digicam_readout
from iactpipe.instrument.camera import digicam_lattice


@pytest.fixture(scope="module")
def geometry():
    return digicam_geometry()


def test_pixel_count_and_ids(geometry):
    assert geometry.n_pixels == 1296
    np.testing.assert_array_equal(geometry.pix_id, np.arange(1296))
    assert geometry.pix_type == PixelShape.HEXAGON
    assert u.isclose(geometry.pix_rotation, 30 * u.deg)


def test_hex_grid_neighbours(geometry):
    n_neighbours = geometry.neighbor_matrix.sum(axis=1)
    border = geometry.get_border_pixel_mask(width=1)
    # a regular hex grid: every pixel not on the border has 6 neighbours, none has more
    assert np.all(n_neighbours[~border] == 6)
    assert n_neighbours.max() == 6
    assert np.count_nonzero(~border) > 1000


def test_neighbour_distance_is_pitch(geometry):
    rows, cols = geometry.neighbor_matrix_sparse.nonzero()
    distance = np.hypot(
        geometry.pix_x[rows] - geometry.pix_x[cols], geometry.pix_y[rows] - geometry.pix_y[cols]
    )
    # positions are quoted to 0.01 mm, so neighbour distances scatter by a few um
    np.testing.assert_allclose(distance.to_value(u.mm), 24.3, atol=0.02)


def test_pixels_unique_and_centred(geometry):
    xy = np.column_stack([geometry.pix_x.to_value(u.mm), geometry.pix_y.to_value(u.mm)])
    assert len(np.unique(np.round(xy, 2), axis=0)) == 1296
    # the footprint is hexagonal around the optical axis to within one pixel pitch
    assert np.all(np.abs(xy.mean(axis=0)) < 24.3)


def test_lattice_order_is_row_major():
    j, k = digicam_lattice()
    assert len(j) == 1296
    assert np.all(np.diff(k) >= 0)
    same_row = np.diff(k) == 0
    assert np.all(np.diff(j)[same_row] == 2)


def test_pixel_area_is_hexagon_of_23_3_mm(geometry):
    expected = np.sqrt(3) / 2 * (23.3 * u.mm) ** 2
    np.testing.assert_allclose(
        geometry.pix_area.to_value(u.mm**2), expected.to_value(u.mm**2), rtol=1e-6
    )


def test_readout():
    readout = digicam_readout()
    assert u.isclose(readout.sampling_rate, 250 * u.MHz)
    assert readout.n_samples == 50
    assert readout.n_channels == 1
    assert readout.n_pixels == 1296
    assert readout.reference_pulse_shape.shape == (1, 1520)
    assert u.isclose(readout.reference_pulse_sample_width, 0.1 * u.ns)
    pulse = readout.reference_pulse_shape[0]
    assert np.argmax(pulse) * 0.1 == pytest.approx(28.0)
    assert pulse.max() == pytest.approx(1.0, abs=1e-3)


def test_readout_pulse_not_shared_between_calls():
    first = digicam_readout()
    first.reference_pulse_shape[:] = 0
    assert digicam_readout().reference_pulse_shape.max() > 0.9
