"""Backward warping with border clamp: out(x, y) = in(x + Fx, y + Fy), flow F in pixels.

Full-resolution warps use OpenCV's ``remap`` when cv2 imports (fast, float32 maps) and fall back
to torch ``grid_sample``; both clamp sample coordinates to the image, so no black bars appear.
The differentiable :func:`warp_tensor` is the training-time warp (align_corners=True, border).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _cv2():
    try:
        import cv2
    except ImportError:  # the [pose] extra's opencv-contrib may replace or remove the headless wheel
        return None
    return cv2


def pixel_grid(height: int, width: int, *, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel coordinates (xs, ys), each (H, W)."""
    ys, xs = np.meshgrid(np.arange(height, dtype=dtype), np.arange(width, dtype=dtype), indexing="ij")
    return xs, ys


def remap(image: np.ndarray, flow: np.ndarray, *, backend: str = "auto") -> np.ndarray:
    """Warp an (H, W) or (H, W, C) float image by a pixel flow (H, W, 2); zero flow returns an exact copy.

    backend: "auto" (cv2 when importable), "cv2" or "torch".
    """
    height, width = image.shape[:2]
    if flow.shape != (height, width, 2):
        raise ValueError(f"flow shape {flow.shape} does not match the image ({height}, {width}, 2)")
    if not np.any(flow):
        return image.copy()  # identity, bit for bit (bilinear interpolation could round otherwise)
    cv2 = _cv2() if backend in ("auto", "cv2") else None
    if backend == "cv2" and cv2 is None:
        raise ImportError("backend='cv2' needs opencv-python-headless; use backend='torch'")
    xs, ys = pixel_grid(height, width)
    map_x = np.clip(xs + flow[..., 0], 0, width - 1).astype(np.float32)
    map_y = np.clip(ys + flow[..., 1], 0, height - 1).astype(np.float32)
    if cv2 is not None and image.shape[-1:] != (0,) and (image.ndim == 2 or image.shape[2] <= 4):
        source = np.ascontiguousarray(image, dtype=np.float32)
        out = cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(image.shape).astype(image.dtype, copy=False)
    return _remap_torch(image, map_x, map_y)


def _remap_torch(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    planar = image[..., None] if image.ndim == 2 else image
    tensor = torch.from_numpy(np.ascontiguousarray(planar, dtype=np.float32)).permute(2, 0, 1)[None]
    grid = np.stack([2 * map_x / max(width - 1, 1) - 1, 2 * map_y / max(height - 1, 1) - 1], axis=-1)
    out = F.grid_sample(tensor, torch.from_numpy(grid)[None], mode="bilinear", padding_mode="border",
                        align_corners=True)
    out = out[0].permute(1, 2, 0).numpy()
    return (out[..., 0] if image.ndim == 2 else out).astype(image.dtype, copy=False)


def warp_tensor(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Differentiable backward warp: image (B, C, H, W), flow (B, 2, H, W) in pixels → (B, C, H, W)."""
    batch, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=image.dtype, device=image.device),
        torch.arange(width, dtype=image.dtype, device=image.device),
        indexing="ij",
    )
    grid_x = 2 * (xs + flow[:, 0]) / max(width - 1, 1) - 1  # (B, H, W)
    grid_y = 2 * (ys + flow[:, 1]) / max(height - 1, 1) - 1
    grid = torch.stack([grid_x, grid_y], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def remap_reference(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """A per-pixel Python loop, the official numba-style warp; kept as the benchmark's baseline."""
    height, width = image.shape[:2]
    out = np.empty_like(image)
    for y in range(height):
        for x in range(width):
            sx = min(max(x + float(flow[y, x, 0]), 0.0), width - 1.0)
            sy = min(max(y + float(flow[y, x, 1]), 0.0), height - 1.0)
            x0, y0 = int(sx), int(sy)
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            ax, ay = sx - x0, sy - y0
            top = image[y0, x0] * (1 - ax) + image[y0, x1] * ax
            bottom = image[y1, x0] * (1 - ax) + image[y1, x1] * ax
            out[y, x] = top * (1 - ay) + bottom * ay
    return out
