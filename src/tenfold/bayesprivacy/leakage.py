"""Measured privacy leakage: the variational estimate eps_hat of Bayesian privacy (KL between the attacker's
restoration posterior and its prior), and SSIM of restorations (PSNR is core's ``image_quality.psnr``)."""

from __future__ import annotations

import numpy as np

from tenfold.core.errors import BadInputError


def diagonal_gaussian(samples: np.ndarray, floor: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (+ ``floor``) per dimension of samples (R, D)."""
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if len(samples) == 0:
        raise BadInputError("need at least one sample to fit a Gaussian")
    return samples.mean(axis=0), samples.var(axis=0) + floor


def log_density(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> float:
    """Per-dimension mean log density of x (D,) under N(mean, diag(variance))."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(np.mean(-0.5 * (np.log(2 * np.pi * variance) + (x - mean) ** 2 / variance)))


def epsilon_hat(
    restorations: list[np.ndarray], private: list[np.ndarray], prior_mean: np.ndarray, prior_variance: np.ndarray,
    *, floor: float = 1e-3,
) -> float:
    """``mean_i [log q_i(x_i) - log p0(x_i)]`` per pixel (nats): q_i = diagonal Gaussian fitted on image i's
    restorations, p0 = the attacker's diagonal Gaussian prior fitted on public images. A variational
    lower bound on I(X; G), i.e. on the expected KL(posterior || prior) of the Bayesian-privacy definition."""
    if len(restorations) != len(private) or not private:
        raise BadInputError("need one set of restorations per private image")
    values = []
    for candidates, x in zip(restorations, private, strict=True):
        mean, variance = diagonal_gaussian(candidates, floor)
        values.append(log_density(x, mean, variance) - log_density(x, prior_mean, prior_variance))
    return float(np.mean(values))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of two grey (H, W) or (1, H, W) images in [0, 1]."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.squeeze(reference), np.squeeze(image), data_range=1.0, win_size=7))
