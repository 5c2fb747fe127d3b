"""
SST-1M NSB-adaptive image cleaning.

The numerics are pure functions (numpy arrays in, boolean mask out); the
`SSTImageCleaner` component only resolves its traits and the monitoring data of
the event and calls them. Because `SSTImageCleaner` subclasses
`ctapipe.image.ImageCleaner`, importing this module registers it by name, so
``ImageProcessor(image_cleaner_type="SSTImageCleaner")`` works.
"""

from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real

import numpy as np
from ctapipe.containers import CameraMonitoringContainer
from ctapipe.core.traits import (
    BoolTelescopeParameter,
    Dict,
    FloatTelescopeParameter,
    List,
)
from ctapipe.image.cleaning import ImageCleaner, apply_time_delta_cleaning, tailcuts_clean
from ctapipe.image.morphology import brightest_island, number_of_islands
from ctapipe.instrument import CameraGeometry
from traitlets import TraitError, validate

from ..io.traits import NonNegativeFloatTelescopeParameter, NonNegativeIntTelescopeParameter

__all__ = [
    "NSB_LEVEL_KEYS",
    "SSTImageCleaner",
    "pixel_picture_thresholds",
    "select_nsb_level",
    "sst_image_cleaning",
    "validate_nsb_levels",
]

#: Keys every entry of ``SSTImageCleaner.nsb_levels`` must have, with their types.
NSB_LEVEL_KEYS = {
    "max_pedestal_std_pe": Real,
    "picture_threshold_pe": Real,
    "boundary_threshold_pe": Real,
    "min_picture_neighbors": Integral,
}

#: Starting values, not a tuned result: the bounds bracket the camera-median
#: pedestal std (LocalPeakWindowSum, 7 samples) from dark sky (about 1 p.e. in
#: CTA prod4 SST-1M simulations) to bright moonlight; the thresholds start at
#: sst1mpipe's dark-sky 8/4 p.e. and rise with the noise.
DEFAULT_NSB_LEVELS = (
    {
        "max_pedestal_std_pe": 1.5,
        "picture_threshold_pe": 8.0,
        "boundary_threshold_pe": 4.0,
        "min_picture_neighbors": 2,
    },
    {
        "max_pedestal_std_pe": 2.5,
        "picture_threshold_pe": 10.0,
        "boundary_threshold_pe": 5.0,
        "min_picture_neighbors": 2,
    },
    {
        "max_pedestal_std_pe": 4.0,
        "picture_threshold_pe": 12.0,
        "boundary_threshold_pe": 6.0,
        "min_picture_neighbors": 2,
    },
)


def validate_nsb_levels(levels: Sequence[Mapping]) -> list[dict]:
    """
    Check an NSB-level list and return it as a list of plain dicts.

    Parameters
    ----------
    levels : sequence of mappings
        Each entry has exactly the keys of `NSB_LEVEL_KEYS`; entries are sorted by
        strictly increasing ``max_pedestal_std_pe``. An empty list is valid (the
        per-telescope trait values are then always used).

    Returns
    -------
    list of dict
        The validated entries, numbers converted to float / int.

    Raises
    ------
    traitlets.TraitError
        With a message naming the entry and the problem.
    """
    checked = []
    for i, level in enumerate(levels):
        if not isinstance(level, Mapping):
            raise TraitError(f"nsb_levels[{i}] must be a mapping, got {level!r}")
        missing = sorted(set(NSB_LEVEL_KEYS) - set(level))
        unknown = sorted(set(level) - set(NSB_LEVEL_KEYS))
        if missing or unknown:
            raise TraitError(
                f"nsb_levels[{i}] = {dict(level)!r}: missing keys {missing}, unknown keys"
                f" {unknown}; each entry needs exactly {sorted(NSB_LEVEL_KEYS)}"
            )
        entry = {}
        for key, kind in NSB_LEVEL_KEYS.items():
            value = level[key]
            # bool is an Integral; a True threshold is a config mistake, not 1
            if isinstance(value, bool) or not isinstance(value, kind):
                kind_name = "an integer" if kind is Integral else "a number"
                raise TraitError(f"nsb_levels[{i}].{key} must be {kind_name}, got {value!r}")
            entry[key] = int(value) if kind is Integral else float(value)
        if not entry["max_pedestal_std_pe"] > 0:
            raise TraitError(f"nsb_levels[{i}].max_pedestal_std_pe must be > 0")
        if entry["boundary_threshold_pe"] > entry["picture_threshold_pe"]:
            raise TraitError(f"nsb_levels[{i}]: boundary_threshold_pe > picture_threshold_pe")
        if entry["min_picture_neighbors"] < 0:
            raise TraitError(f"nsb_levels[{i}].min_picture_neighbors must be >= 0")
        if checked and not entry["max_pedestal_std_pe"] > checked[-1]["max_pedestal_std_pe"]:
            raise TraitError(
                "nsb_levels must be sorted by strictly increasing max_pedestal_std_pe,"
                f" but entry {i} ({entry['max_pedestal_std_pe']}) follows"
                f" {checked[-1]['max_pedestal_std_pe']}"
            )
        checked.append(entry)
    return checked


