"""Evaluation metrics as in the official evaluator (spec 2, 4): Gaussian SSIM, EPE, leakage, folds.

PSNR is core's one :func:`tenfold.core.image_quality.psnr`, shared by every method that compares images.
"""

from __future__ import annotations

import numpy as np

from tenfold.bodyreshape.flow_field import end_point_error, min_determinant

__all__ = ["ssim", "end_point_error", "leakage", "min_determinant"]


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
