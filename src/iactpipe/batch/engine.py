"""
`BatchDL1Processor`: R1 -> DL1 parameters for chunks of telescope events with numba
kernels, reproducing the per-event ctapipe components the tool is configured with.

It reads its settings from the very components the per-event path would use (the
engine's ``CameraCalibrator``, ``ImageProcessor`` and its cleaner), so one config gives
both paths. `REPRODUCED_TRAITS` declares, per component class, the config traits it
honours; the batch engines (`iactpipe.batch.engines`) refuse any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from ctapipe.calib import CameraCalibrator
from ctapipe.coordinates import TelescopeFrame
from ctapipe.core import QualityQuery, TelescopeComponent
from ctapipe.fitting import FIT_RNG
from ctapipe.image import ImageProcessor, TailcutsImageCleaner
from ctapipe.image.extractor import LocalPeakWindowSum, integration_correction
from ctapipe.image.image_processor import ImageQualityQuery
from ctapipe.image.invalid_pixels import NeighborAverage
from ctapipe.image.reducer import NullDataVolumeReducer
from numba import njit

from ..image.cleaning import SSTImageCleaner
from .cleaning import clean_chunk, nan_median
from .extraction import extract_local_peak, interpolate_invalid_rows
from .monitor import ArrayPedestalMonitor
from .parameters import parametrize_chunk
from .reader import R1Chunk

__all__ = [
    "REPRODUCED_TRAITS",
    "BatchDL1Processor",
    "ChunkResult",
    "QualityCounts",
    "UnsupportedConfiguration",
]

#: What `BatchDL1Processor` reproduces: per component class, the config traits it
#: honours. A component of another class (a subclass of one of these included: it may
#: compute something else), or with another config trait, is refused by the batch engines.
REPRODUCED_TRAITS = {
    CameraCalibrator: frozenset(
        {
            "apply_peak_time_shift",
            "apply_waveform_time_shift",
            "data_volume_reducer_type",
            "image_extractor_type",
            "invalid_pixel_handler_type",
        }
    ),
    NullDataVolumeReducer: frozenset(),
    LocalPeakWindowSum: frozenset({"apply_integration_correction", "window_shift", "window_width"}),
    NeighborAverage: frozenset(),
    ImageProcessor: frozenset(
        {"apply_image_modifier", "image_cleaner_type", "use_telescope_frame"}
    ),
    TailcutsImageCleaner: frozenset(
        {
            "boundary_threshold_pe",
            "keep_isolated_pixels",
            "min_picture_neighbors",
            "picture_threshold_pe",
        }
    ),
    SSTImageCleaner: frozenset(
        {
            "boundary_threshold_pe",
            "keep_isolated_pixels",
            "main_island_only",
            "min_picture_neighbors",
            "min_time_neighbors",
            "nsb_levels",
            "pedestal_std_factor",
            "picture_threshold_pe",
            "time_limit_ns",
        }
    ),
    ImageQualityQuery: frozenset({"quality_criteria"}),
    ArrayPedestalMonitor: frozenset(
        {
            "max_relative_std",
            "min_events",
            "min_relative_std",
            "quiet_pixel_n_sigma",
            "record_interval_events",
            "refresh_interval_events",
            "use_shower_events",
            "window_size",
        }
    ),
}

#: Per-row options of `clean_chunk`, read from the cleaner's traits of the same name;
#: a cleaner without the trait gets the value that disables the step (tailcuts).
CLEANING_OPTIONS = {
    "keep_isolated_pixels": False,
    "min_time_neighbors": 0,
    "time_limit_ns": None,
    "main_island_only": False,
}


class UnsupportedConfiguration(ValueError):
    """The batch engine cannot reproduce this configuration."""


class QualityCounts:
    """
    Counts of a `~ctapipe.core.QualityQuery`'s criteria evaluated outside the query
    (on whole chunks): the table `QualityQuery.to_table` gives for per-item calls.

    Parameters
    ----------
    query : ctapipe.core.QualityQuery
        Its criteria names and expressions label the table.
    """

    def __init__(self, query: QualityQuery):
        self.names = list(query.criteria_names)
        self.expressions = list(query.expressions)
        self.counts = np.zeros(len(self.names) + 1, dtype=np.int64)
        self.cumulative_counts = np.zeros_like(self.counts)

    def add(self, results: np.ndarray) -> None:
        """Count ``results``, bool ``(n_items, n_criteria)``: each criterion per item."""
        results = np.asarray(results, dtype=bool).reshape(-1, len(self.names))
        self.counts += [len(results), *np.count_nonzero(results, axis=0)]
        passed = np.cumprod(results, axis=1, dtype=bool)
        self.cumulative_counts += [len(results), *np.count_nonzero(passed, axis=0)]

    def to_table(self, functions: bool = False) -> Table:
        """The counts as `QualityQuery.to_table` lays them out."""
        columns = {
            "criteria": ["TOTAL", *self.names],
            "counts": self.counts,
            "cumulative_counts": self.cumulative_counts,
        }
        if functions:
            columns["func"] = ["True", *self.expressions]
        return Table(columns)


@dataclass
class ChunkResult:
    """Parameters of the selected telescope events of a chunk (row order kept)."""

    obs_id: np.ndarray
    event_id: np.ndarray
    tel_id: np.ndarray
    position: np.ndarray
    values: np.ndarray
    valid: np.ndarray


def _check_codes(samples, start: int, size: int, codes: tuple, extremes: np.ndarray) -> None:
    """
    Refuse samples that code NaN or infinity. The codes are the stored type's extreme
    values: the extremes the extraction found rule them out without another pass;
    without extremes (wide or float samples) the samples are searched.
    """
    if not codes:
        return
    if not np.isnan(extremes).any():
        if extremes[0] > min(codes) + 1 and extremes[1] < max(codes):
            return
    if np.isin(samples[:, start : start + size], codes).any():
        raise ValueError("NaN or infinite R1 samples are not supported")


#: ImageQualityQuery's default criteria, which `image_checks` evaluates on arrays
_DEFAULT_IMAGE_CRITERIA = [tuple(c) for c in ImageQualityQuery.quality_criteria.default()]


def image_checks(
    check: ImageQualityQuery, counts: QualityCounts, charge: np.ndarray, masks: np.ndarray
) -> np.ndarray:
    """
    Whether each cleaned image passes all of ``check``'s criteria, counted in ``counts``.

    ctapipe's default criteria (image sum > 0, more than one pixel) are evaluated on
    the whole chunk at once; other criteria per image by the query itself.
    """
    if [tuple(c) for c in check.quality_criteria] != _DEFAULT_IMAGE_CRITERIA:
        results = [check(image=c[m]) for c, m in zip(charge, masks, strict=True)]
        results = np.array(results, dtype=bool).reshape(len(charge), len(counts.names))
    else:
        # float64 sums of the cleaned float32 charges: the sign of the float32 sum, as
        # the cleaned pixels are above positive thresholds. A sum of positive values
        # is positive when there is one: only images with another value (NaN, <= 0)
        # are summed, by numpy as before (the chunk's sums cost 3.5 us per event)
        n_cleaned, all_positive = _cleaned_counts(charge, masks)
        positive = (n_cleaned > 0) & all_positive
        if not all_positive.all():
            other = ~all_positive
            sums = np.where(masks[other], charge[other], 0).sum(axis=1, dtype=np.float64)
            positive[other] = sums > 0
        results = np.stack([positive, n_cleaned > 1], axis=1)
    counts.add(results)
    return results.all(axis=1)


@njit(cache=True, nogil=True)
def _cleaned_counts(charge, masks):
    """
    Per image: the number of cleaned pixels, and whether all their charges are
    positive (NaN is not).
    """
    n_rows, n_pixels = charge.shape
    n_cleaned = np.zeros(n_rows, dtype=np.int64)
    all_positive = np.ones(n_rows, dtype=np.bool_)
    for row in range(n_rows):
        count = 0
        positive = True
        for pixel in range(n_pixels):
            if masks[row, pixel]:
                count += 1
                positive &= charge[row, pixel] > 0
        n_cleaned[row] = count
        all_positive[row] = positive
    return n_cleaned, all_positive


def _per_telescope(values: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    """(row of each tel_id, one float64 column per setting) of per-telescope settings."""
    index = np.full(max(values) + 1, -1, dtype=np.int64)
    index[list(values)] = np.arange(len(values))
    columns = np.array(list(values.values()), dtype=np.float64).reshape(len(values), -1)
    return index, list(columns.T)


def _csr(geometry) -> tuple[np.ndarray, np.ndarray]:
    matrix = geometry.neighbor_matrix_sparse.tocsr()
    matrix.sort_indices()
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)


class BatchDL1Processor(TelescopeComponent):
    """
    Extraction, invalid-pixel interpolation, pedestal monitoring, cleaning and
    image parameters of R1 chunks (see `iactpipe.batch`).

    Parameters
    ----------
    subarray : ctapipe.instrument.SubarrayDescription
    calibrator : ctapipe.calib.CameraCalibrator
        Its extractor and invalid-pixel handler settings are reproduced.
    image_processor : ctapipe.image.ImageProcessor
        Its cleaner, frame and image quality query are reproduced; the query's
        counts are kept in ``image_counts``.
    monitor : ArrayPedestalMonitor
        Pedestal statistics fed in event order.
    interpolate_invalid : bool
        Interpolate invalid pixels as ``NeighborAverage`` (the calibrator's handler).
    modify_waveforms : callable, optional
        ``R1Chunk -> R1Chunk`` applied first (`~iactpipe.simulation.NSBWaveformModifier`).
    """

    def __init__(
        self,
        subarray,
        calibrator: CameraCalibrator,
        image_processor: ImageProcessor,
        monitor: ArrayPedestalMonitor,
        interpolate_invalid: bool = True,
        modify_waveforms=None,
        parent=None,
        **kwargs,
    ):
        super().__init__(subarray=subarray, parent=parent, **kwargs)
        self.calibrator = calibrator
        self.image_processor = image_processor
        self.monitor = monitor
        self.interpolate_invalid = interpolate_invalid
        #: optional ``R1Chunk -> R1Chunk`` applied before the extraction (MC tuning)
        self.modify_waveforms = modify_waveforms
        #: the image checks' counts (written as ImageQualityQuery.to_table would)
        self.image_counts = QualityCounts(image_processor.check_image)
        geometry = self._single_geometry()
        self.n_pixels = geometry.n_pixels
        self.indptr, self.indices = _csr(geometry)
        frame = geometry
        if image_processor.use_telescope_frame:
            # the image processor's own (3 ms per astropy transformation)
            tel_id = self.subarray.tel_ids[0]
            frames = getattr(image_processor, "telescope_frame_geometries", {})
            frame = frames.get(tel_id)
            if frame is None:
                frame = geometry.transform_to(TelescopeFrame())
        unit = frame.pix_x.unit
        self.geometry = (
            frame.pix_x.to_value(unit).astype(np.float64),
            frame.pix_y.to_value(unit).astype(np.float64),
            frame.pix_area.to_value(unit**2).astype(np.float64),
            frame.pixel_width.to_value(unit).astype(np.float64),
            geometry.get_border_pixel_mask(1),
            geometry.get_border_pixel_mask(2),
            self.indptr,
            self.indices,
        )
        self._thresholds = {}
        self._options = None
        self._extraction = None

    def _single_geometry(self):
        cameras = {self.subarray.tel[t].camera.name for t in self.subarray.tel_ids}
        if len(cameras) != 1:
            raise UnsupportedConfiguration(
                f"the batch engine needs one camera type in the subarray, got {sorted(cameras)}"
            )
        return self.subarray.tel[self.subarray.tel_ids[0]].camera.geometry

    @staticmethod
    def unsupported_values(subarray, image_processor) -> list[str]:
        """
        The settings the batch kernels cannot reproduce although the components'
        classes and traits are declared in `REPRODUCED_TRAITS` (values, the camera).
        """
        problems = []
        cameras = {subarray.tel[t].camera.name for t in subarray.tel_ids}
        if len(cameras) != 1:
            problems.append(f"one camera type in the subarray (got {sorted(cameras)})")
        for tel_id in subarray.tel_ids:
            if image_processor.apply_image_modifier.tel[tel_id]:
                problems.append("ImageProcessor.apply_image_modifier")
            if subarray.tel[tel_id].camera.readout.n_channels != 1:
                problems.append("two gain channels")
        return sorted(set(problems))

    def extraction_settings(self, tel_ids: np.ndarray) -> tuple:
        """``(width, shift, sampling_rate_ghz, correction)`` per row of ``tel_ids``."""
        # per telescope once, then per row
        if self._extraction is None:
            self._extraction = _per_telescope(self._telescope_extraction_settings())
        index, columns = self._extraction
        width, shift, rate, correction = (column[index[tel_ids]] for column in columns)
        return width.astype(np.int64), shift.astype(np.int64), rate, correction

    def _telescope_extraction_settings(self) -> dict:
        extractor = self.calibrator.image_extractors["LocalPeakWindowSum"]
        settings = {}
        for tel_id in self.subarray.tel_ids:
            tel_id = int(tel_id)
            correction = 1.0
            if extractor.apply_integration_correction.tel[tel_id]:
                readout = self.subarray.tel[tel_id].camera.readout
                # ctapipe's own function, with the arguments LocalPeakWindowSum gives it;
                # channel 0: the one stored gain channel
                correction = float(
                    integration_correction(
                        readout.reference_pulse_shape,
                        readout.reference_pulse_sample_width.to_value("ns"),
                        (1 / readout.sampling_rate).to_value("ns"),
                        extractor.window_width.tel[tel_id],
                        extractor.window_shift.tel[tel_id],
                    )[0]
                )
            settings[tel_id] = (
                extractor.window_width.tel[tel_id],
                extractor.window_shift.tel[tel_id],
                extractor.sampling_rate_ghz[tel_id],
                correction,
            )
        return settings

    def _cleaning_thresholds(self, tel_id: int, mean, std):
        """(picture per pixel, boundary, min neighbours) as the cleaner would use."""
        cleaner = self.image_processor.clean
        key = (tel_id, id(std))
        cached = self._thresholds.get(tel_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        if isinstance(cleaner, SSTImageCleaner):
            # `thresholds` without a monitoring container (8 us) and with the compiled
            # nanmedian (3 instead of 20 us), once per statistics version
            picture, boundary, min_neighbors = cleaner.statistics_thresholds(
                tel_id, mean, std, nan_median
            )
        else:
            picture = cleaner.picture_threshold_pe.tel[tel_id]
            boundary = cleaner.boundary_threshold_pe.tel[tel_id]
            min_neighbors = cleaner.min_picture_neighbors.tel[tel_id]
        picture = np.broadcast_to(np.asarray(picture, dtype=np.float64), (self.n_pixels,))
        result = (picture, float(boundary), int(min_neighbors))
        # kept while the monitor returns the same (cached) statistics object
        self._thresholds[tel_id] = (key, result, std)
        return result

    def _cleaning_options(self, tel_ids: np.ndarray):
        # per telescope once (a trait look-up per row costs microseconds), then per row
        if self._options is None:
            cleaner = self.image_processor.clean
            options = {}
            for tel_id in self.subarray.tel_ids:
                values = []
                for name, disabled in CLEANING_OPTIONS.items():
                    value = getattr(cleaner, name).tel[tel_id] if cleaner.has_trait(name) else None
                    value = disabled if value is None else value
                    values.append(np.nan if value is None else value)
                options[tel_id] = tuple(values)
            self._options = _per_telescope(options)
        index, columns = self._options
        rows = index[tel_ids]
        keep, time_neighbors, time_limit, main_island = (column[rows] for column in columns)
        return (
            keep.astype(bool),
            time_neighbors.astype(np.int64),
            time_limit.astype(np.float64),
            main_island.astype(bool),
        )

    def process(
        self,
        chunk: R1Chunk,
        is_selected: np.ndarray,
        is_pedestal: np.ndarray,
        extracted: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> ChunkResult:
        """
        DL1 parameters of the selected rows of ``chunk``.

        Parameters
        ----------
        chunk : R1Chunk
        is_selected, is_pedestal : np.ndarray
            Per row: passes the event-type filter; is a sky-pedestal event. Rows that
            are neither are skipped entirely, as in the per-event path.
        extracted : tuple of np.ndarray, optional
            ``(charge, peak_time)`` of every row, float32 ``(n_rows, n_pixels)``, when
            the caller extracted them itself (DigiCam R0: `extract_r0_chunk`); the
            chunk's samples are then not used.
        """
        if extracted is None:
            charge, peak_time = self.extract(chunk)
        else:
            charge, peak_time = extracted
        self._calibrate(chunk, charge, peak_time)
        # the per-event path's order: the monitor and the timing fit's random draws
        # depend on it (per telescope for the monitor: its state is per telescope)
        order = chunk.order
        fed = order[(is_selected | is_pedestal)[order]]
        rows = order[is_selected[order]]
        n_rows = len(chunk.tel_id)
        # per chunk row: the statistics version (monitor) it saw, in `versions`
        version = np.full(n_rows, -1, dtype=np.int64)
        versions = []
        for tel_id in np.unique(chunk.tel_id[fed]).tolist():
            tel_rows = fed[chunk.tel_id[fed] == tel_id]
            # the monitor takes the images as extracted (see ExtractedImages), then
            # the invalid pixels are interpolated for cleaning
            row_version, tel_versions = self.monitor.advance(
                tel_id, charge, tel_rows, is_pedestal, chunk.event_id, chunk.time_mjd
            )
            version[tel_rows] = row_version + len(versions)
            versions += [(tel_id, *v) for v in tel_versions]
        thresholds = self._row_thresholds(rows, version, versions)
        if self.interpolate_invalid and len(rows):
            outliers = np.stack([v[3] for v in versions])
            invalid = chunk.unusable[rows] | outliers[version[rows]]
            interpolate_invalid_rows(charge, peak_time, rows, invalid, self.indptr, self.indices)
        if len(rows) != n_rows or (rows != np.arange(n_rows)).any():
            # the selected rows in order (all of them, in order, usually: no copy then)
            charge, peak_time = charge[rows], peak_time[rows]
        return self._parametrize(chunk, rows, charge, peak_time, thresholds)

    def extract(self, chunk: R1Chunk) -> tuple[np.ndarray, np.ndarray]:
        """Charge and peak time (float32 ``(n_rows, n_pixels)``) of every row of ``chunk``."""
        if self.modify_waveforms is not None:
            chunk = self.modify_waveforms(chunk)
        width, shift, rate, correction = self.extraction_settings(chunk.tel_id)
        charge = np.empty((len(chunk.tel_id), self.n_pixels), dtype=np.float32)
        peak_time = np.empty_like(charge)
        first = 0
        extremes = np.empty(2)
        for samples, start in chunk.samples:
            last = first + len(samples)
            charge[first:last], peak_time[first:last] = extract_local_peak(
                samples,
                start,
                self.n_pixels,
                chunk.n_samples,
                chunk.offset,
                chunk.scale,
                width[first:last],
                shift[first:last],
                rate[first:last],
                correction[first:last],
                extremes,
            )
            _check_codes(samples, start, self.n_pixels * chunk.n_samples, chunk.codes, extremes)
            first = last
        return charge, peak_time

    def _row_thresholds(self, rows, version, versions) -> tuple:
        """(picture per pixel, boundary, min neighbours) of each row, as the cleaner's."""
        if len(rows) == 0:
            return np.empty((0, self.n_pixels)), np.empty(0), np.empty(0, dtype=np.int64)
        # once per statistics version (every refresh interval), not per row
        used, index = np.unique(version[rows], return_inverse=True)
        per_version = [self._cleaning_thresholds(*versions[v][:3]) for v in used]
        boundary = np.array([t[1] for t in per_version], dtype=np.float64)
        min_neighbors = np.array([t[2] for t in per_version], dtype=np.int64)
        if len(per_version) == 1:
            # one version for the whole chunk (the usual case): its row for every image,
            # not 2 MB per chunk of 200 written and read back
            row = np.ascontiguousarray(per_version[0][0])  # a scalar's too: unit stride
            picture = np.broadcast_to(row, (len(rows), self.n_pixels))
            return picture, boundary[index], min_neighbors[index]
        picture = np.stack([t[0] for t in per_version])
        return picture[index], boundary[index], min_neighbors[index]

    def _calibrate(self, chunk: R1Chunk, charge: np.ndarray, peak_time: np.ndarray) -> None:
        """Peak-time shifts and charge factors, in CameraCalibrator's order."""
        for i in range(len(chunk.tel_id) if chunk.time_shift is not None else 0):
            tel_id = int(chunk.tel_id[i])
            shift, factor = chunk.time_shift[i], chunk.factor[i]
            if shift is not None:
                if self.calibrator.apply_waveform_time_shift.tel[tel_id]:
                    raise UnsupportedConfiguration(
                        "engine 'batch' cannot reproduce: CameraCalibrator."
                        "apply_waveform_time_shift with time shifts in the data"
                    )
                if self.calibrator.apply_peak_time_shift.tel[tel_id]:
                    peak_time[i] -= shift
            if factor is not None:
                charge[i] *= factor

    def _parametrize(self, chunk, rows, charge, peak_time, thresholds) -> ChunkResult:
        tel_ids = chunk.tel_id[rows]
        masks = clean_chunk(
            charge,
            peak_time,
            *thresholds,
            *self._cleaning_options(tel_ids),
            self.indptr,
            self.indices,
        )
        valid = image_checks(self.image_processor.check_image, self.image_counts, charge, masks)
        values = parametrize_chunk(charge, peak_time, masks, valid, self.geometry, FIT_RNG)
        return ChunkResult(
            obs_id=chunk.obs_id[rows],
            event_id=chunk.event_id[rows],
            tel_id=tel_ids,
            position=chunk.position[rows],
            values=values,
            valid=valid,
        )
