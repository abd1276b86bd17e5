"""Evaluation metrics as in the official evaluator (spec 2, 4): PSNR, Gaussian SSIM, EPE, leakage, folds."""

from __future__ import annotations

import numpy as np

from tenfold.bodyreshape.flow_field import end_point_error, min_determinant

__all__ = ["psnr", "ssim", "end_point_error", "leakage", "min_determinant"]


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (data range 1)."""
    error = float(np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return float("inf") if error == 0 else 10.0 * np.log10(1.0 / error)


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """SSIM with an 11×11 Gaussian window (σ 1.5), data range 1, averaged over RGB (the official setting)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(image, np.float64), np.asarray(reference, np.float64),
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=1.0, channel_axis=-1))


def leakage(flow: np.ndarray, mask: np.ndarray) -> float:
    """Mean flow magnitude (pixels) over a boolean mask, e.g. distractor objects that must not move."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return float("nan")
    return float(np.linalg.norm(np.asarray(flow, np.float64), axis=-1)[mask].mean())
