"""The paper's stability claim as a number with an interval: the ratio of few-shot spreads over splits.

CPT's claim is about the standard deviation of accuracy across few-shot draws (splits), averaged
over K. A standard deviation has no per-split value, so the replicates for an interval come from
the jackknife: leaving out one split at a time gives pseudo-values whose mean and Student-t
interval estimate the log ratio (Tukey's jackknife; splits are paired across the two methods
because both train on the same draws).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from tenfold.core.errors import BadConfigError


def mean_std_log_ratio(first: Mapping[int, Sequence[float]], second: Mapping[int, Sequence[float]]) -> float:
    """log( mean over K of std(first[K]) / mean over K of std(second[K]) ), std over splits (ddof=1)."""
    top = float(np.mean([np.std(first[k], ddof=1) for k in first]))
    bottom = float(np.mean([np.std(second[k], ddof=1) for k in second]))
    if not (top > 0 and bottom > 0):
        return math.nan
    return math.log(top / bottom)


def jackknife_std_log_ratio(
    first: Mapping[int, Sequence[float]], second: Mapping[int, Sequence[float]]
) -> tuple[float, list[float]]:
    """The plain log ratio of mean spreads and one jackknife pseudo-value per left-out split.

    ``first[K]`` and ``second[K]`` hold one accuracy per split, in the same split order; every K
    needs the same number of splits, at least 3 (leaving one out must leave a spread).
    """
    if set(first) != set(second) or not first:
        raise BadConfigError("spread ratio: both methods need accuracies at the same shots K")
    counts = {len(v) for v in first.values()} | {len(v) for v in second.values()}
    if len(counts) != 1:
        raise BadConfigError(f"spread ratio: every K needs the same number of splits, got {sorted(counts)}")
    splits = counts.pop()
    if splits < 3:
        raise BadConfigError(f"spread ratio: a jackknife over splits needs >= 3 splits, got {splits}")
    full = mean_std_log_ratio(first, second)
    pseudo = []
    for left_out in range(splits):
        keep = [s for s in range(splits) if s != left_out]
        partial = mean_std_log_ratio({k: [v[s] for s in keep] for k, v in first.items()},
                                     {k: [v[s] for s in keep] for k, v in second.items()})
        pseudo.append(splits * full - (splits - 1) * partial)
    return full, pseudo
