"""The SST-1M subarray built by iactpipe, without external data."""

import astropy.units as u
import numpy as np
import pytest
from ctapipe.instrument import SubarrayDescription

from iactpipe.instrument import (
    MC_TEL_IDS,
    ONDREJOV_LOCATION,
    sst1m_optics,
    sst1m_subarray,
    sst1m_telescope,
)


def test_default_subarray():
    subarray = sst1m_subarray()
    assert subarray.name == "SST1M_Ondrejov"
    assert tuple(subarray.tel_ids) == (21, 22)
    assert subarray.tel[21] is subarray.tel[22]
    assert len(subarray.telescope_types) == 1
    assert str(subarray.tel[21]) == "SST_1M_DigiCam"
    assert subarray.reference_location == ONDREJOV_LOCATION


def test_tel_ids_follow_positions():
    subarray = sst1m_subarray(tel_ids=(5, 3))
    assert subarray.positions[5][0] < 0 * u.m < subarray.positions[3][0]


@pytest.mark.parametrize("tel_ids", [(1,), (1, 2, 3), (1, 1)])
def test_bad_tel_ids(tel_ids):
    with pytest.raises(ValueError, match="distinct telescope ids"):
        sst1m_subarray(tel_ids=tel_ids)


def test_location():
    geodetic = ONDREJOV_LOCATION.geodetic
    assert geodetic.lon.deg == pytest.approx(14.7825, abs=1e-4)
    assert geodetic.lat.deg == pytest.approx(49.9124, abs=1e-4)
    assert geodetic.height.to_value(u.m) == pytest.approx(511.195, abs=1e-6)


def test_optics():
    optics = sst1m_optics()
    assert u.isclose(optics.effective_focal_length, 5.697 * u.m, atol=1 * u.mm)
    assert u.isclose(optics.equivalent_focal_length, 5.6 * u.m)
    assert optics.reflector_shape.value == "DAVIES_COTTON"


def test_descriptions_equal_between_calls():
    assert sst1m_telescope() == sst1m_telescope()
    assert hash(sst1m_telescope()) == hash(sst1m_telescope())


def test_hdf_round_trip(tmp_path):
    subarray = sst1m_subarray(tel_ids=MC_TEL_IDS)
    path = tmp_path / "subarray.h5"
    subarray.to_hdf(path)
    read = SubarrayDescription.from_hdf(path)
    assert read == subarray
    assert tuple(read.tel_ids) == MC_TEL_IDS
    assert read.tel[1] == subarray.tel[1]
    assert len(read.telescope_types) == 1
    np.testing.assert_array_equal(
        read.tel[1].camera.geometry.pix_x, subarray.tel[1].camera.geometry.pix_x
    )
