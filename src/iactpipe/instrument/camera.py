"""DigiCam, the SST-1M camera: pixel geometry and readout, built without external files.

Pixel layout
------------
DigiCam has 1296 hexagonal pixels on a regular hexagonal grid of pitch 24.3 mm. The
DigiCam pixel mapping (``digicam_pixels_mapping_V5T.txt``, columns ``pixel_sw_id``,
``x_pixel``, ``y_pixel``) quotes the centres in a mechanical frame ``(u, v)`` where the
pixel rows are horizontal (constant ``v``). With integer row ``k`` and half-pitch column
``j`` (``j + k`` odd) the centres are

    u = j * pitch / 2,        v = (k + 1/3) * pitch * sqrt(3) / 2

(the camera centre lies on a triangle centroid of the grid, hence the 1/3). The pixels
are the lattice points inside a hexagon given by six half-planes::

    -36 <= j <= 35,    -71 <= j + 3k <= 71,    -69 <= j - 3k <= 73

and the software pixel id counts them row by row (``v`` ascending), and within a row
by ``u`` ascending. The ctapipe camera frame used by the SST-1M array description and by
sim_telarray is the mirror image ``(x, y) = (-v, -u)``.

The mapping quotes centres rounded to 0.01 mm; three of the 48 row coordinates are
0.01 mm off plain rounding of the ideal lattice (see `_ROW_V_QUIRKS_10UM`). We keep the
quoted values, then round to float32 as sim_telarray does, so that pixel positions are
bit-identical to the ones found in the SST-1M array description and in CTA prod4 files.
"""

from functools import cache
from importlib.resources import files

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.coordinates import CameraFrame
from ctapipe.instrument import CameraGeometry, CameraReadout, PixelShape
from ctapipe.instrument.camera.geometry import PixelGridType

from .optics import SST1M_EFFECTIVE_FOCAL_LENGTH

__all__ = [
    "DIGICAM_N_PIXELS",
    "DIGICAM_PIXEL_PITCH",
    "DIGICAM_PIXEL_FLAT_TO_FLAT",
    "DIGICAM_SAMPLING_RATE",
    "DIGICAM_N_SAMPLES",
    "digicam_geometry",
    "digicam_readout",
]

DIGICAM_NAME = "DigiCam"
DIGICAM_N_PIXELS = 1296
#: Distance between neighbouring pixel centres.
DIGICAM_PIXEL_PITCH = 24.3 * u.mm
#: Flat-to-flat size of the hexagon used for the pixel area (the light-sensitive part,
#: smaller than the pitch), as in the sim_telarray camera definition.
DIGICAM_PIXEL_FLAT_TO_FLAT = 23.3 * u.mm
DIGICAM_SAMPLING_RATE = 250 * u.MHz
DIGICAM_N_SAMPLES = 50
DIGICAM_N_CHANNELS = 1

# Half-plane bounds of the hexagonal footprint, in lattice units (see module docstring).
_J_RANGE = (-36, 35)
_J_PLUS_3K_RANGE = (-71, 71)
_J_MINUS_3K_RANGE = (-69, 73)
_K_RANGE = (-24, 23)

# Rows whose quoted v (in the DigiCam mapping) is 0.01 mm off the rounded ideal lattice,
# as {k: correction in units of 10 um}. Keeping them makes positions match the reference
# array description and sim_telarray files exactly.
_ROW_V_QUIRKS_10UM = {-18: -1, -9: -1, 9: 1}

_PULSE_RESOURCE = "digicam_reference_pulse.ecsv"


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to integers, halves away from zero (np.round would round halves to even)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def digicam_lattice() -> tuple[np.ndarray, np.ndarray]:
    """Integer lattice coordinates ``(j, k)`` of the DigiCam pixels in software-id order.

    Returns
    -------
    j, k : numpy.ndarray
        Half-pitch column and row indices in the DigiCam mechanical frame; element ``i``
        belongs to the pixel with software id ``i``.
    """
    k, j = np.mgrid[_K_RANGE[0] : _K_RANGE[1] + 1, _J_RANGE[0] : _J_RANGE[1] + 1]
    j, k = j.ravel(), k.ravel()
    inside = (
        ((j + k) % 2 == 1)
        & (j + 3 * k >= _J_PLUS_3K_RANGE[0])
        & (j + 3 * k <= _J_PLUS_3K_RANGE[1])
        & (j - 3 * k >= _J_MINUS_3K_RANGE[0])
        & (j - 3 * k <= _J_MINUS_3K_RANGE[1])
    )
    # mgrid is already ordered by k, then j: exactly the software-id order
    return j[inside], k[inside]


