"""The optimal mixup degree m*: the closed form from the GDP-CLT, and a numeric argmax with PLD-calibrated noise.

For linear regression on the release, utility in an eigen-direction grows with m / sigma(m)^2 (signal variance
~ 1/m, feature noise ~ sigma/m). With the CLT, sigma(m)^2 = 1 / ln(1 + a/m^2), a = mu^2 n^2 / T, and the
maximiser solves (1 + u) ln(1 + u) = 2u for u = a/m^2, i.e. u* = 3.9216 and m* = mu n / sqrt(u* T).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from tenfold.core.errors import BadConfigError
from tenfold.dpfmix.accounting import calibrate_sigma, check_privacy_target, gdp_mu_from_eps


def _u_star() -> float:
    return float(brentq(lambda u: (1 + u) * math.log1p(u) - 2 * u, 1.0, 10.0, xtol=1e-12))


U_STAR = _u_star()  # 3.9216...


class UnreachableSweetSpotWarning(UserWarning):
    """n < 2 m*: the predicted sweet spot needs more records than there are."""


@dataclass
class OptimalM:
    """Both answers: the closed form (CLT) and the grid argmax of m / sigma_PLD(m)^2, with the grid."""

    closed_form: float
    numeric: float | None
    mu: float
    grid: list[float] = field(default_factory=list)
    sigmas: list[float] = field(default_factory=list)
    utility: list[float] = field(default_factory=list)


def closed_form_m(eps: float, delta: float, n: int, releases: int) -> tuple[float, float]:
    """(m*, mu): m* = mu n / sqrt(u* T), with mu the GDP parameter matching (eps, delta)."""
    check_privacy_target(eps, delta)
    if n < 2 or releases < 1:
        raise BadConfigError(f"need n >= 2 records and T >= 1 releases, got n={n}, T={releases}")
    mu = gdp_mu_from_eps(eps, delta)
    return mu * n / math.sqrt(U_STAR * releases), mu


def optimal_m(
    eps: float,
    delta: float,
    n: int,
    releases: int | None = None,
    *,
    grid: list[float] | None = None,
    numeric: bool = True,
    interval: float = 1e-3,
    adjacency: str = "add-remove",
) -> OptimalM:
    """Closed-form m* and (if ``numeric``) the argmax of m / sigma_PLD(m)^2 over ``grid``.

    The closed form is GDP-CLT theory (add/remove); the numeric argmax calibrates sigma with the PLD
    accountant under ``adjacency``. The default grid is geometric from 1 to min(n/2, 8 m*_closed); PLD
    calibration costs ~1-4 s per point.
    """
    releases = n if releases is None else int(releases)
    m_closed, mu = closed_form_m(eps, delta, n, releases)
    if n < 2 * m_closed:
        warnings.warn(
            f"n={n} < 2 m*={2 * m_closed:.1f}: the sweet spot is not reachable; use more records or a smaller epsilon",
            UnreachableSweetSpotWarning,
            stacklevel=2,
        )
    result = OptimalM(closed_form=m_closed, numeric=None, mu=mu)
    if not numeric:
        return result
    if grid is None:
        top = max(2.0, min(n / 2, 8 * m_closed))
        grid = sorted({round(float(v), 2) for v in np.geomspace(1.0, top, 12)})
    for m in grid:
        if not (0 < m < n):
            raise BadConfigError(f"grid value m={m} must satisfy 0 < m < n={n}")
    sigmas = [calibrate_sigma(eps, delta, m / n, releases, interval=interval, adjacency=adjacency) for m in grid]
    utility = [m / s**2 for m, s in zip(grid, sigmas, strict=True)]
    result.grid, result.sigmas, result.utility = list(grid), sigmas, utility
    result.numeric = float(grid[int(np.argmax(utility))])
    return result
