"""
Pedestal / NSB monitoring: sliding-window pixel statistics of the extracted charge of
interleaved pedestal events, with quiet pixels of shower events as a fallback.

The statistics (mean, median, std per pixel, in p.e.) go to
``event.monitoring.tel[tel_id].camera.pixel_statistics.pedestal_image``, where
`~iactpipe.image.SSTImageCleaner` reads them to choose its NSB level and per-pixel
thresholds, and are recorded as rows of ctapipe's sky-pedestal monitoring table
(``/dl1/monitoring/telescope/calibration/camera/pixel_statistics/sky_pedestal_image``).
Pixels whose pedestal std is far from the camera median are flagged as dynamic bad
pixels in ``camera.coefficients.outlier_mask``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from astropy.table import Table
from astropy.time import Time
from ctapipe.containers import EventType
from ctapipe.core import TelescopeComponent
from ctapipe.core.traits import Bool, Float, Int

from .pixel_charges import PixelChargeHistograms

__all__ = [
    "ExtractedImages",
    "PedestalMonitor",
    "SlidingWindowStatistics",
    "ignore_all_nan",
    "quiet_pixel_mask",
    "std_outliers",
]


class SlidingWindowStatistics:
    """
    Per-pixel statistics over the last ``size`` entries (NaN = pixel not measured).

    Parameters
    ----------
    n_pixels : int
    size : int
        Number of entries kept.
    """

    def __init__(self, n_pixels: int, size: int):
        self.values = np.full((size, n_pixels), np.nan, dtype=np.float64)
        self.size = size
        self.n_added = 0
        self.event_ids = np.zeros(size, dtype=np.int64)
        self.times_mjd = np.full(size, np.nan)
        self._cached = None  # (n_added when computed, statistics)

    def add(self, values: np.ndarray, event_id: int = -1, time: Time | None = None) -> None:
        """Add one entry, replacing the oldest one when the window is full."""
        row = self.n_added % self.size
        self.values[row] = values
        self.event_ids[row] = event_id
        mjd = np.nan if time is None else time.tai.mjd
        self.times_mjd[row] = mjd if mjd > 0 else np.nan
        self.n_added += 1

    @property
    def n_entries(self) -> int:
        """Number of entries in the window."""
        return min(self.n_added, self.size)

    def statistics(self, max_age: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Per-pixel (mean, median, std) over the window; NaN where no entry.

        Parameters
        ----------
        max_age : int
            Reuse the last result while fewer than ``max_age`` entries were added
            since it was computed (0: always recompute). The median over the window
            costs milliseconds per call, too much to redo for every event.
        """
        cached = self._cached
        if cached is not None and self.n_added - cached[0] < max(max_age, 1):
            return cached[1]
        window = self.values[: self.n_entries]
        with np.errstate(invalid="ignore"), ignore_all_nan():
            result = (
                np.nanmean(window, axis=0),
                np.nanmedian(window, axis=0),
                np.nanstd(window, axis=0, ddof=1),
            )
        self._cached = (self.n_added, result)
        return result

    def span(self) -> tuple[float, float, int, int]:
        """(first, last) time (MJD TAI) and event id of the entries in the window."""
        n = self.n_entries
        times = self.times_mjd[:n]
        ids = self.event_ids[:n]
        finite = times[np.isfinite(times)]
        t0, t1 = (finite.min(), finite.max()) if len(finite) else (np.nan, np.nan)
        return t0, t1, int(ids.min()), int(ids.max())


class ignore_all_nan:
    """Silence numpy's all-NaN-slice warnings (pixels never measured stay NaN)."""

    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catcher.__exit__(*exc)


def quiet_pixel_mask(image: np.ndarray, neighbors, n_sigma: float) -> np.ndarray:
    """
    Pixels of a shower image without signal: below median + ``n_sigma`` robust sigma
    (1.4826 MAD), and not next to a pixel above it.
    """
    median = np.median(image)
    sigma = 1.4826 * np.median(np.abs(image - median))
    bright = image > median + n_sigma * max(sigma, 1e-3)
    near_bright = (neighbors @ bright.astype(np.int32)) > 0
    return ~(bright | near_bright)


