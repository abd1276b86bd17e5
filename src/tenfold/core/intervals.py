"""Replicated measurements and the rule that decides a claim on them.

A claim about a noisy quantity is measured on several replicates (seeds, few-shot splits, images,
timing pairs) and decided on a confidence interval of their mean, not on one number:

- the interval is two-sided at ``LEVEL`` (90 %), so each side is a one-sided 95 % bound;
- a claim passes when the whole interval is on the pass side of its threshold, fails when the whole
  interval is on the other side, and is *undecided* otherwise (a required claim that is undecided
  counts as failed: the run could not show the effect);
- the interval is Student's t on the replicates by default, or a BCa bootstrap (scipy) where the
  replicates are far from normal and there are enough of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tenfold.core.errors import BadConfigError

LEVEL = 0.90
BOOTSTRAP_RESAMPLES = 4000


@dataclass(frozen=True)
class Samples:
    """Independent replicates of one measured quantity (one value per seed, split, image or pair).

    ``labels`` name the replicates in the report (``seed 0``, ``K=4 split 2``); optional.
    """

    values: tuple[float, ...]
    labels: tuple[str, ...] = field(default=())

    def __init__(self, values: Iterable[float], labels: Iterable[str] = ()) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in values))
        object.__setattr__(self, "labels", tuple(str(label) for label in labels))
        if self.labels and len(self.labels) != len(self.values):
            raise BadConfigError(f"Samples: {len(self.labels)} labels for {len(self.values)} values")

    @classmethod
    def differences(cls, a: Sequence[float], b: Sequence[float], labels: Iterable[str] = ()) -> Samples:
        """Paired differences ``a[i] - b[i]`` (same seed or split on both sides)."""
        if len(a) != len(b):
            raise BadConfigError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
        return cls((float(x) - float(y) for x, y in zip(a, b, strict=True)), labels)

    @classmethod
    def log_ratios(cls, a: Sequence[float], b: Sequence[float], labels: Iterable[str] = ()) -> Samples:
        """Paired ``log(a[i] / b[i])``, for claims declared with ``log_ratio=True``."""
        if len(a) != len(b):
            raise BadConfigError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
        values = []
        for x, y in zip(a, b, strict=True):
            if not (x > 0 and y > 0):
                raise BadConfigError(f"log ratio needs positive values, got {x} and {y}")
            values.append(math.log(float(x) / float(y)))
        return cls(values, labels)

    @property
    def finite(self) -> bool:
        return bool(self.values) and all(math.isfinite(v) for v in self.values)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Interval:
    """Mean of the replicates and its two-sided ``level`` confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    method: str
    level: float = LEVEL


def t_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Student-t interval of the mean (n >= 2; a zero spread gives a zero-width interval)."""
    import numpy as np
    from scipy import stats

    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        raise BadConfigError(f"an interval needs at least 2 replicates, got {data.size}")
    mean = float(data.mean())
    standard_error = float(data.std(ddof=1) / math.sqrt(data.size))
    half = float(stats.t.ppf(0.5 + level / 2, df=data.size - 1)) * standard_error
    return Interval(mean, mean - half, mean + half, int(data.size), "t", level)


def bootstrap_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """BCa bootstrap interval of the mean (scipy), with a fixed resampling seed so reports are stable."""
    import numpy as np
    from scipy import stats

    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        raise BadConfigError(f"an interval needs at least 2 replicates, got {data.size}")
    mean = float(data.mean())
    if np.all(data == data[0]):
        return Interval(mean, mean, mean, int(data.size), "bootstrap", level)
    result = stats.bootstrap(
        (data,), np.mean, confidence_level=level, n_resamples=BOOTSTRAP_RESAMPLES, method="BCa",
        random_state=np.random.default_rng(0),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa can fail on tiny or tied samples
        result = stats.bootstrap(
            (data,), np.mean, confidence_level=level, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
            random_state=np.random.default_rng(0),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Interval(mean, low, high, int(data.size), "bootstrap", level)


def interval(values: Sequence[float], method: str = "t", level: float = LEVEL) -> Interval:
    if method == "t":
        return t_interval(values, level)
    if method == "bootstrap":
        return bootstrap_interval(values, level)
    raise BadConfigError(f"unknown interval method {method!r}; use 't' or 'bootstrap'")


def decide(op: str, threshold: float | tuple[float, float], low: float, high: float) -> str:
    """'pass', 'fail' or 'undecided' for a value known to lie in [low, high] (low == high: a point)."""
    if op == "between":
        lower, upper = threshold  # type: ignore[misc]
        if lower <= low and high <= upper:
            return "pass"
        if high < lower or low > upper:
            return "fail"
        return "undecided"
    bound = float(threshold)  # type: ignore[arg-type]
    if op == ">=":
        inside, outside = low >= bound, high < bound
    elif op == ">":
        inside, outside = low > bound, high <= bound
    elif op == "<=":
        inside, outside = high <= bound, low > bound
    elif op == "<":
        inside, outside = high < bound, low >= bound
    else:
        raise BadConfigError(f"unknown comparison {op!r}")
    return "pass" if inside else ("fail" if outside else "undecided")
