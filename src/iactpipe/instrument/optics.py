"""SST-1M optics: a 4 m Davies-Cotton dish of 18 hexagonal facets."""

import astropy.units as u
import numpy as np
from ctapipe.instrument import OpticsDescription, ReflectorShape, SizeType

__all__ = [
    "SST1M_EFFECTIVE_FOCAL_LENGTH",
    "SST1M_EQUIVALENT_FOCAL_LENGTH",
    "SST1M_MIRROR_AREA",
    "sst1m_optics",
]


def _float32(value: float) -> float:
    """The value as sim_telarray stores it.

    ctapipe compares optics by a hash of values rounded to 1e-4 m, and 5.69705 m sits
    right on a rounding edge: only the float32 value compares equal to the optics read
    from sim_telarray files and from the SST-1M array description.
    """
    return float(np.float32(value))


#: Focal length from ray tracing, correcting the mean coma aberration; ctapipe uses it
#: to go from camera to telescope frame (value of the sim_telarray configuration).
SST1M_EFFECTIVE_FOCAL_LENGTH = _float32(5.69705) * u.m
#: Nominal (paraxial) focal length of the Davies-Cotton dish.
SST1M_EQUIVALENT_FOCAL_LENGTH = _float32(5.6) * u.m
#: Total reflective area of the 18 facets (sim_telarray configuration, as found in the
#: SST-1M array description and in CTA prod4 files).
SST1M_MIRROR_AREA = _float32(9.418093) * u.m**2
SST1M_N_MIRROR_TILES = 18


def sst1m_optics() -> OpticsDescription:
    """The SST-1M optics description.

    ``name="1M"`` and size type SST give the telescope name ``SST_1M_DigiCam`` that
    ctapipe (and the reference array description) use for this telescope type.

    Returns
    -------
    ctapipe.instrument.OpticsDescription
    """
    return OpticsDescription(
        name="1M",
        size_type=SizeType.SST,
        n_mirrors=1,
        equivalent_focal_length=SST1M_EQUIVALENT_FOCAL_LENGTH,
        effective_focal_length=SST1M_EFFECTIVE_FOCAL_LENGTH,
        mirror_area=SST1M_MIRROR_AREA,
        n_mirror_tiles=SST1M_N_MIRROR_TILES,
        reflector_shape=ReflectorShape.DAVIES_COTTON,
    )
