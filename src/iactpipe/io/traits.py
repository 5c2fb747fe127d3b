"""
Trait types and checks that reject bad configuration values when the configuration is
read, before any work: quantities within a range (finite, no NaN), ordered bin edges,
non-negative per-telescope thresholds. A bad value is a `~traitlets.TraitError` naming
the option (``Class.trait``) and the accepted range; Tools report it on one line and
exit with code 2.
"""

from __future__ import annotations

from ast import literal_eval
from collections.abc import Iterable

import astropy.units as u
import numpy as np
from ctapipe.core.telescope_component import TelescopeParameter
from ctapipe.core.traits import AstroQuantity, Float, Int
from traitlets import TraitError

__all__ = [
    "BoundedQuantity",
    "CheckedTelescopeParameter",
    "NonNegativeFloatTelescopeParameter",
    "NonNegativeIntTelescopeParameter",
    "check_ordered",
    "option_name",
]


def option_name(obj, name: str) -> str:
    """``Class.trait``: how the option is written in config files and on the command line."""
    owner = obj if isinstance(obj, type) else type(obj)
    return f"{owner.__name__}.{name}"


class BoundedQuantity(AstroQuantity):
    """
    An `~ctapipe.core.traits.AstroQuantity` that must be finite and within
    ``[min, max]`` (``min`` excluded with ``exclusive_min=True``).

    Parameters
    ----------
    min, max : Quantity or None
        Bounds (in any unit of the trait's physical type); None: unbounded.
    exclusive_min : bool
        Whether ``min`` itself is rejected (e.g. durations and bin widths: > 0).
    """

    def __init__(
        self,
        *,
        min: u.Quantity | None = None,
        max: u.Quantity | None = None,
        exclusive_min: bool = False,
        **kwargs,
    ):
        self.min, self.max, self.exclusive_min = min, max, exclusive_min
        super().__init__(**kwargs)

    def _range_text(self) -> str:
        low = "" if self.min is None else f"{'>' if self.exclusive_min else '>='} {self.min}"
        high = "" if self.max is None else f"<= {self.max}"
        return " and ".join(p for p in (low, high) if p) or "finite"

    def validate(self, obj, value):
        """Validate as `AstroQuantity`, then finiteness and range."""
        if value is None and self.allow_none:
            return value
        name = option_name(obj, self.name)
        try:
            quantity = super().validate(obj, value)
        except TraitError as err:
            raise TraitError(f"{name}: {value!r} is not a valid quantity ({err})") from None
        if quantity is None:
            return quantity
        bad = not np.all(np.isfinite(quantity.value))
        if not bad and self.min is not None:
            low = quantity.to_value(self.min.unit)
            bad = np.any(low <= self.min.value if self.exclusive_min else low < self.min.value)
        if not bad and self.max is not None:
            bad = np.any(quantity.to_value(self.max.unit) > self.max.value)
        if bad:
            raise TraitError(f"{name} = {quantity}: must be {self._range_text()}")
        return quantity


class CheckedTelescopeParameter(TelescopeParameter):
    """
    A `~ctapipe.core.telescope_component.TelescopeParameter` whose errors name the
    option, and whose command-line value may be a whole pattern list
    (``--Cleaner.threshold='[["type", "*", 8], ["id", 22, 9]]'``), not only one number.
    """

    def from_string_list(self, s_list):
        """One command-line value: a number or a pattern list (ctapipe's from_string)."""
        if len(s_list) == 1 and s_list[0].lstrip().startswith("["):
            try:
                return self.from_string(s_list[0])
            except TraitError:
                # a bad value: reported, with the option's name, when the option is set
                return literal_eval(s_list[0])
        return super().from_string_list(s_list)

    def _validate_entry(self, obj, value):
        try:
            return super()._validate_entry(obj, value)
        except TraitError:
            raise TraitError(
                f"{option_name(obj, self.name)} = {value!r}: must be {self._trait.info()}"
                f"{_bounds_text(self._trait)}"
            ) from None


def _bounds_text(trait) -> str:
    low, high = getattr(trait, "min", None), getattr(trait, "max", None)
    parts = [
        f">= {low}" if low is not None and np.isfinite(low) else "",
        f"<= {high}" if high is not None and np.isfinite(high) else "",
    ]
    return "".join(f" {p}" for p in parts if p)


class NonNegativeFloatTelescopeParameter(CheckedTelescopeParameter):
    """A ``FloatTelescopeParameter`` whose values must be >= 0 (thresholds, factors)."""

    def __init__(self, **kwargs):
        super().__init__(trait=Float(min=0.0), **kwargs)


class NonNegativeIntTelescopeParameter(CheckedTelescopeParameter):
    """An ``IntTelescopeParameter`` whose values must be >= 0 (pixel counts)."""

    def __init__(self, **kwargs):
        super().__init__(trait=Int(min=0), **kwargs)


def check_ordered(component, pairs: Iterable[tuple[str, str]]) -> None:
    """
    A `~traitlets.TraitError` naming both options if ``component.<low>`` is not smaller
    than ``component.<high>`` for a ``(low, high)`` pair (bin ranges, cut ranges); pairs
    with a None value are skipped. Call it at the end of the component's ``__init__``.
    """
    for low_name, high_name in pairs:
        low, high = getattr(component, low_name), getattr(component, high_name)
        if low is None or high is None:
            continue
        if not np.all(np.asarray(low < high)):
            raise TraitError(
                f"{option_name(component, high_name)} = {high} must be larger than "
                f"{option_name(component, low_name)} = {low}"
            )
