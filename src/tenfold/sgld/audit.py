"""Empirical leakage: loss-threshold membership inference with a permutation null and bootstrap intervals,
and a canary-based lower bound on epsilon (Clopper-Pearson).

Small-n bias is real: with 300 + 300 points random scores already give max(TPR - FPR) around 0.07, so the
advantage is reported next to the mean of its permutation null.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadInputError


class SmallAuditWarning(UserWarning):
    """Too few members/non-members for the attack numbers to mean much; read them against the null."""


@dataclass
class MembershipAudit:
    auc: float
    advantage: float  # max_threshold TPR - FPR
    null_advantage_mean: float  # same statistic with membership labels permuted
    null_auc_mean: float
    advantage_ci: tuple[float, float]  # bootstrap 95% interval
    auc_ci: tuple[float, float]


def _auc_and_advantage(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Rank-based AUC and the best TPR - FPR over thresholds, vectorised (higher score = member)."""
    order = np.argsort(-scores, kind="mergesort")
    t = truth[order]
    positives, negatives = t.sum(), t.size - t.sum()
    tpr = np.cumsum(t) / positives
    fpr = np.cumsum(1 - t) / negatives
    # ties: only evaluate at the last index of each run of equal scores
    s = scores[order]
    last = np.r_[s[1:] != s[:-1], True]
    advantage = float(np.max(np.r_[0.0, (tpr - fpr)[last]]))
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    auc = float((ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
    return auc, advantage


def membership_audit(
    member_losses: np.ndarray,
    nonmember_losses: np.ndarray,
    *,
    permutations: int = 200,
    bootstrap: int = 200,
    seed: int = 0,
) -> MembershipAudit:
    """Yeom et al.'s loss-threshold attack (low loss => member) with its permutation null and bootstrap CIs."""
    a = np.asarray(member_losses, dtype=np.float64).ravel()
    b = np.asarray(nonmember_losses, dtype=np.float64).ravel()
    if a.size < 1 or b.size < 1 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise BadInputError("membership audit needs finite losses for at least one member and one non-member")
    if min(a.size, b.size) < 200:
        warnings.warn(
            f"membership audit with {a.size} members / {b.size} non-members: small-n bias is large; "
            "compare the advantage with the permutation null",
            SmallAuditWarning,
            stacklevel=2,
        )
    scores = -np.r_[a, b]
    truth = np.r_[np.ones(a.size), np.zeros(b.size)]
    auc, advantage = _auc_and_advantage(scores, truth)
    rng = np.random.default_rng(seed)
    null = np.array([_auc_and_advantage(scores, rng.permutation(truth)) for _ in range(permutations)])
    boot = []
    for _ in range(bootstrap):
        ia, ib = rng.integers(0, a.size, a.size), rng.integers(0, b.size, b.size)
        boot.append(_auc_and_advantage(-np.r_[a[ia], b[ib]], truth))
    boot_arr = np.array(boot)
    return MembershipAudit(
        auc=auc,
        advantage=advantage,
        null_advantage_mean=float(null[:, 1].mean()) if permutations else float("nan"),
        null_auc_mean=float(null[:, 0].mean()) if permutations else float("nan"),
        advantage_ci=tuple(np.quantile(boot_arr[:, 1], [0.025, 0.975]).tolist()) if bootstrap else (math.nan, math.nan),
        auc_ci=tuple(np.quantile(boot_arr[:, 0], [0.025, 0.975]).tolist()) if bootstrap else (math.nan, math.nan),
    )


def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided (1 - alpha) binomial interval."""
    from scipy.stats import beta

    if trials < 1 or not (0 <= successes <= trials):
        raise BadInputError(f"need 0 <= successes <= trials >= 1, got {successes}/{trials}")
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


def empirical_epsilon(
    scores_in: np.ndarray, scores_out: np.ndarray, *, delta: float = 1e-5, alpha: float = 0.05
) -> float:
    """Lower bound on epsilon from canary runs: max over thresholds of ln((TPR_low - delta) / FPR_high).

    ``scores_in``: attack score (higher = "canary present") over R runs trained with the canary, ``scores_out``
    over R runs without. Clopper-Pearson bounds make the result a (1 - alpha)-confidence lower bound.
    """
    s_in, s_out = np.asarray(scores_in, dtype=np.float64), np.asarray(scores_out, dtype=np.float64)
    if s_in.size < 1 or s_out.size < 1:
        raise BadInputError("the canary audit needs runs with and without the canary")
    best = 0.0
    for threshold in np.unique(np.r_[s_in, s_out]):
        tp = int(np.sum(s_in >= threshold))
        fp = int(np.sum(s_out >= threshold))
        tpr_low, _ = clopper_pearson(tp, s_in.size, alpha)
        _, fpr_high = clopper_pearson(fp, s_out.size, alpha)
        for a_, b_ in ((tpr_low, fpr_high), (1 - clopper_pearson(fp, s_out.size, alpha)[0],
                                            1 - clopper_pearson(tp, s_in.size, alpha)[1])):
            if a_ - delta > 0 and b_ > 0:
                best = max(best, math.log((a_ - delta) / b_))
    return best
