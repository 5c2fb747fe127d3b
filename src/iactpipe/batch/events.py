"""
Batch processing of events from any ctapipe ``EventSource`` (sim_telarray, zfits):
the fallback of the HDF5 reader.

The source still builds one container per event (its reading cost stays), but the
extraction, cleaning and parameters of a chunk of events run as the numba kernels of
the HDF5 path; the events then go on, with their DL1 parameters filled in, to the
per-event writer and recorders of the tool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import astropy.units as u
import numpy as np
from ctapipe.containers import DL1CameraContainer, EventType, ImageParametersContainer
from ctapipe.fitting import FIT_RNG

from .engine import BatchDL1Processor
from .parameters import COLUMNS, parametrize_chunk
from .reader import R1Chunk

__all__ = ["EventBatcher", "selected_events"]

_RADIAN = ("phi", "psi", "psi_uncertainty")
#: the containers ctapipe fills for true images (no peak time)
_TRUE_GROUPS = ("hillas", "leakage", "concentration", "morphology", "intensity_statistics")


def _calibration(event, tel_id: int, n_pixels: int):
    """(pedestal offset, factor, time shift) per pixel of the stored gain, or None."""
    calib = event.monitoring.tel[tel_id].camera.coefficients
    dl0 = event.dl0.tel[tel_id]
    gain = dl0.selected_gain_channel
    pixels = np.arange(n_pixels)

    def select(values):
        if values is None:
            return None
        values = np.asarray(values)
        return values[gain, pixels] if gain is not None and values.ndim == 2 else values

    shift = select(calib.time_shift)
    if dl0.pixel_time_shift is not None:
        pixel_shift = dl0.pixel_time_shift[0] if gain is not None else dl0.pixel_time_shift
        shift = pixel_shift if shift is None else shift + pixel_shift
    return select(calib.pedestal_offset), select(calib.factor), shift


class EventBatcher:
    """
    Fill DL1 parameters of events in chunks.

    Parameters
    ----------
    processor : BatchDL1Processor
    calibrator : ctapipe.calib.CameraCalibrator
        Its R1 -> DL0 step runs per event (a copy without data volume reduction).
    chunk_size : int
        Array events per chunk.
    """

    def __init__(self, processor: BatchDL1Processor, calibrator, chunk_size: int):
        self.processor = processor
        self.calibrator = calibrator
        self.chunk_size = chunk_size
        self.default = processor.image_processor.default_image_container

    def __call__(self, events: Iterable) -> Iterator:
        """
        Yield ``(event, selected)`` in input order; events of selected types have
        ``event.dl1.tel[tel_id].parameters`` (and true parameters) filled.

        ``events`` yields ``(event, selected, is_pedestal)`` for the events the
        per-event path would calibrate.
        """
        chunk = []
        for item in events:
            chunk.append(item)
            if len(chunk) == self.chunk_size:
                yield from self._process(chunk)
                chunk = []
        if chunk:
            yield from self._process(chunk)

    def _gather(self, chunk):
        rows = []
        for position, (event, selected, is_pedestal) in enumerate(chunk):
            for tel_id in list(event.r1.tel.keys()):
                # CameraCalibrator's R1 -> DL0 step (a copy: no data volume reducer),
                # so that DL0 is what the per-event engine leaves in the event
                self.calibrator._calibrate_dl0(event, tel_id)
                rows.append((position, tel_id, event, selected, is_pedestal))
        return rows

    def _process(self, chunk):
        rows = self._gather(chunk)
        if rows:
            self._parametrize(rows)
        for event, selected, _ in chunk:
            yield event, selected

    def _parametrize(self, rows) -> None:
        processor = self.processor
        n_pixels = processor.n_pixels
        waveforms, unusable, times, shifts, factors = [], [], [], [], []
        for _, tel_id, event, _, _ in rows:
            waveform = np.asarray(event.dl0.tel[tel_id].waveform[0], dtype=np.float32)
            pedestal, factor, shift = _calibration(event, tel_id, n_pixels)
            if pedestal is not None:
                waveform = waveform - np.asarray(pedestal, dtype=np.float32)[:, np.newaxis]
            waveforms.append(waveform.reshape(-1))
            outliers = event.monitoring.tel[tel_id].camera.coefficients.outlier_mask
            unusable.append(np.zeros(n_pixels, bool) if outliers is None else outliers[0])
            trigger = event.trigger.tel.get(tel_id, event.trigger)
            times.append(trigger.time.tai.mjd)
            shifts.append(shift)
            factors.append(factor)
        n_samples = len(waveforms[0]) // n_pixels
        chunk = R1Chunk(
            event_positions=np.arange(len(rows)),
            obs_id=np.array([r[2].index.obs_id for r in rows]),
            event_id=np.array([r[2].index.event_id for r in rows]),
            tel_id=np.array([r[1] for r in rows], dtype=np.int64),
            # one position per row: the rows stay in the per-event path's order
            position=np.arange(len(rows)),
            samples=[(np.stack(waveforms), 0)],
            n_samples=n_samples,
            offset=0.0,
            scale=1.0,
            unusable=np.stack(unusable),
            time_mjd=np.array(times),
            time_shift=shifts,
            factor=factors,
        )
        selected = np.array([r[3] for r in rows], dtype=bool)
        pedestal = np.array([r[4] for r in rows], dtype=bool)
        result = processor.process(chunk, selected, pedestal)
        for (_, tel_id, event, _, _), values, valid in zip(
            [rows[i] for i in np.nonzero(selected)[0]], result.values, result.valid, strict=True
        ):
            parameters = self.parameters_container(values) if valid else self.default
            event.dl1.tel[tel_id] = DL1CameraContainer(parameters=parameters, is_valid=True)
        self._true_parameters([r for r in rows if r[3]])

    def parameters_container(
        self, values: np.ndarray, groups=None, float32: bool = True
    ) -> ImageParametersContainer:
        """
        An ImageParametersContainer from one row of `parametrize_chunk`; ``float32``:
        the fields ctapipe computes in float32 from a float32 image (not from the
        integer true image) get that type.
        """
        container = self.default.__class__()
        for name, value in zip(COLUMNS, values, strict=True):
            group, field = _split(name)
            if groups is not None and group not in groups:
                continue
            target = container[group]
            unit = target.fields[field].unit
            default = target.fields[field].default
            if field in _RADIAN and group == "hillas":
                value = u.Quantity(value, u.rad).to(unit)
            elif unit is not None:
                value = u.Quantity(value, unit)
            elif float32 and isinstance(default, np.generic):
                # the writer takes the column type from the values (float32 in ctapipe)
                value = default.dtype.type(value)
            elif group == "morphology":
                value = int(value)
            target[field] = value
        return container

    def _true_parameters(self, rows) -> None:
        """True-image parameters, as ctapipe's ImageProcessor (no timing)."""
        true_rows = [
            r
            for r in rows
            if r[2].simulation is not None
            and r[1] in r[2].simulation.tel
            and r[2].simulation.tel[r[1]].true_image is not None
        ]
        if not true_rows:
            return
        images = np.stack([r[2].simulation.tel[r[1]].true_image for r in true_rows])
        masks = images > 0
        check = self.processor.image_processor.check_image
        results = np.array([check(image=i[m]) for i, m in zip(images, masks, strict=True)])
        self.processor.image_counts.add(results)
        valid = results.reshape(len(images), -1).all(axis=1)
        values = parametrize_chunk(
            images.astype(np.float32),
            np.zeros_like(images, dtype=np.float32),
            masks,
            valid,
            self.processor.geometry,
            FIT_RNG,
            False,
        )
        from ctapipe.image.image_processor import DEFAULT_TRUE_IMAGE_PARAMETERS

        for (_, tel_id, event, _, _), row, ok in zip(true_rows, values, valid, strict=True):
            true = (
                self.parameters_container(row, _TRUE_GROUPS, float32=False)
                if ok
                else DEFAULT_TRUE_IMAGE_PARAMETERS
            )
            if ok:
                stats = true.intensity_statistics
                # ctapipe's statistics of an integer image keep its type
                stats.max, stats.min = np.int32(stats.max), np.int32(stats.min)
            for container in true.values():
                if not container.prefix.startswith("true_"):
                    container.prefix = f"true_{container.prefix}"
            event.simulation.tel[tel_id].true_parameters = true


def _split(column: str) -> tuple[str, str]:
    for group in ("intensity_statistics", "peak_time_statistics"):
        prefix = group.split("_statistics")[0] + "_"
        if column.startswith(prefix):
            return group, column[len(prefix) :]
    group, field = column.split("_", 1)
    return group, field


def selected_events(source_events, calibrate_r0, event_type_filter):
    """``(event, selected, is_pedestal)`` for the events the per-event path calibrates."""
    for event in source_events:
        calibrate_r0(event)
        selected = event_type_filter(event)
        is_pedestal = event.trigger.event_type == EventType.SKY_PEDESTAL
        if selected or is_pedestal:
            yield event, selected, is_pedestal
