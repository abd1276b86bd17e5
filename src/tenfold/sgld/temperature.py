"""Temperature conventions for Langevin dynamics, converted to the one used here.

Convention (this package): w <- w - eta * g_mean(w) + sqrt(2 eta / beta) * xi, xi ~ N(0, I), where g_mean is
the gradient of the *mean* loss over the data and beta is the inverse temperature (temperature = 1/beta).
Users mix conventions up, so every other one must be named explicitly:

- ``temperature``  T:                       beta = 1 / T
- ``noise_std``    s (per-step std of noise): beta = 2 eta / s^2
- ``noise_variance`` v (per-step variance):  beta = 2 eta / v   (Haghifam et al.'s code: beta_t = 2 eta_t / var_t)
- ``bayes``        Bayesian SGLD on the *sum* loss (posterior sampling, noise sqrt(2 eta'), step eta' = eta / n):
                   beta = n (the number of training records)
"""

from __future__ import annotations

import math

from tenfold.core.errors import BadConfigError

CONVENTIONS = ("beta", "temperature", "noise_std", "noise_variance", "bayes")


def inverse_temperature(convention: str, value: float, *, lr: float | None = None) -> float:
    """Turn ``value`` given in ``convention`` into this package's beta (see the module docstring)."""
    if convention not in CONVENTIONS:
        raise BadConfigError(
            f"unknown temperature convention {convention!r}; name one of {', '.join(CONVENTIONS)} explicitly"
        )
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise BadConfigError(f"{convention} must be a positive finite number, got {value!r}")
    if convention == "beta":
        return float(value)
    if convention == "temperature":
        return 1.0 / value
    if convention == "bayes":
        return float(value)  # value is n: the sum loss at temperature 1 equals the mean loss at beta = n
    if lr is None or not lr > 0:
        raise BadConfigError(f"converting {convention} to beta needs the step size lr > 0")
    if convention == "noise_std":
        return 2.0 * lr / value**2
    return 2.0 * lr / value  # noise_variance


def noise_std(lr: float, beta: float) -> float:
    """Per-step noise standard deviation sqrt(2 eta / beta)."""
    return math.sqrt(2.0 * lr / beta)