def select_nsb_level(levels: Sequence[Mapping], median_pedestal_std_pe: float) -> int | None:
    """
    Index of the NSB level for a camera-median pedestal std.

    Parameters
    ----------
    levels : sequence of mappings
        Validated levels (see `validate_nsb_levels`), sorted by ``max_pedestal_std_pe``.
    median_pedestal_std_pe : float
        Median over pixels of the pedestal standard deviation, in p.e.

    Returns
    -------
    int or None
        The first level whose ``max_pedestal_std_pe`` is >= the median; the last
        (noisiest) level when the median is above every bound, because the highest
        thresholds are the safe choice there; None when ``levels`` is empty or the
        median is not finite (no usable monitoring).
    """
    if len(levels) == 0 or not np.isfinite(median_pedestal_std_pe):
        return None
    bounds = np.array([level["max_pedestal_std_pe"] for level in levels])
    index = int(np.searchsorted(bounds, median_pedestal_std_pe, side="left"))
    return min(index, len(levels) - 1)


def pixel_picture_thresholds(
    picture_threshold_pe: float,
    pedestal_mean_pe: np.ndarray | None,
    pedestal_std_pe: np.ndarray | None,
    pedestal_std_factor: float,
) -> float | np.ndarray:
    """
    Per-pixel picture threshold ``max(picture_threshold_pe, mean + k * std)``.

    Parameters
    ----------
    picture_threshold_pe : float
        Minimum picture threshold in p.e.
    pedestal_mean_pe, pedestal_std_pe : np.ndarray or None
        Pedestal mean and standard deviation per pixel, in p.e. Without ``std``
        the scalar ``picture_threshold_pe`` is returned; a missing mean counts as 0.
    pedestal_std_factor : float
        The ``k`` above.

    Returns
    -------
    float or np.ndarray
        Picture threshold(s) in p.e. Pixels whose pedestal statistics are NaN
        (e.g. broken pixels) keep ``picture_threshold_pe``.
    """
    if pedestal_std_pe is None:
        return picture_threshold_pe
    std = np.asarray(pedestal_std_pe, dtype=float)
    mean = 0.0 if pedestal_mean_pe is None else np.asarray(pedestal_mean_pe, dtype=float)
    # fmax ignores NaN, so a pixel without statistics falls back to the minimum
    return np.fmax(picture_threshold_pe, mean + pedestal_std_factor * std)


def sst_image_cleaning(
    geometry: CameraGeometry,
    image: np.ndarray,
    arrival_times: np.ndarray | None,
    picture_thresholds: float | np.ndarray,
    boundary_threshold: float | np.ndarray,
    min_picture_neighbors: int = 2,
    keep_isolated_pixels: bool = False,
    min_time_neighbors: int = 1,
    time_limit_ns: float | None = 8.0,
    main_island_only: bool = False,
) -> np.ndarray:
    """
    SST-1M image cleaning: tailcuts with per-pixel picture thresholds, a time
    constraint and optionally only the brightest island.

    1. `ctapipe.image.tailcuts_clean` with the (per-pixel) picture thresholds,
       the boundary threshold, ``min_picture_neighbors`` and
       ``keep_isolated_pixels``, with the meaning they have there.
    2. If ``time_limit_ns`` is not None and ``min_time_neighbors > 0``:
       `ctapipe.image.apply_time_delta_cleaning`, i.e. a pixel kept by step 1
       survives only if at least ``min_time_neighbors`` of its neighbours kept by
       step 1 have an arrival time differing by less than ``time_limit_ns``.
    3. If ``main_island_only``: keep only the island with the largest summed
       charge (`ctapipe.image.morphology.brightest_island`), which, unlike the
       largest island, is not won by a wide patch of noise-level pixels.

    Parameters
    ----------
    geometry : ctapipe.instrument.CameraGeometry
        Camera geometry (its sparse neighbour matrix is used).
    image : np.ndarray
        Pixel charges in p.e., shape ``(n_pixels,)``.
    arrival_times : np.ndarray or None
        Pixel arrival times in ns; needed only for the time constraint.
    picture_thresholds : float or np.ndarray
        Picture threshold(s) in p.e., scalar or per pixel (see
        `pixel_picture_thresholds`).
    boundary_threshold : float or np.ndarray
        Boundary threshold(s) in p.e.
    min_picture_neighbors : int
        A picture pixel needs at least this many picture neighbours (ignored when
        ``keep_isolated_pixels``).
    keep_isolated_pixels : bool
        Keep picture pixels without picture or boundary neighbours.
    min_time_neighbors : int
        Number of time-compatible kept neighbours a pixel needs; 0 disables step 2.
    time_limit_ns : float or None
        Maximum arrival-time difference to a neighbour, in ns; None disables step 2.
    main_island_only : bool
        Keep only the brightest island.

    Returns
    -------
    np.ndarray
        Boolean mask, True for pixels that survive.

    Raises
    ------
    ValueError
        If the time constraint is enabled but ``arrival_times`` is None.
    """
    mask = tailcuts_clean(
        geometry,
        image,
        picture_thresh=picture_thresholds,
        boundary_thresh=boundary_threshold,
        keep_isolated_pixels=keep_isolated_pixels,
        min_number_picture_neighbors=min_picture_neighbors,
    )
    if not mask.any():
        return mask

    if time_limit_ns is not None and min_time_neighbors > 0:
        if arrival_times is None:
            raise ValueError("the time constraint needs arrival_times")
        mask = apply_time_delta_cleaning(
            geometry,
            mask,
            arrival_times,
            min_number_neighbors=min_time_neighbors,
            time_limit=time_limit_ns,
        )

    if main_island_only and mask.any():
        n_islands, labels = number_of_islands(geometry, mask)
        mask = brightest_island(n_islands, labels, image)

    return mask


