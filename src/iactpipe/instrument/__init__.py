"""The SST-1M instrument, built by iactpipe itself (no downloads, no external files).

- `sst1m_subarray`: the two telescopes at Ondřejov (`ONDREJOV_LOCATION`).
- `sst1m_telescope`, `sst1m_optics`, `digicam_geometry`, `digicam_readout`: the parts.
- `MC_TEL_IDS`, `DATA_TEL_IDS`, `to_data_tel_id`, `to_mc_tel_id`, `relabel_subarray`:
  the one mapping between simulation (1, 2) and data (21, 22) telescope ids.
"""

from .camera import (
    DIGICAM_N_PIXELS,
    DIGICAM_N_SAMPLES,
    DIGICAM_PIXEL_FLAT_TO_FLAT,
    DIGICAM_PIXEL_PITCH,
    DIGICAM_SAMPLING_RATE,
    digicam_geometry,
    digicam_readout,
)
from .optics import (
    SST1M_EFFECTIVE_FOCAL_LENGTH,
    SST1M_EQUIVALENT_FOCAL_LENGTH,
    SST1M_MIRROR_AREA,
    sst1m_optics,
)
from .subarray import ONDREJOV_HEIGHT_M, ONDREJOV_LOCATION, SST1M_POSITIONS, sst1m_subarray
from .telescope import sst1m_telescope
from .telescope_ids import (
    DATA_TEL_IDS,
    DATA_TO_MC,
    MC_TEL_IDS,
    MC_TO_DATA,
    relabel_subarray,
    to_data_tel_id,
    to_mc_tel_id,
)

__all__ = [
    "DATA_TEL_IDS",
    "DATA_TO_MC",
    "DIGICAM_N_PIXELS",
    "DIGICAM_N_SAMPLES",
    "DIGICAM_PIXEL_FLAT_TO_FLAT",
    "DIGICAM_PIXEL_PITCH",
    "DIGICAM_SAMPLING_RATE",
    "MC_TEL_IDS",
    "MC_TO_DATA",
    "ONDREJOV_HEIGHT_M",
    "ONDREJOV_LOCATION",
    "SST1M_EFFECTIVE_FOCAL_LENGTH",
    "SST1M_EQUIVALENT_FOCAL_LENGTH",
    "SST1M_MIRROR_AREA",
    "SST1M_POSITIONS",
    "digicam_geometry",
    "digicam_readout",
    "relabel_subarray",
    "sst1m_optics",
    "sst1m_subarray",
    "sst1m_telescope",
    "to_data_tel_id",
    "to_mc_tel_id",
]
