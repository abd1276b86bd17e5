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


def largest_safe_factor(flow: np.ndarray, *, minimum: float = MIN_DETERMINANT) -> float:
    """The largest c <= 1 with min det(I + c∇F) >= minimum, solved exactly per pixel.

    det(I + c∇F) = 1 + c·tr ∇F + c²·det ∇F is a quadratic in c that starts at 1 > minimum, so the
    answer is the smallest positive root of ``det ∇F c² + tr ∇F c + (1 - minimum)`` over all pixels.
    """
    trace, determinant = (a.astype(np.float64) for a in _trace_and_determinant(flow))
    slack = 1.0 - minimum
    roots = np.full(trace.shape, np.inf)
    linear = np.abs(determinant) < 1e-12
    falling = linear & (trace < 0)
    roots[falling] = slack / -trace[falling]
    quadratic = ~linear
    discriminant = trace**2 - 4.0 * determinant * slack
    real = quadratic & (discriminant >= 0)
    if real.any():
        t, d, root = trace[real], determinant[real], np.sqrt(discriminant[real])
        q = -0.5 * (t + np.where(t >= 0, root, -root))  # the stable pair q/d and slack/q
        with np.errstate(divide="ignore", invalid="ignore"):
            both = np.stack([q / d, np.where(q != 0, slack / q, np.inf)])
        both[~(both > 0)] = np.inf
        roots[real] = both.min(0)
    return float(min(1.0, roots.min()))


def fold_guard(flow: np.ndarray, *, minimum: float = MIN_DETERMINANT) -> tuple[np.ndarray, float, float]:
    """Scale the flow by the largest factor <= 1 that keeps min det(I + ∇F) >= minimum.

    Returns (flow, factor, final min det); factor 1.0 means the flow was left as it is. The factor is
    exact (:func:`largest_safe_factor`), so doubling a flow that was safe by a margin doubles it
    until the floor, and only the excess is cut.
    """
    factor = largest_safe_factor(flow, minimum=minimum)
    if factor >= 1.0:
        return flow.astype(np.float32, copy=False), 1.0, min_determinant(flow)
    factor *= 0.999  # float32 rounding at the exact root must not land a hair below the floor
    guarded = (flow * np.float32(factor)).astype(np.float32, copy=False)
    smallest = min_determinant(guarded)
    while smallest < minimum:  # pragma: no cover - only float32 rounding of extreme flows gets here
        factor *= 0.99
        guarded = (flow * np.float32(factor)).astype(np.float32, copy=False)
        smallest = min_determinant(guarded)
    return guarded, factor, smallest


def guard_folds(flow: np.ndarray, *, minimum: float = MIN_DETERMINANT) -> tuple[np.ndarray, float]:
    """:func:`fold_guard` without the final determinant: (flow, factor)."""
    guarded, factor, _ = fold_guard(flow, minimum=minimum)
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
