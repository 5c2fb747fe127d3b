"""DL1 event selection recorded as flags (applied later, by training and IRF steps)."""

from __future__ import annotations

import numpy as np
from astropy.table import Table
from ctapipe.containers import ImageParametersContainer
from ctapipe.core import QualityQuery
from ctapipe.core.traits import List, Tuple, Unicode

__all__ = ["DL1EventSelection"]

#: SST-1M starting values: images bright enough for a reliable Hillas ellipse and
#: not truncated at the camera edge.
DEFAULT_DL1_SELECTION = [
    ("intensity", "hillas_intensity > 50"),
    ("width", "hillas_width > 0"),
    ("length", "hillas_length > 0"),
    ("leakage", "leakage_intensity_width_2 < 0.2"),
]


class DL1EventSelection(QualityQuery):
    """
    Event selection on DL1 image parameters, evaluated on parameter tables.

    The criteria are expressions on the columns of ctapipe's DL1 parameter table
    (``hillas_intensity``, ``hillas_width``, ``leakage_intensity_width_2``, ...).
    At the DL1 level they are recorded as one boolean flag per criterion plus
    ``is_good`` (all criteria passed); nothing is removed. NaN parameters (images
    that could not be parametrised) fail every comparison.
    """

    quality_criteria = List(
        Tuple(Unicode(), Unicode()),
        default_value=DEFAULT_DL1_SELECTION,
        help=(
            "List of ('name', 'expression') on DL1 parameter-table columns; an event "
            "passes a criterion when the expression is true. Units: width and length "
            "are in deg (telescope frame), intensity in p.e.; use `u` for astropy units, "
            "e.g. 'hillas_width < 0.4 * u.deg'."
        ),
    ).tag(config=True)

    def evaluate(self, parameters: ImageParametersContainer) -> np.ndarray:
        """
        Evaluate every criterion on one telescope event's parameters.

        Column names are the flattened, prefixed container fields, exactly the
        parameter-table column names, so one expression serves both methods.

        Returns
        -------
        np.ndarray
            One boolean per criterion, in the order of ``quality_criteria``.
        """
        columns = parameters.as_dict(recursive=True, flatten=True, add_prefix=True)
        with np.errstate(invalid="ignore"):
            return self(**columns)

    def flags(self, parameters: Table) -> Table:
        """
        Evaluate every criterion on a parameter table.

        Parameters
        ----------
        parameters : astropy.table.Table
            A DL1 parameter table (one row per telescope event) with ``obs_id``,
            ``event_id``, ``tel_id`` and the columns the criteria use.

        Returns
        -------
        astropy.table.Table
            ``obs_id``, ``event_id``, ``tel_id``, one boolean column per criterion
            and ``is_good``.
        """
        flags = Table({k: parameters[k] for k in ("obs_id", "event_id", "tel_id")})
        good = np.ones(len(parameters), dtype=bool)
        with np.errstate(invalid="ignore"):
            for name, result in zip(self.criteria_names, self.engine(parameters), strict=True):
                passed = np.asarray(result, dtype=bool)
                if passed.shape != good.shape:
                    passed = np.broadcast_to(passed, good.shape)
                flags[name] = passed
                good &= passed
        flags["is_good"] = good
        self._counts[0] += len(good)
        self._counts[1:] += [np.count_nonzero(flags[n]) for n in self.criteria_names]
        return flags
