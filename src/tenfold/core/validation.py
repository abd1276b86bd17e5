"""Checks on numbers and arrays a user supplies, each failure a named error that says the fix.

Typer/click ranges let NaN through (every comparison with NaN is false) and say nothing of
infinities, so numeric options are checked here before any work starts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tenfold.core.errors import BadConfigError, BadInputError

if TYPE_CHECKING:
    import numpy as np


def check_number(
    name: str,
    value: float | int | None,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """``value`` if it is finite and inside the range, else a BadConfigError naming ``name`` and the range.

    ``low_open``/``high_open`` exclude the bound itself (``low=0, low_open=True``: strictly positive).
    """
    if value is None:
        if allow_none:
            return None
        raise BadConfigError(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadConfigError(f"{name} {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadConfigError(f"{name} {value} is not a finite number; {_range_text(low, high, low_open, high_open)}")
    if integer and not float(value).is_integer():
        raise BadConfigError(f"{name} {value} is not a whole number")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise BadConfigError(f"{name} {value} is out of range; {_range_text(low, high, low_open, high_open)}")
    return value


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return "give a finite number"
    if high is None:
        return f"give a value {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"give a value {'<' if high_open else '<='} {high:g}"
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    return f"give a value in {left}{low:g}, {high:g}{right}"


def check_array(
    array: Any,
    *,
    name: str,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    numeric: bool = True,
    finite: bool = True,
    nonempty: bool = True,
) -> np.ndarray:
    """An array with the expected rank/shape (None in ``shape`` = any size), numeric, finite and non-empty."""
    import numpy as np

    array = np.asarray(array)
    if numeric and not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise BadInputError(f"{name} has dtype {array.dtype}; give numbers")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if ranks is not None and array.ndim not in ranks:
        raise BadInputError(f"{name} has shape {array.shape}; expected {' or '.join(f'{r}-D' for r in ranks)}")
    if shape is not None:
        if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape, strict=True)):
            wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise BadInputError(f"{name} has shape {array.shape}; expected {wanted}")
    if nonempty and array.size == 0:
        raise BadInputError(f"{name} is empty (shape {array.shape}); give at least one row")
    if finite and numeric and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise BadInputError(f"{name} holds {bad} NaN or infinite value(s); clean or drop them first")
    return array
