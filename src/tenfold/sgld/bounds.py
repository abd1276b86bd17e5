"""Generalization bounds for SGLD from privacy leakage, and the classic bounds they re-derive, as pure functions.

Recipe (spec B1): |E gen| <= C * E TV(P_{W|S}, P_{W|S^(i)}) <= C * E sqrt(KL / 2) for a loss in [0, C]; the KL
between trajectories with one record replaced is at most (beta / (4 n b)) sum_t eta_t E||grad l(w_t, z_i) -
grad l(w_t, z')||^2 (chain rule over Gaussian kernels of covariance (2 eta_t / beta) I).

- B-KL  (data-dependent): C sqrt(beta / (8 n b) * sum_t eta_t E||delta grad_t||^2)
- B-Lip (gradients clipped to L): C L sqrt(beta sum_t eta_t / (2 n b))
- B-DP  (SGLD with clipping is DP-SGD with noise multiplier b sqrt(2 / (eta beta)) / L): C * TV, TV from
  dp-accounting's PLD with REPLACE_ONE (TV = delta at epsilon 0).
Classic bounds (constants as the spec gives them; Mou et al.'s constant is recalled, unverified):
Mou et al. 2018, Li-Luo-Qiao 2020, Negrea et al. 2019, Pensia et al. 2018 + Xu-Raginsky 2017.

Batch size matters. Li's and Negrea's bounds as Haghifam et al.'s code implements them are full-batch
(Langevin dynamics, b = n). With mini-batches of expected size b, record J enters step t's gradient with
probability b/n and weight 1/b, so by the same chain-rule-plus-joint-convexity argument as B-KL the
per-step KL grows by n/b and Negrea's bound by sqrt(n/b) (about 3x at n = 300, b = 32): that mini-batch
form is what :func:`bound_negrea` computes when ``batch < n``. Li et al.'s own mini-batch theorem carries
a different constant and a step-size condition that could not be checked against the paper here, so
:func:`bound_li` is the full-batch form only and refuses mini-batch runs.
"""

from __future__ import annotations

import math
from functools import lru_cache

from tenfold.core.errors import BadConfigError

HELLER_FETAYA = (
    "without per-example clipping SGLD has no DP guarantee (Heller & Fetaya 2021: its privacy loss can be "
    "unbounded before convergence); only the in-expectation B-KL bound applies"
)


def check_loss_bound(loss_bound: float | None) -> float:
    """The bounds need a loss in [0, C]; refuse unbounded losses such as plain cross-entropy."""
    if loss_bound is None or not math.isfinite(loss_bound) or loss_bound <= 0:
        raise BadConfigError(
            "this bound needs a bounded evaluation loss in [0, C]: use the 0-1 loss (C = 1) or a clipped "
            f"cross-entropy with its C; got C = {loss_bound!r}"
        )
    return float(loss_bound)


def _check_common(beta: float, n: int, batch: float) -> None:
    if not beta > 0:
        raise BadConfigError(f"beta must be positive, got {beta!r}")
    if n < 1 or not (0 < batch <= n):
        raise BadConfigError(f"need n >= 1 and 0 < batch <= n, got n={n}, batch={batch}")


def _check_clip(clip: float | None) -> float:
    if clip is None:
        raise BadConfigError(f"this bound needs per-example gradient clipping (a Lipschitz constant L); {HELLER_FETAYA}")
    if not clip > 0:
        raise BadConfigError(f"clipping bound L must be positive, got {clip!r}")
    return float(clip)


def bound_kl(loss_bound: float, beta: float, n: int, batch: float, sum_eta_sq_diff: float) -> float:
    """B-KL: C sqrt(beta / (8 n b) * sum_t eta_t E||grad l(w_t, z_i) - grad l(w_t, z')||^2)."""
    c = check_loss_bound(loss_bound)
    _check_common(beta, n, batch)
    return c * math.sqrt(beta / (8.0 * n * batch) * max(sum_eta_sq_diff, 0.0))


def bound_lipschitz(loss_bound: float, clip: float | None, beta: float, n: int, batch: float, sum_eta: float) -> float:
    """B-Lip: C L sqrt(beta sum_t eta_t / (2 n b)); O(1/sqrt(n b)) mini-batch, O(1/n) full batch."""
    c = check_loss_bound(loss_bound)
    lip = _check_clip(clip)
    _check_common(beta, n, batch)
    return c * lip * math.sqrt(beta * sum_eta / (2.0 * n * batch))


def dp_noise_multiplier(clip: float | None, beta: float, lr: float, batch: float) -> float:
    """SGLD with clipping L is DP-SGD on the summed gradient with noise multiplier sigma = (b / L) sqrt(2 / (eta beta))."""
    lip = _check_clip(clip)
    if not (beta > 0 and lr > 0 and batch > 0):
        raise BadConfigError("beta, lr and batch must all be positive")
    return batch / lip * math.sqrt(2.0 / (lr * beta))