def _pedestal_statistics(
    monitoring: CameraMonitoringContainer | None, n_pixels: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Pedestal mean and std per pixel from monitoring, or (None, None)."""
    if monitoring is None:
        return None, None
    stats = monitoring.pixel_statistics.pedestal_image
    if stats.std is None:
        return None, None

    def first_channel(values):
        # ctapipe may store (n_channels, n_pixels); DigiCam has one gain channel,
        # and for several channels the high gain (first) is the one cleaned.
        return np.asarray(values, dtype=float).reshape(-1, n_pixels)[0]

    mean = None if stats.mean is None else first_channel(stats.mean)
    return mean, first_channel(stats.std)


class SSTImageCleaner(ImageCleaner):
    """
    SST-1M NSB-adaptive image cleaner (see `sst_image_cleaning`).

    Per event, the camera-median pedestal std from
    ``monitoring.pixel_statistics.pedestal_image.std`` selects one entry of
    ``nsb_levels``, which sets the picture and boundary thresholds and the minimum
    number of picture neighbours. Each pixel's picture threshold is then raised to
    ``pedestal_mean + pedestal_std_factor * pedestal_std`` where that is higher
    (stars, hot pixels). Without pedestal statistics, or with an empty
    ``nsb_levels``, the per-telescope traits ``picture_threshold_pe``,
    ``boundary_threshold_pe`` and ``min_picture_neighbors`` are used instead.
    """

    picture_threshold_pe = NonNegativeFloatTelescopeParameter(
        default_value=8.0,
        help="Picture threshold in p.e., used when no NSB level applies (no pedestal"
        " statistics in the monitoring data, or empty nsb_levels).",
    ).tag(config=True)

    boundary_threshold_pe = NonNegativeFloatTelescopeParameter(
        default_value=4.0,
        help="Boundary threshold in p.e., used when no NSB level applies.",
    ).tag(config=True)

    min_picture_neighbors = NonNegativeIntTelescopeParameter(
        default_value=2,
        help="Minimum number of picture neighbours of a picture pixel, used when no NSB"
        " level applies. No effect when keep_isolated_pixels is True.",
    ).tag(config=True)

    keep_isolated_pixels = BoolTelescopeParameter(
        default_value=False,
        help="If True, picture pixels are kept even without picture or boundary"
        " neighbours (as in tailcuts_clean).",
    ).tag(config=True)

    pedestal_std_factor = NonNegativeFloatTelescopeParameter(
        default_value=2.5,
        help="k in the per-pixel picture threshold max(picture_threshold_pe,"
        " pedestal_mean + k * pedestal_std); used only when the monitoring data carry"
        " pedestal statistics in p.e.",
    ).tag(config=True)

    min_time_neighbors = NonNegativeIntTelescopeParameter(
        default_value=1,
        help="A kept pixel survives the time constraint only if at least this many of"
        " its kept neighbours arrive within time_limit_ns of it. 0 disables the time"
        " constraint.",
    ).tag(config=True)

    time_limit_ns = FloatTelescopeParameter(
        default_value=8.0,
        allow_none=True,
        help="Maximum arrival-time difference to a neighbour for the time constraint,"
        " in ns. None disables the time constraint.",
    ).tag(config=True)

    main_island_only = BoolTelescopeParameter(
        default_value=False,
        help="Keep only the brightest island (largest summed charge) after cleaning.",
    ).tag(config=True)

    nsb_levels = List(
        Dict(),
        default_value=list(DEFAULT_NSB_LEVELS),
        help="NSB levels, sorted by increasing max_pedestal_std_pe. Each entry:"
        " max_pedestal_std_pe (upper bound on the camera-median pedestal std, p.e.),"
        " picture_threshold_pe, boundary_threshold_pe, min_picture_neighbors. The"
        " first level whose bound is >= the event's median pedestal std is used; the"
        " last one above all bounds. Empty list: always use the per-telescope traits.",
    ).tag(config=True)

    def __init__(self, subarray, config=None, parent=None, **kwargs):
        super().__init__(subarray, config=config, parent=parent, **kwargs)
        # the default value is not passed through the validator, so check here too
        self._levels = validate_nsb_levels(self.nsb_levels)

    @validate("nsb_levels")
    def _validate_nsb_levels(self, proposal):
        # keep the normalised copy in step with the trait when it is reassigned
        self._levels = validate_nsb_levels(proposal["value"])
        return proposal["value"]

    def thresholds(
        self, tel_id: int, monitoring: CameraMonitoringContainer | None = None
    ) -> tuple[float | np.ndarray, float, int]:
        """
        Picture threshold(s), boundary threshold and minimum picture neighbours
        for one telescope event.

        Parameters
        ----------
        tel_id : int
            Telescope id.
        monitoring : ctapipe.containers.CameraMonitoringContainer or None
            Camera monitoring of the event; its pedestal statistics (p.e.) choose
            the NSB level and raise per-pixel picture thresholds.

        Returns
        -------
        tuple
            ``(picture_thresholds, boundary_threshold, min_picture_neighbors)``.
        """
        n_pixels = self.subarray.tel[tel_id].camera.geometry.n_pixels
        mean, std = _pedestal_statistics(monitoring, n_pixels)
        return self.statistics_thresholds(tel_id, mean, std)

    def statistics_thresholds(
        self,
        tel_id: int,
        mean: np.ndarray | None,
        std: np.ndarray | None,
        nanmedian: Callable[[np.ndarray], float] = np.nanmedian,
    ) -> tuple[float | np.ndarray, float, int]:
        """
        `thresholds` for pedestal statistics given as arrays.

        Parameters
        ----------
        tel_id : int
            Telescope id.
        mean, std : np.ndarray or None
            float64 pedestal mean and std per pixel (p.e.), or None.
        nanmedian : callable
            numpy's ``nanmedian`` of a 1-D float64 array, or a function giving the same
            value (the batch engine's compiled one: ``np.nanmedian`` costs 20 us).

        Returns
        -------
        tuple
            ``(picture_thresholds, boundary_threshold, min_picture_neighbors)``.
        """
        picture = self.picture_threshold_pe.tel[tel_id]
        boundary = self.boundary_threshold_pe.tel[tel_id]
        min_neighbors = self.min_picture_neighbors.tel[tel_id]

        if std is not None:
            median_std = nanmedian(std) if np.isfinite(std).any() else np.nan
            index = select_nsb_level(self._levels, median_std)
            if index is not None:
                level = self._levels[index]
                picture = level["picture_threshold_pe"]
                boundary = level["boundary_threshold_pe"]
                min_neighbors = level["min_picture_neighbors"]

        picture = pixel_picture_thresholds(picture, mean, std, self.pedestal_std_factor.tel[tel_id])
        return picture, boundary, min_neighbors

    def __call__(
        self,
        tel_id: int,
        image: np.ndarray,
        arrival_times: np.ndarray | None = None,
        *,
        monitoring: CameraMonitoringContainer | None = None,
    ) -> np.ndarray:
        """
        Clean one image. See `ctapipe.image.ImageCleaner.__call__`.

        Returns
        -------
        np.ndarray
            Boolean mask of pixels passing cleaning.
        """
        picture, boundary, min_neighbors = self.thresholds(tel_id, monitoring)
        return sst_image_cleaning(
            self.subarray.tel[tel_id].camera.geometry,
            image,
            arrival_times,
            picture_thresholds=picture,
            boundary_threshold=boundary,
            min_picture_neighbors=min_neighbors,
            keep_isolated_pixels=self.keep_isolated_pixels.tel[tel_id],
            min_time_neighbors=self.min_time_neighbors.tel[tel_id],
            time_limit_ns=self.time_limit_ns.tel[tel_id],
            main_island_only=self.main_island_only.tel[tel_id],
        )
