"""Models trained on a release (free post-processing), validation-based selection, and the membership check.

The official code reports the best test accuracy over epochs (selection on test); here every choice
(m, ridge strength) is made on a validation split and the test split is touched once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadInputError


class SoftLabelRidge:
    """Ridge regression onto (soft) label vectors; predicts the argmax class."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, soft_labels: np.ndarray) -> SoftLabelRidge:
        from sklearn.linear_model import Ridge

        self.model_ = Ridge(alpha=self.alpha).fit(x, soft_labels)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.model_.predict(x), axis=1)

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == labels))


class SoftmaxRegression:
    """Linear softmax fitted by L-BFGS (scipy, analytic gradient) on soft-label cross-entropy.

    That is the paper's KL loss up to a constant. Soft labels are renormalised to sum to 1 (rows that are
    all zero after clipping are dropped). numpy + scipy: for these small heads it is far cheaper than torch.
    """

    def __init__(self, l2: float = 0.0, max_iter: int = 200, seed: int = 0) -> None:
        self.l2 = l2
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, x: np.ndarray, soft_labels: np.ndarray) -> SoftmaxRegression:
        from scipy.optimize import minimize

        y = np.asarray(soft_labels, dtype=np.float64)
        mass = y.sum(axis=1)
        keep = mass > 0
        if not np.any(keep):
            raise BadInputError("every soft-label row is zero; nothing to learn from")
        xk = np.c_[np.asarray(x, dtype=np.float64)[keep], np.ones(int(keep.sum()))]  # (n, d + 1) with bias
        yk = y[keep] / mass[keep, None]
        n, width = xk.shape
        classes = yk.shape[1]

        def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
            weight = flat.reshape(width, classes)
            logits = xk @ weight
            logits -= logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            penalty = self.l2 * np.sum(weight[:-1] ** 2)
            loss = -np.sum(yk * log_p) / n + penalty
            grad = xk.T @ (np.exp(log_p) * yk.sum(axis=1, keepdims=True) - yk) / n
            grad[:-1] += 2 * self.l2 * weight[:-1]
            return float(loss), grad.ravel()

        start = 0.01 * np.random.default_rng(self.seed).normal(size=width * classes)
        solution = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        weight = solution.x.reshape(width, classes)
        self.weight_, self.bias_ = weight[:-1], weight[-1]
        return self

    def log_proba(self, x: np.ndarray) -> np.ndarray:
        logits = np.asarray(x, dtype=np.float64) @ self.weight_ + self.bias_
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.log_proba(x), axis=1)

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == labels))

    def per_sample_loss(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Cross-entropy of each (x, true label): the membership attack's score."""
        return -self.log_proba(x)[np.arange(len(labels)), labels]


@dataclass
class MembershipResult:
    auc: float
    auc_se: float  # Hanley-McNeil standard error
    advantage: float  # max over thresholds of TPR - FPR


def loss_threshold_attack(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> MembershipResult:
    """Yeom et al.'s attack: lower loss => guess "member". AUC, its standard error, and the best advantage."""
    from sklearn.metrics import roc_auc_score, roc_curve

    a = np.asarray(member_losses, dtype=np.float64)
    b = np.asarray(nonmember_losses, dtype=np.float64)
    if a.size < 1 or b.size < 1:
        raise BadInputError("the attack needs at least one member and one non-member")
    truth = np.r_[np.ones(a.size), np.zeros(b.size)]
    scores = -np.r_[a, b]
    auc = float(roc_auc_score(truth, scores))
    fpr, tpr, _ = roc_curve(truth, scores)
    return MembershipResult(auc=auc, auc_se=hanley_mcneil_se(auc, a.size, b.size), advantage=float(np.max(tpr - fpr)))


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an ROC-AUC estimate (Hanley & McNeil 1982)."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))
