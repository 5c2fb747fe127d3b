"""
Batch R1 -> DL1: numba kernels over chunks of telescope events (``iactpipe-r0-dl1
--engine=batch``), reproducing the per-event ctapipe components.

Modules: `reader` (chunked HDF5 R1 reading), `extraction`, `cleaning`, `parameters`
(numba kernels), `monitor` (the pedestal monitor on arrays), `engine`
(`BatchDL1Processor`), `writer` (ctapipe table layout), `pipeline` (`BatchRun`, HDF5
R1 files), `events` (`EventBatcher`, any other event source), `zfits` (DigiCam raw
data in chunks, `BatchZFitsDL1Engine`), `r0_extraction` (DigiCam R0 straight to
charges and peak times), `engines` (the `DL1Engine` family the tool
chooses from by name, the per-event ctapipe engine included).
"""

from .engine import BatchDL1Processor, ChunkResult, UnsupportedConfiguration
from .engines import (
    BatchEventsDL1Engine,
    BatchTablesDL1Engine,
    CtapipeDL1Engine,
    DL1Engine,
)
from .events import EventBatcher, selected_events
from .monitor import ArrayPedestalMonitor
from .pipeline import BatchRun, file_tel_ids, has_true_images
from .zfits import BatchZFitsDL1Engine

__all__ = [
    "ArrayPedestalMonitor",
    "BatchDL1Processor",
    "BatchEventsDL1Engine",
    "BatchRun",
    "BatchTablesDL1Engine",
    "BatchZFitsDL1Engine",
    "ChunkResult",
    "CtapipeDL1Engine",
    "DL1Engine",
    "EventBatcher",
    "UnsupportedConfiguration",
    "file_tel_ids",
    "has_true_images",
    "selected_events",
]
