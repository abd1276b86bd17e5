"""Backdoor metrics: benign accuracy (BA), attack success rate (ASR), and image quality (PSNR, SSIM, L_inf)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from tenfold.core.errors import BadInputError
from tenfold.ftrojan.training import predict


def benign_accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Clean test accuracy."""
    return float(np.mean(predict(model, x) == np.asarray(y)))


def attack_success_rate(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    trigger: Callable[[np.ndarray], np.ndarray],
    target: int,
    *,
    include_target: bool = False,
) -> float:
    """Fraction of triggered test images classified as ``target``.

    By default target-class images are left out (they would count as hits); ``include_target=True``
    gives the official code's number, inflated by up to 1/num_classes.
    """
    y = np.asarray(y)
    keep = np.ones(len(y), dtype=bool) if include_target else y != target
    if not keep.any():
        return float("nan")
    return float(np.mean(predict(model, trigger(x[keep])) == target))


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> rounded uint8, the form images are stored in."""
    return np.rint(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def image_quality_per_image(clean: np.ndarray, triggered: np.ndarray) -> dict[str, np.ndarray]:
    """PSNR (dB, capped at 100 for an unchanged image), SSIM and the largest pixel change (of 255) of each
    image pair after uint8 rounding, the form images are stored and shown in."""
    from skimage.metrics import structural_similarity

    from tenfold.core.image_quality import psnr

    a, b = to_uint8(clean), to_uint8(triggered)
    if a.shape != b.shape:
        raise BadInputError(f"clean and triggered images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 3:
        a, b = a[..., None], b[..., None]
    psnrs = np.array([psnr(u, v, data_range=255, max_db=100.0) for u, v in zip(a, b, strict=True)])
    ssims = np.array([structural_similarity(u, v, data_range=255, channel_axis=-1, win_size=7) for u, v in zip(a, b, strict=True)])
    linf = np.abs(a.astype(int) - b.astype(int)).reshape(len(a), -1).max(axis=1).astype(np.float64)
    return {"psnr": psnrs, "ssim": ssims, "linf": linf}


def image_quality(clean: np.ndarray, triggered: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over images after uint8 rounding, and the largest pixel change (of 255)."""
    per_image = image_quality_per_image(clean, triggered)
    return {
        "psnr": float(np.mean(per_image["psnr"])),
        "ssim": float(np.mean(per_image["ssim"])),
        "linf": float(np.max(per_image["linf"])),
    }
