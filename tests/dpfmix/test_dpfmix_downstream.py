"""Downstream models on soft labels and the loss-threshold membership attack."""

import numpy as np
import pytest

from tenfold.dpfmix.downstream import (
    SoftLabelRidge,
    SoftmaxRegression,
    hanley_mcneil_se,
    loss_threshold_attack,
)


def test_attack_perfect_and_chance():
    perfect = loss_threshold_attack(np.zeros(50), np.ones(50))
    assert perfect.auc == 1.0 and perfect.advantage == 1.0
    rng = np.random.default_rng(0)
    chance = loss_threshold_attack(rng.random(2000), rng.random(2000))
    assert chance.auc == pytest.approx(0.5, abs=0.03)
    assert chance.auc_se == pytest.approx(hanley_mcneil_se(chance.auc, 2000, 2000))
    assert hanley_mcneil_se(0.5, 2000, 2000) == pytest.approx(np.sqrt(1 / (12 * 2000) * 2), rel=0.01)


def test_softmax_and_ridge_learn_separable_soft_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    labels = (x[:, 0] > 0).astype(int)
    soft = np.eye(2)[labels] * 0.8 + 0.1
    softmax = SoftmaxRegression().fit(x, soft)
    assert softmax.score(x, labels) > 0.95
    assert softmax.per_sample_loss(x, labels).shape == (200,)
    assert SoftLabelRidge(1.0).fit(x, soft).score(x, labels) > 0.95


def test_softmax_matches_sklearn_logistic_regression_on_hard_labels():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    labels = rng.integers(0, 3, size=120)
    c = 2.0
    ours = SoftmaxRegression(l2=1 / (2 * c * 120), max_iter=500).fit(x, np.eye(3)[labels])
    reference = LogisticRegression(C=c, max_iter=2000, tol=1e-10).fit(x, labels)
    assert np.allclose(np.exp(ours.log_proba(x)), reference.predict_proba(x), atol=2e-3)
