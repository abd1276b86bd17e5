"""Seeded linear-regression data for the sweet-spot study (spec E1).

x ~ N(0, I/d) clipped to norm <= 1 and y = x.beta + noise clipped to [-1, 1], beta on the unit sphere:
centred, isotropic features with bounded norm, the setting in which m* = mu n / sqrt(u* T) is derived.
"""

from __future__ import annotations

import numpy as np

from tenfold.dpfmix.mixing import clip_rows


def linear_regression_data(
    n: int, d: int = 10, *, noise: float = 0.1, seed: int = 0, beta: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, beta): n rows of the bounded linear model; pass ``beta`` to draw a test set from the same model."""
    rng = np.random.default_rng(seed)
    if beta is None:
        beta = rng.normal(size=d)
        beta /= np.linalg.norm(beta)
    x, _ = clip_rows(rng.normal(0.0, 1.0 / np.sqrt(d), size=(n, d)), 1.0)
    y = np.clip(x @ beta + noise * rng.normal(size=n), -1.0, 1.0)
    return x, y, beta


def ols_test_mse(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Ordinary least squares (with intercept) fitted on the release, mean squared error on clean test data."""
    design = np.c_[x_train, np.ones(x_train.shape[0])]
    coef, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    prediction = np.c_[x_test, np.ones(x_test.shape[0])] @ coef
    return float(np.mean((prediction.ravel() - np.ravel(y_test)) ** 2))