def std_outliers(std: np.ndarray, min_relative: float, max_relative: float) -> np.ndarray:
    """Pixels whose std is below ``min_relative`` or above ``max_relative`` x the median."""
    finite = np.isfinite(std)
    if not finite.any():
        return np.zeros(std.shape, dtype=bool)
    median = np.median(std[finite])
    return finite & ((std < min_relative * median) | (std > max_relative * median))


class ExtractedImages:
    """
    Each telescope's image as extracted, before the invalid-pixel handler of a
    ``CameraCalibrator`` replaces pixels by the average of their neighbours.

    The pedestal monitor must measure the pixels themselves: fed the interpolated
    image, a dead pixel flagged by its low pedestal std takes its neighbours' mean,
    whose std (about the neighbours' std / sqrt(6), 0.3-0.4 p.e.) lifts it above the
    bad-pixel limit, so it is unflagged, flat again, flagged again. Wraps the
    calibrator's handler (which interpolates in place) and keeps a copy of the image
    it receives; `clear` before each event.

    Parameters
    ----------
    calibrator : ctapipe.calib.CameraCalibrator
        Its ``invalid_pixel_handler`` (if any) is replaced by this wrapper.
    """

    def __init__(self, calibrator):
        self.images: dict[int, np.ndarray] = {}
        self._handler = calibrator.invalid_pixel_handler
        if self._handler is not None:
            calibrator.invalid_pixel_handler = self

    def __call__(self, tel_id, image, peak_time, pixel_mask):
        """The handler's call, after keeping a copy of ``image``."""
        self.images[tel_id] = np.array(image, copy=True)
        return self._handler(tel_id, image, peak_time, pixel_mask)

    def clear(self) -> None:
        """Forget the previous event's images."""
        self.images.clear()


