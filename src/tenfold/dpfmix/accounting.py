"""Privacy accounting for T Poisson-subsampled Gaussian releases: PLD (reported), GDP-CLT (theory only).

The reported epsilon is always dp-accounting's privacy-loss-distribution (PLD) one, under a named
neighbouring relation:

- ``replace-one``: neighbours have the same size n and differ in one record. This is the relation that
  matches a release which publishes n (and a sampling rate m/n derived from it). A replacement can move a
  mixture by twice a record's contribution, so the same noise buys a larger epsilon (n = T = 2000, m = 21,
  sigma calibrated to eps 4 under add/remove: 5.91 under replace-one).
- ``add-remove``: neighbours differ by adding or removing one record, the paper's (and Opacus') relation.
  It is sound only when the record count is not published and the sampling rate does not depend on it.

The Gaussian-DP central-limit quantity ``mu`` (Bu, Dong, Long, Su 2020) is kept as the theory number that
the closed-form optimal mixup degree uses; it underestimates epsilon when sigma is small (spec A1 table).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

from scipy.optimize import brentq
from scipy.stats import norm

from tenfold.core.errors import BadConfigError
from tenfold.core.validation import check_number

# Below this noise multiplier the CLT approximation is visibly optimistic (spec A1: m = 1..4 rows).
CLT_UNRELIABLE_SIGMA = 0.7
_DEFAULT_INTERVAL = 1e-4
# Neighbouring relations the accountant offers, by the names the CLI and the release metadata use.
ADJACENCIES = ("replace-one", "add-remove")
# Coarsest PLD discretisation accepted: coarser still gives an upper bound, but a useless one.
MAX_INTERVAL = 0.1


class AccountantFallbackWarning(UserWarning):
    """The fine PLD discretisation failed and a coarser one was used (reported, never silent)."""


class WeakNoiseWarning(UserWarning):
    """Sigma is small enough that the GDP central-limit epsilon is optimistic; trust the PLD one."""


def check_privacy_target(eps: float, delta: float) -> None:
    """Reject absurd (epsilon, delta) before any accountant runs."""
    if isinstance(eps, bool) or not (isinstance(eps, int | float) and math.isfinite(eps) and eps > 0):
        raise BadConfigError(f"epsilon must be a positive finite number, got {eps!r}")
    if isinstance(delta, bool) or not (isinstance(delta, int | float) and 0 < delta < 1):
        raise BadConfigError(f"delta must lie in (0, 1), got {delta!r}; 1e-5 is the usual choice")


def check_adjacency(adjacency: str) -> str:
    if adjacency not in ADJACENCIES:
        raise BadConfigError(f"adjacency {adjacency!r}: use one of {', '.join(ADJACENCIES)}")
    return adjacency


def check_interval(interval: float, name: str = "interval") -> float:
    """The PLD discretisation must be a positive finite number (0, NaN or a negative one breaks the accountant)."""
    check_number(name, interval, low=0.0, low_open=True, high=MAX_INTERVAL)
    return float(interval)


def check_sampling(rate: float, releases: int) -> None:
    if not (0 < rate < 1):
        raise BadConfigError(f"sampling rate p = m/n must lie in (0, 1), got {rate!r}; lower m or add records")
    if int(releases) < 1:
        raise BadConfigError(f"the number of releases T must be at least 1, got {releases!r}")


def _relation(adjacency: str):
    import dp_accounting

    relations = {
        "replace-one": dp_accounting.NeighboringRelation.REPLACE_ONE,
        "add-remove": dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE,
    }
    return relations[check_adjacency(adjacency)]


@lru_cache(maxsize=4096)
def _pld_epsilon(sigma: float, rate: float, releases: int, delta: float, interval: float, adjacency: str) -> float:
    import dp_accounting
    from dp_accounting import pld

    accountant = pld.PLDAccountant(neighboring_relation=_relation(adjacency), value_discretization_interval=interval)
    event = dp_accounting.PoissonSampledDpEvent(rate, dp_accounting.GaussianDpEvent(sigma))
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, int(releases)))
    return float(accountant.get_epsilon(delta))


def pld_epsilon(
    sigma: float, rate: float, releases: int, delta: float, *, interval: float = _DEFAULT_INTERVAL,
    adjacency: str = "add-remove",
) -> float:
    """Epsilon of ``releases`` Poisson(rate)-subsampled Gaussian(sigma) mechanisms at ``delta`` (PLD).

    ``adjacency`` names the neighbouring relation (module docstring). If the accountant fails at
    ``interval`` it retries ten times coarser and warns (spec A7).
    """
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise BadConfigError(f"noise multiplier sigma must be positive, got {sigma!r}")
    check_sampling(rate, releases)
    check_interval(interval)
    check_adjacency(adjacency)
    try:
        return _pld_epsilon(float(sigma), float(rate), int(releases), float(delta), float(interval), adjacency)
    except (ValueError, FloatingPointError, OverflowError, MemoryError) as error:
        coarse = interval * 10
        warnings.warn(
            f"PLD accountant failed at interval {interval:g} ({error}); fell back to interval {coarse:g}",
            AccountantFallbackWarning,
            stacklevel=2,
        )
        return _pld_epsilon(float(sigma), float(rate), int(releases), float(delta), float(coarse), adjacency)


def calibrate_sigma(
    eps: float, delta: float, rate: float, releases: int, *, interval: float = _DEFAULT_INTERVAL,
    adjacency: str = "add-remove",
) -> float:
    """Smallest noise multiplier whose PLD epsilon is <= ``eps`` (brentq on log sigma, 0.1% precision).

    The search starts at the GDP-CLT sigma (PLD cost grows steeply with epsilon, so it never probes
    tiny sigmas) and the PLD epsilon is an upper bound (pessimistic discretisation): a coarser
    ``interval`` is faster and still valid, only slightly more conservative.
    """
    check_privacy_target(eps, delta)
    check_sampling(rate, releases)
    check_interval(interval)
    check_adjacency(adjacency)

    def epsilon(sigma: float) -> float:
        return pld_epsilon(sigma, rate, releases, delta, interval=interval, adjacency=adjacency)

    def gap(log_sigma: float) -> float:
        return epsilon(math.exp(log_sigma)) - eps

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
    while epsilon(sigma) > eps:
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
    low, high = 1e-6, 100.0
    if not (gdp_delta(low, eps) - delta < 0 < gdp_delta(high, eps) - delta):
        raise BadConfigError(
            f"no Gaussian-DP mu in [{low:g}, {high:g}] matches epsilon {eps:g} at delta {delta:g}; "
            "choose a smaller epsilon (the closed form is meant for eps up to a few tens)"
        )
    return float(brentq(lambda mu: gdp_delta(mu, eps) - delta, low, high, xtol=1e-12))


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