def _pixel_positions() -> tuple[u.Quantity, u.Quantity]:
    """Pixel centres in the ctapipe camera frame, as quoted by the DigiCam mapping."""
    j, k = digicam_lattice()
    pitch_10um = DIGICAM_PIXEL_PITCH.to_value(u.um) / 10
    # u is an exact multiple of 0.01 mm; v is rounded to 0.01 mm like the mapping
    u_10um = j * pitch_10um / 2
    v_10um = _round_half_away((k + 1 / 3) * pitch_10um * np.sqrt(3) / 2)
    v_10um += np.array([_ROW_V_QUIRKS_10UM.get(row, 0) for row in k])
    # mechanical (u, v) -> ctapipe camera frame (x, y) = (-v, -u); float32 like sim_telarray
    x = (-v_10um * 1e-5).astype(np.float32).astype(np.float64)
    y = (-u_10um * 1e-5).astype(np.float32).astype(np.float64)
    return u.Quantity(x, u.m), u.Quantity(y, u.m)


def digicam_geometry(focal_length: u.Quantity = SST1M_EFFECTIVE_FOCAL_LENGTH) -> CameraGeometry:
    """The DigiCam pixel geometry: 1296 hexagonal pixels in software-id order.

    Parameters
    ----------
    focal_length : astropy.units.Quantity
        Focal length of the `~ctapipe.coordinates.CameraFrame` attached to the geometry;
        defaults to the SST-1M effective focal length, as ctapipe uses for reconstruction.

    Returns
    -------
    ctapipe.instrument.CameraGeometry
    """
    pix_x, pix_y = _pixel_positions()
    flat = DIGICAM_PIXEL_FLAT_TO_FLAT.to_value(u.m)
    area = np.float32(np.sqrt(3) / 2 * flat**2).astype(np.float64)
    return CameraGeometry(
        name=DIGICAM_NAME,
        pix_id=np.arange(DIGICAM_N_PIXELS),
        pix_x=pix_x,
        pix_y=pix_y,
        pix_area=np.full(DIGICAM_N_PIXELS, area) * u.m**2,
        pix_type=PixelShape.HEXAGON,
        grid_type=PixelGridType.REGULAR_HEX,
        pix_rotation=30 * u.deg,
        cam_rotation=0 * u.deg,
        frame=CameraFrame(focal_length=focal_length),
    )


@cache
def _reference_pulse() -> tuple[np.ndarray, u.Quantity]:
    """Read the shipped template once; the returned array is read-only."""
    path = files("iactpipe") / "resources" / "instrument" / _PULSE_RESOURCE
    with path.open("r") as stream:
        table = Table.read(stream.read(), format="ascii.ecsv")
    shape = np.zeros((DIGICAM_N_CHANNELS, table.meta["n_samples_full"]))
    shape[0, : len(table)] = table["amplitude"]
    shape.flags.writeable = False
    return shape, table.meta["sample_width_ns"] * u.ns


def digicam_readout() -> CameraReadout:
    """The DigiCam readout: 1 gain channel, 50 samples at 250 MHz, reference pulse shape.

    The reference pulse (1520 samples of 0.1 ns, peak-normalised) is the mean of the
    templates measured for telescopes 21 and 22, shipped as package data and produced by
    `iactpipe.instrument._make_pulse_template`.

    Returns
    -------
    ctapipe.instrument.CameraReadout
    """
    shape, sample_width = _reference_pulse()
    return CameraReadout(
        name=DIGICAM_NAME,
        sampling_rate=DIGICAM_SAMPLING_RATE.to(u.GHz),
        reference_pulse_shape=shape.copy(),
        reference_pulse_sample_width=sample_width,
        n_channels=DIGICAM_N_CHANNELS,
        n_pixels=DIGICAM_N_PIXELS,
        n_samples=DIGICAM_N_SAMPLES,
    )
