"""Pure functions on pixel flows (H, W, 2): resizing, the fold measure det(I + ∇F), shrinking, suppression."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MIN_DETERMINANT = 0.3  # spec 4/7: a flow whose min det(I + ∇F) is below this folds visibly


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinearly resize a pixel flow to (height, width) and rescale its vectors to the new pixel size."""
    old_height, old_width = flow.shape[:2]
    if (old_height, old_width) == (height, width):
        return flow.astype(np.float32, copy=True)
    scale = np.array([width / old_width, height / old_height], dtype=np.float32)
    try:
        import cv2  # several times faster than torch here; same half-pixel-centre convention
    except ImportError:
        cv2 = None
    if cv2 is not None:
        resized = cv2.resize(np.ascontiguousarray(flow, dtype=np.float32), (width, height),
                             interpolation=cv2.INTER_LINEAR)
        return resized * scale
    tensor = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)[None]
    resized = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)[0]
    return resized.permute(1, 2, 0).numpy() * scale


def _derivatives(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d/dy, d/dx) by central differences, one-sided at the borders (as np.gradient), in float32."""
    channel = np.asarray(channel, np.float32)
    dy = np.empty_like(channel)
    dx = np.empty_like(channel)
    if channel.shape[0] > 1:
        dy[1:-1] = (channel[2:] - channel[:-2]) * 0.5
        dy[0], dy[-1] = channel[1] - channel[0], channel[-1] - channel[-2]
    else:
        dy[:] = 0
    if channel.shape[1] > 1:
        dx[:, 1:-1] = (channel[:, 2:] - channel[:, :-2]) * 0.5
        dx[:, 0], dx[:, -1] = channel[:, 1] - channel[:, 0], channel[:, -1] - channel[:, -2]
    else:
        dx[:] = 0
    return dy, dx


def _trace_and_determinant(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dfx_dy, dfx_dx = _derivatives(flow[..., 0])
    dfy_dy, dfy_dx = _derivatives(flow[..., 1])
    return dfx_dx + dfy_dy, dfx_dx * dfy_dy - dfx_dy * dfy_dx


def jacobian_determinant(flow: np.ndarray) -> np.ndarray:
    """det(I + ∇F) per pixel (central differences); values <= 0 mean the backward map folds."""
    trace, determinant = _trace_and_determinant(flow)
    return 1 + trace + determinant


def min_determinant(flow: np.ndarray) -> float:
    """The smallest det(I + ∇F) over the image (1.0 for the zero flow)."""
    return float(jacobian_determinant(flow).min())


def fold_guard(flow: np.ndarray, *, minimum: float = MIN_DETERMINANT, shrink: float = 0.8,
               max_steps: int = 30) -> tuple[np.ndarray, float, float]:
    """Scale the flow by ``shrink`` until min det(I + ∇F) >= minimum: (flow, total factor, final min det).

    det(I + c∇F) = 1 + c·tr ∇F + c²·det ∇F per pixel, so the gradients are taken once for all c.
    """
    trace, determinant = _trace_and_determinant(flow)
    factor = 1.0
    for _ in range(max_steps):
        smallest = float((1 + factor * trace + factor * factor * determinant).min())
        if smallest >= minimum:
            break
        factor *= shrink
    else:
        smallest = float((1 + factor * trace + factor * factor * determinant).min())
    if factor == 1.0:
        return flow.astype(np.float32, copy=False), 1.0, smallest
    return (flow * np.float32(factor)).astype(np.float32, copy=False), factor, smallest


def guard_folds(flow: np.ndarray, *, minimum: float = MIN_DETERMINANT, shrink: float = 0.8,
                max_steps: int = 30) -> tuple[np.ndarray, float]:
    """:func:`fold_guard` without the final determinant: (flow, total factor)."""
    guarded, factor, _ = fold_guard(flow, minimum=minimum, shrink=shrink, max_steps=max_steps)
    return guarded, factor


def soft_threshold(flow: np.ndarray, pixels: float) -> np.ndarray:
    """|F| ← max(|F| − pixels, 0) with the direction kept: the official background suppression."""
    if pixels <= 0:
        return flow
    magnitude = np.linalg.norm(flow, axis=-1, keepdims=True)
    scale = np.maximum(magnitude - pixels, 0) / np.maximum(magnitude, 1e-12)
    return (flow * scale).astype(np.float32, copy=False)


def clamp_magnitude(flow: np.ndarray, limit: float) -> np.ndarray:
    """Clamp |F| to ``limit`` pixels, keeping the direction."""
    magnitude = np.linalg.norm(flow, axis=-1, keepdims=True)
    scale = np.minimum(1.0, limit / np.maximum(magnitude, 1e-12))
    return (flow * scale).astype(np.float32, copy=False)


def end_point_error(predicted: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean Euclidean distance between two flows (..., H, W, 2), optionally inside a boolean mask (..., H, W)."""
    error = np.linalg.norm(np.asarray(predicted, np.float64) - np.asarray(target, np.float64), axis=-1)
    if mask is None:
        return float(error.mean())
    mask = np.asarray(mask, bool)
    return float(error[mask].mean()) if mask.any() else float("nan")
