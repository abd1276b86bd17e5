"""Privacy accounting for T Poisson-subsampled Gaussian releases: PLD (reported), GDP-CLT (theory only).

The reported epsilon is always dp-accounting's privacy-loss-distribution (PLD) one. The Gaussian-DP
central-limit quantity ``mu`` (Bu, Dong, Long, Su 2020) is kept as the theory number that the closed-form
optimal mixup degree uses; it underestimates epsilon when sigma is small (spec A1 table).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

from scipy.optimize import brentq
from scipy.stats import norm

from tenfold.core.errors import BadConfigError

# Below this noise multiplier the CLT approximation is visibly optimistic (spec A1: m = 1..4 rows).
CLT_UNRELIABLE_SIGMA = 0.7
_DEFAULT_INTERVAL = 1e-4


class AccountantFallbackWarning(UserWarning):
    """The fine PLD discretisation failed and a coarser one was used (reported, never silent)."""


class WeakNoiseWarning(UserWarning):
    """Sigma is small enough that the GDP central-limit epsilon is optimistic; trust the PLD one."""


def check_privacy_target(eps: float, delta: float) -> None:
    """Reject absurd (epsilon, delta) before any accountant runs."""
    if not (isinstance(eps, int | float) and math.isfinite(eps) and eps > 0):
        raise BadConfigError(f"epsilon must be a positive finite number, got {eps!r}")
    if not (0 < delta < 1):
        raise BadConfigError(f"delta must lie in (0, 1), got {delta!r}; 1e-5 is the usual choice")


def check_sampling(rate: float, releases: int) -> None:
    if not (0 < rate < 1):
        raise BadConfigError(f"sampling rate p = m/n must lie in (0, 1), got {rate!r}; lower m or add records")
    if int(releases) < 1:
        raise BadConfigError(f"the number of releases T must be at least 1, got {releases!r}")


@lru_cache(maxsize=4096)
def _pld_epsilon(sigma: float, rate: float, releases: int, delta: float, interval: float) -> float:
    import dp_accounting
    from dp_accounting import pld

    accountant = pld.PLDAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE,
        value_discretization_interval=interval,
    )
    event = dp_accounting.PoissonSampledDpEvent(rate, dp_accounting.GaussianDpEvent(sigma))
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, int(releases)))
    return float(accountant.get_epsilon(delta))


def pld_epsilon(sigma: float, rate: float, releases: int, delta: float, *, interval: float = _DEFAULT_INTERVAL) -> float:
    """Epsilon of ``releases`` Poisson(rate)-subsampled Gaussian(sigma) mechanisms at ``delta`` (add/remove, PLD).

    If the accountant fails at ``interval`` it retries ten times coarser and warns (spec A7).
    """
    if sigma <= 0:
        raise BadConfigError(f"noise multiplier sigma must be positive, got {sigma!r}")
    check_sampling(rate, releases)
    try:
        return _pld_epsilon(float(sigma), float(rate), int(releases), float(delta), float(interval))
    except (ValueError, FloatingPointError, OverflowError, MemoryError) as error:
        coarse = interval * 10
        warnings.warn(
            f"PLD accountant failed at interval {interval:g} ({error}); fell back to interval {coarse:g}",
            AccountantFallbackWarning,
            stacklevel=2,
        )
        return _pld_epsilon(float(sigma), float(rate), int(releases), float(delta), float(coarse))


def calibrate_sigma(
    eps: float, delta: float, rate: float, releases: int, *, interval: float = _DEFAULT_INTERVAL
) -> float:
    """Smallest noise multiplier whose PLD epsilon is <= ``eps`` (brentq on log sigma, 0.1% precision).

    The search starts at the GDP-CLT sigma (PLD cost grows steeply with epsilon, so it never probes
    tiny sigmas) and the PLD epsilon is an upper bound (pessimistic discretisation): a coarser
    ``interval`` is faster and still valid, only slightly more conservative.
    """
    check_privacy_target(eps, delta)
    check_sampling(rate, releases)

    def gap(log_sigma: float) -> float:
        return pld_epsilon(math.exp(log_sigma), rate, releases, delta, interval=interval) - eps

    start = math.log(gdp_sigma_from_mu(gdp_mu_from_eps(eps, delta), rate, releases))
    step = math.log(1.25)
    low = high = start
    if gap(start) > 0:
        while gap(high) > 0:
            low, high = high, high + step
            if high > math.log(1e5):
                raise BadConfigError(f"no noise multiplier reaches epsilon {eps} at delta {delta}; raise delta or epsilon")
    else:
        while gap(low) <= 0:
            high, low = low, low - step
            if low < math.log(1e-3):
                return math.exp(high)
    root = brentq(gap, low, high, xtol=1e-3)
    sigma = math.exp(root)
    # brentq may land just below the root; step up until the target is met.
    while pld_epsilon(sigma, rate, releases, delta, interval=interval) > eps:
        sigma *= 1.001
    return sigma


def gdp_mu_from_sigma(sigma: float, rate: float, releases: int) -> float:
    """GDP-CLT mu = p sqrt(T (e^{1/sigma^2} - 1)) for T Poisson-subsampled Gaussian releases."""
    check_sampling(rate, releases)
    return rate * math.sqrt(releases * math.expm1(1.0 / sigma**2))


def gdp_sigma_from_mu(mu: float, rate: float, releases: int) -> float:
    """Inverse of :func:`gdp_mu_from_sigma`: sigma = 1 / sqrt(ln(1 + mu^2 / (p^2 T)))."""
    check_sampling(rate, releases)
    if mu <= 0:
        raise BadConfigError(f"mu must be positive, got {mu!r}")
    return 1.0 / math.sqrt(math.log1p(mu**2 / (rate**2 * releases)))


def gdp_delta(mu: float, eps: float) -> float:
    """delta(eps) of mu-GDP: Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)."""
    # e^eps Phi(.) in log space: large eps would overflow exp() on its own
    return float(norm.cdf(-eps / mu + mu / 2) - math.exp(eps + norm.logcdf(-eps / mu - mu / 2)))


def gdp_mu_from_eps(eps: float, delta: float) -> float:
    """The mu whose mu-GDP curve passes through (eps, delta); solved with brentq."""
    check_privacy_target(eps, delta)
    return float(brentq(lambda mu: gdp_delta(mu, eps) - delta, 1e-6, 100.0, xtol=1e-12))


def gdp_auc_bound(mu: float) -> float:
    """Largest ROC-AUC any membership test can reach against a mu-GDP mechanism: Phi(mu / sqrt 2)."""
    return float(norm.cdf(mu / math.sqrt(2.0)))


def gdp_advantage_bound(mu: float) -> float:
    """Largest TPR - FPR against a mu-GDP mechanism: 2 Phi(mu/2) - 1."""
    return float(2 * norm.cdf(mu / 2) - 1)


def prv_epsilon(sigma: float, rate: float, releases: int, delta: float) -> tuple[float, float, float]:
    """Cross-check with microsoft's prv-accountant: (lower, estimate, upper) epsilon."""
    from prv_accountant import PoissonSubsampledGaussianMechanism, PRVAccountant

    accountant = PRVAccountant(
        prvs=PoissonSubsampledGaussianMechanism(noise_multiplier=sigma, sampling_probability=rate),
        max_self_compositions=int(releases),
        eps_error=0.01,
        delta_error=1e-9,
    )
    low, estimate, high = accountant.compute_epsilon(delta=delta, num_self_compositions=[int(releases)])
    return float(low[0] if hasattr(low, "__len__") else low), float(
        estimate[0] if hasattr(estimate, "__len__") else estimate
    ), float(high[0] if hasattr(high, "__len__") else high)


def warn_if_weak_noise(sigma: float) -> None:
    if sigma < CLT_UNRELIABLE_SIGMA:
        warnings.warn(
            f"noise multiplier {sigma:.3f} < {CLT_UNRELIABLE_SIGMA}: the GDP central-limit epsilon is optimistic "
            "here; the reported epsilon is the PLD one",
            WeakNoiseWarning,
            stacklevel=3,
        )