class PedestalMonitor(TelescopeComponent):
    """
    Sliding-window pedestal (NSB) statistics per telescope, in p.e.

    Call `fill` before `~ctapipe.calib.CameraCalibrator` (it writes the current
    statistics and dynamic bad pixels into ``event.monitoring``) and `update` after it
    (it adds the event's extracted charges to the window: all pixels of pedestal
    events; the quiet pixels of shower events, used only while there are fewer than
    ``min_events`` pedestal events).
    """

    window_size = Int(100, help="Number of events in the sliding window").tag(config=True)
    min_events = Int(10, help="Events needed before statistics are used").tag(config=True)
    use_shower_events = Bool(
        True, help="Fall back on quiet pixels of shower events when pedestal events are missing"
    ).tag(config=True)
    quiet_pixel_n_sigma = Float(
        3.0, help="Quiet pixels: below camera median + n robust sigma, and their neighbours"
    ).tag(config=True)
    min_relative_std = Float(
        0.3, help="Dynamic bad pixel: pedestal std below this fraction of the camera median"
    ).tag(config=True)
    max_relative_std = Float(
        4.0, help="Dynamic bad pixel: pedestal std above this multiple of the camera median"
    ).tag(config=True)
    refresh_interval_events = Int(
        10,
        min=1,
        help=(
            "Statistics used for cleaning are recomputed after this many new window "
            "entries (1: every entry); with a 100-event window they lag by at most "
            "this many events"
        ),
    ).tag(config=True)
    record_interval_events = Int(
        100, help="Record one monitoring row per this many added events (and at the end)"
    ).tag(config=True)

    def __init__(self, subarray, config=None, parent=None, **kwargs):
        super().__init__(subarray=subarray, config=config, parent=parent, **kwargs)
        self._windows: dict[tuple[int, str], SlidingWindowStatistics] = {}
        self._since_record: dict[int, int] = defaultdict(int)
        self._rows: dict[int, list[dict]] = defaultdict(list)
        #: the charge distributions of every image the monitor sees
        self.pixel_charges = PixelChargeHistograms(parent=self)

    def _window(self, tel_id: int, kind: str) -> SlidingWindowStatistics:
        key = (tel_id, kind)
        if key not in self._windows:
            n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
            self._windows[key] = SlidingWindowStatistics(n_pixels, self.window_size)
        return self._windows[key]

    def current(self, tel_id: int) -> tuple[SlidingWindowStatistics | None, str]:
        """The window in use for ``tel_id`` (pedestal events first) and its kind."""
        for kind in ("pedestal", "shower"):
            window = self._windows.get((tel_id, kind))
            if window is not None and window.n_entries >= self.min_events:
                return window, kind
        return None, ""

    def fill(self, event) -> None:
        """Write the current statistics and dynamic bad pixels into ``event.monitoring``."""
        for tel_id in event.r1.tel.keys() | event.dl0.tel.keys():
            window, _ = self.current(tel_id)
            if window is None:
                continue
            mean, median, std = window.statistics(max_age=self.refresh_interval_events)
            camera = event.monitoring.tel[tel_id].camera
            stats = camera.pixel_statistics.pedestal_image
            stats.mean, stats.median, stats.std = mean[None], median[None], std[None]
            outliers = std_outliers(std, self.min_relative_std, self.max_relative_std)
            previous = camera.coefficients.outlier_mask
            camera.coefficients.outlier_mask = (
                outliers[None] if previous is None else previous | outliers[None]
            )

    def update(self, event, extracted: dict[int, np.ndarray] | None = None) -> None:
        """
        Add the extracted charges of ``event`` (after CameraCalibrator) to the windows.

        Parameters
        ----------
        event : ctapipe.containers.ArrayEventContainer
        extracted : dict, optional
            Per telescope, the image before invalid-pixel interpolation
            (`ExtractedImages`); used instead of the DL1 image where given.
        """
        is_pedestal = event.trigger.event_type == EventType.SKY_PEDESTAL
        for tel_id, dl1 in event.dl1.tel.items():
            if dl1.image is None:
                continue
            image = dl1.image if extracted is None else extracted.get(tel_id, dl1.image)
            image = np.asarray(image, dtype=np.float64)
            self.pixel_charges.add(tel_id, image, is_pedestal)
            if is_pedestal:
                kind, values = "pedestal", image
            elif self.use_shower_events and (
                self._window(tel_id, "pedestal").n_entries < self.min_events
            ):
                neighbors = self.subarray.tel[tel_id].camera.geometry.neighbor_matrix_sparse
                quiet = quiet_pixel_mask(image, neighbors, self.quiet_pixel_n_sigma)
                kind, values = "shower", np.where(quiet, image, np.nan)
            else:
                continue
            time = event.trigger.time
            if tel_id in event.trigger.tel:
                time = event.trigger.tel[tel_id].time
            self._window(tel_id, kind).add(values, event.index.event_id, time)
            self._since_record[tel_id] += 1
            if self._since_record[tel_id] >= self.record_interval_events:
                self._record(tel_id)

    def _record(self, tel_id: int) -> None:
        window, kind = self.current(tel_id)
        self._since_record[tel_id] = 0
        if window is None:
            return
        mean, median, std = window.statistics()
        t0, t1, id0, id1 = window.span()
        self._rows[tel_id].append(
            dict(
                time_start=t0,
                time_end=t1,
                event_id_start=id0,
                event_id_end=id1,
                n_events=window.n_entries,
                mean=mean[None].astype(np.float32),
                median=median[None].astype(np.float32),
                std=std[None].astype(np.float32),
                outlier_mask=std_outliers(std, self.min_relative_std, self.max_relative_std)[None],
                is_valid=True,
                from_shower_events=kind == "shower",
            )
        )

    def to_tables(self) -> dict[int, Table]:
        """Recorded statistics per telescope (records the pending window first)."""
        for tel_id, pending in list(self._since_record.items()):
            if pending > 0:
                self._record(tel_id)
        tables = {}
        for tel_id, rows in sorted(self._rows.items()):
            # column by column: Table(rows=...) scans every value of every row for
            # masked elements (about 0.1 s for the 400 records of a 4000-event run)
            table = Table({name: np.array([row[name] for row in rows]) for name in rows[0]})
            for name in ("time_start", "time_end"):
                # unknown times as ctapipe's NAN_TIME (MJD 0)
                mjd = np.nan_to_num(np.asarray(table[name], dtype=np.float64), nan=0.0)
                table[name] = Time(mjd, format="mjd", scale="tai")
            tables[tel_id] = table
        return tables
