"""The built SST-1M subarray against the reference array description (external data)."""

import astropy.units as u
import numpy as np
import pytest

from iactpipe.instrument import sst1m_subarray

# The shipped pulse is the mean of the two measured templates (tel 21 and 22 differ by
# up to 0.016 of the peak), so it is within 0.0082 of each: tolerance 0.01 of the peak.
PULSE_ATOL = 0.01


@pytest.fixture(scope="module")
def built():
    return sst1m_subarray()


@pytest.mark.parametrize("tel_id", [21, 22])
def test_geometry(built, reference_subarray, tel_id):
    geom = built.tel[tel_id].camera.geometry
    ref = reference_subarray.tel[tel_id].camera.geometry
    assert geom.name == ref.name
    assert geom.n_pixels == ref.n_pixels
    np.testing.assert_allclose(geom.pix_x.to_value(u.m), ref.pix_x.to_value(u.m), rtol=0, atol=1e-6)
    np.testing.assert_allclose(geom.pix_y.to_value(u.m), ref.pix_y.to_value(u.m), rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        geom.pix_area.to_value(u.m**2), ref.pix_area.to_value(u.m**2), rtol=1e-6
    )
    assert geom.pix_type == ref.pix_type
    assert u.isclose(geom.pix_rotation, ref.pix_rotation)
    assert u.isclose(geom.cam_rotation, ref.cam_rotation)
    assert geom == ref


def test_positions_bit_identical(built, reference_subarray):
    # stronger than required: float32 rounding reproduces the stored values exactly
    geom = built.tel[21].camera.geometry
    ref = reference_subarray.tel[21].camera.geometry
    np.testing.assert_array_equal(geom.pix_x, ref.pix_x)
    np.testing.assert_array_equal(geom.pix_y, ref.pix_y)


def test_optics(built, reference_subarray):
    optics, ref = built.tel[21].optics, reference_subarray.tel[21].optics
    assert u.isclose(optics.effective_focal_length, ref.effective_focal_length, rtol=1e-7)
    assert u.isclose(optics.equivalent_focal_length, ref.equivalent_focal_length, rtol=1e-7)
    assert u.isclose(optics.mirror_area, ref.mirror_area, rtol=1e-6)
    assert optics.n_mirror_tiles == ref.n_mirror_tiles
    assert optics == ref


@pytest.mark.parametrize("tel_id", [21, 22])
def test_readout(built, reference_subarray, tel_id):
    readout = built.tel[tel_id].camera.readout
    ref = reference_subarray.tel[tel_id].camera.readout
    assert u.isclose(readout.sampling_rate, ref.sampling_rate)
    assert readout.n_samples == ref.n_samples
    assert readout.n_channels == ref.n_channels
    assert u.isclose(readout.reference_pulse_sample_width, ref.reference_pulse_sample_width)
    assert readout.reference_pulse_shape.shape == ref.reference_pulse_shape.shape
    np.testing.assert_allclose(
        readout.reference_pulse_shape, ref.reference_pulse_shape, rtol=0, atol=PULSE_ATOL
    )


def test_reference_telescopes_differ_only_by_pulse(reference_subarray):
    """Documents why the reference has two telescope types where we build one."""
    tel21, tel22 = reference_subarray.tel[21], reference_subarray.tel[22]
    assert str(tel21) == str(tel22) == "SST_1M_DigiCam"
    assert tel21.optics == tel22.optics
    assert tel21.camera.geometry == tel22.camera.geometry
    assert tel21.camera.readout != tel22.camera.readout
    difference = np.abs(
        tel21.camera.readout.reference_pulse_shape - tel22.camera.readout.reference_pulse_shape
    )
    assert 0.01 < difference.max() < 0.02
    assert len(reference_subarray.telescope_types) == 2


def test_layout(built, reference_subarray):
    assert tuple(built.tel_ids) == tuple(reference_subarray.tel_ids) == (21, 22)
    for tel_id in (21, 22):
        np.testing.assert_allclose(
            built.positions[tel_id].to_value(u.m),
            reference_subarray.positions[tel_id].to_value(u.m),
            rtol=0,
            atol=1e-6,
        )
    np.testing.assert_allclose(
        u.Quantity(built.reference_location.geocentric).to_value(u.m),
        u.Quantity(reference_subarray.reference_location.geocentric).to_value(u.m),
        rtol=0,
        atol=1e-3,
    )


def test_prod4_camera_matches(built, prod4_subarray):
    """CTA prod4 files use the same pixel positions and ordering (in metres, unrotated)."""
    prod4 = prod4_subarray.tel[1]
    ours = built.tel[21]
    assert prod4.camera.geometry == ours.camera.geometry
    np.testing.assert_array_equal(prod4.camera.geometry.pix_x, ours.camera.geometry.pix_x)
    np.testing.assert_array_equal(prod4.camera.geometry.pix_y, ours.camera.geometry.pix_y)
    assert prod4.optics == ours.optics
    # but the simulated reference pulse (490 samples of 0.4 ns) is a different shape
    assert prod4.camera.readout != ours.camera.readout