# Below this noise multiplier one step's privacy-loss distribution is too wide for the PLD accountant to hold
# in memory; the TV is then ~1 anyway (2 Phi(1/sigma) - 1 > 1 - 1e-23 for a full-batch step).
MIN_ACCOUNTABLE_SIGMA = 0.1


def check_accountable(sigma: float) -> None:
    if sigma < MIN_ACCOUNTABLE_SIGMA:
        raise BadConfigError(
            f"noise multiplier sigma = {sigma:.3g} < {MIN_ACCOUNTABLE_SIGMA}: the B-DP bound is vacuous here (TV ~ 1) "
            "and too wide for the PLD accountant; lower beta or lr, or raise the batch size or the clip bound"
        )


@lru_cache(maxsize=512)
def _tv(sigma: float, rate: float, steps: int, interval: float) -> float:
    import dp_accounting
    from dp_accounting import pld

    accountant = pld.PLDAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE, value_discretization_interval=interval
    )
    event: dp_accounting.DpEvent = dp_accounting.GaussianDpEvent(sigma)
    if rate < 1.0:
        event = dp_accounting.PoissonSampledDpEvent(rate, event)
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, steps))
    return float(min(1.0, accountant.get_delta(0.0)))


def dp_total_variation(sigma: float, rate: float, steps: int, *, interval: float = 1e-3) -> float:
    """TV between the trajectories on neighbouring (replace-one) data sets = delta(0) of the PLD; also bounds MIA advantage."""
    if not sigma > 0 or not (0 < rate <= 1) or steps < 1:
        raise BadConfigError(f"need sigma > 0, 0 < rate <= 1 and steps >= 1, got {sigma}, {rate}, {steps}")
    check_accountable(sigma)
    return _tv(float(sigma), float(rate), int(steps), float(interval))


def bound_dp(
    loss_bound: float, clip: float | None, beta: float, lr: float, batch: float, n: int, steps: int, *,
    interval: float = 1e-3,
) -> float:
    """B-DP: C * TV with TV from the PLD of the equivalent DP-SGD run (Poisson rate b/n)."""
    c = check_loss_bound(loss_bound)
    sigma = dp_noise_multiplier(clip, beta, lr, batch)
    return c * dp_total_variation(sigma, batch / n, steps, interval=interval)


def bound_mou(loss_bound: float, clip: float | None, beta: float, n: int, sum_eta: float) -> float:
    """Mou et al. 2018 (stability): (2 C L / n) sqrt(beta sum_t eta_t / 2). Rate verified, constant recalled."""
    c = check_loss_bound(loss_bound)
    lip = _check_clip(clip)
    return 2.0 * c * lip / n * math.sqrt(beta * sum_eta / 2.0)


def bound_li(loss_bound: float, n: int, sum_beta_eta_gradsq: float, *, batch: float | None = None) -> float:
    """Li, Luo, Qiao 2020, full-batch form (Haghifam's code): C (sqrt 2 / n) sqrt(sum_t beta eta_t g_t),
    g_t = mean ||grad||^2. Refuses a mini-batch run (``batch < n``): this form does not cover it."""
    c = check_loss_bound(loss_bound)
    if batch is not None and batch < n:
        raise BadConfigError(
            f"Li et al.'s bound here is the full-batch form (b = n = {n}); a run with batch {batch:g} needs the "
            "paper's mini-batch theorem (other constant, a step-size condition), which is not implemented"
        )
    return c * math.sqrt(2.0) / n * math.sqrt(max(sum_beta_eta_gradsq, 0.0))


def bound_negrea(loss_bound: float, sum_beta_eta_incoherence: float, *, n: int | None = None,
                 batch: float | None = None) -> float:
    """Negrea et al. 2019: C / (2 sqrt 2) sqrt((n / b) sum_t beta eta_t ||(mean grad_{-J} - grad_J) / n||^2).

    Full batch (``batch`` None or equal to ``n``) is the form of Haghifam's code; a mini-batch run of
    expected batch size b scales the sum by n / b (module docstring), which the full-batch form understates.
    """
    c = check_loss_bound(loss_bound)
    scale = 1.0
    if batch is not None:
        if n is None:
            raise BadConfigError("the mini-batch form of Negrea's bound needs n with the batch size")
        _check_common(1.0, n, batch)
        scale = n / batch
    return c / (2.0 * math.sqrt(2.0)) * math.sqrt(scale * max(sum_beta_eta_incoherence, 0.0))


def bound_pensia(loss_bound: float, clip: float | None, beta: float, n: int, dim: int, etas: list[float]) -> float:
    """Pensia et al. 2018 + Xu-Raginsky: I <= sum_t (d/2) ln(1 + beta eta_t L^2 / (2 d)); |gen| <= C sqrt(I / (2 n))."""
    c = check_loss_bound(loss_bound)
    lip = _check_clip(clip)
    info = sum(dim / 2.0 * math.log1p(beta * eta * lip**2 / (2.0 * dim)) for eta in etas)
    return c * math.sqrt(info / (2.0 * n))
