"""Visual sub-prompts: box checks, IoU, and semi-transparent colour marks over boxes or masks.

``I'[p] = (1 - alpha) * I[p] + alpha * rgb`` over the region's pixels (the box for CPT-Blk, the
mask for CPT-Seg). Box format (xyxy or xywh) is always explicit because the official code's
+1/-1 conversions are a classic source of off-by-one boxes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from tenfold.core.errors import BadInputError

BOX_FORMATS = ("xyxy", "xywh")


def as_rgb_image(image: np.ndarray) -> np.ndarray:
    """Accept HxW (grey), HxWx3, HxWx4 (alpha dropped), uint8 or float in [0, 1]; return float32 HxWx3."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise BadInputError(f"image: expected HxW or HxWx3 pixels, got shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = array[:, :, :3]
    if array.size == 0:
        raise BadInputError("image: it has no pixels")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise BadInputError("image: contains NaN or infinite pixels")
    if array.min() < 0.0 or array.max() > 1.0:
        raise BadInputError(
            f"image: float pixels span [{array.min():.3g}, {array.max():.3g}]; scale to [0, 1] or pass uint8"
        )
    return array


def check_boxes(boxes: np.ndarray | Sequence, height: int, width: int, box_format: str = "xyxy") -> np.ndarray:
    """Validate proposals and return them as float32 xyxy clipped to the image.

    Raises on an empty list, NaN, degenerate boxes (x2 <= x1 in xyxy, w <= 0 in xywh) and
    boxes whose area is zero once clipped to the image.
    """
    if box_format not in BOX_FORMATS:
        raise BadInputError(f"box format {box_format!r} is unknown; use 'xyxy' or 'xywh'")
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError("proposals: not a list of numeric [x1, y1, x2, y2] boxes") from None
    if array.size == 0:
        raise BadInputError("proposals: the list is empty; give at least one box")
    if array.ndim != 2 or array.shape[1] != 4:
        raise BadInputError(f"proposals: expected an (n, 4) list of boxes, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise BadInputError("proposals: a box holds NaN or infinity")
    if box_format == "xywh":
        if (array[:, 2:] <= 0).any():
            bad = int(np.flatnonzero((array[:, 2:] <= 0).any(axis=1))[0])
            raise BadInputError(f"proposals: box {bad} has zero or negative width/height in xywh format")
        array = np.concatenate([array[:, :2], array[:, :2] + array[:, 2:]], axis=1)
    degenerate = (array[:, 2] <= array[:, 0]) | (array[:, 3] <= array[:, 1])
    if degenerate.any():
        bad = int(np.flatnonzero(degenerate)[0])
        raise BadInputError(
            f"proposals: box {bad} {array[bad].tolist()} is degenerate (needs x2 > x1 and y2 > y1 in xyxy; "
            "pass box_format='xywh' if it is x, y, width, height)"
        )
    clipped = array.copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0, height)
    empty = (clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])
    if empty.any():
        bad = int(np.flatnonzero(empty)[0])
        raise BadInputError(f"proposals: box {bad} {array[bad].tolist()} lies outside the {width}x{height} image")
    return clipped.astype(np.float32)


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: [n, 4] x [m, 4] -> [n, m].

    Hand-written because torchvision (whose ops.box_iou is the field's choice) cannot be
    imported beside this project's local torch wheel.
    """
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]).clamp(min=0) * (boxes_a[:, 3] - boxes_a[:, 1]).clamp(min=0)
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]).clamp(min=0) * (boxes_b[:, 3] - boxes_b[:, 1]).clamp(min=0)
    top_left = torch.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])  # [n, m, 2]
    bottom_right = torch.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = area_a[:, None] + area_b[None, :] - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1e-12), torch.zeros_like(union))


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha <= 1.0):
        raise BadInputError(f"alpha {alpha} is outside (0, 1]; 0.5 (RGBA alpha 127) is CPT's default")
    return alpha


def check_rgb(rgb: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(int(v) for v in rgb)
    if len(values) != 3 or any(v < 0 or v > 255 for v in values):
        raise BadInputError(f"colour {tuple(rgb)} is not an RGB triple of integers in 0..255")
    return values  # type: ignore[return-value]


def mark(
    image: np.ndarray,
    boxes: np.ndarray | Sequence | None = None,
    colors: Sequence[Sequence[int]] | Sequence[int] = (240, 0, 30),
    alpha: float = 0.5,
    *,
    masks: np.ndarray | None = None,
    box_format: str = "xyxy",
) -> np.ndarray:
    """Alpha-blend one colour per region over its box (or its mask); returns a new float32 HxWx3 image.

    ``colors`` is one RGB triple for every region or one per region. Pixel boxes cover
    ``[floor(x1), ceil(x2))``. An empty mask falls back to its box with a warning.
    """
    picture = as_rgb_image(image).copy()
    height, width = picture.shape[:2]
    alpha = check_alpha(alpha)
    if boxes is None and masks is None:
        raise BadInputError("mark: give boxes, masks or both")
    region_count = None
    xyxy = None
    if boxes is not None:
        xyxy = check_boxes(boxes, height, width, box_format)
        region_count = len(xyxy)
    if masks is not None:
        masks = np.asarray(masks).astype(bool)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != (height, width):
            raise BadInputError(f"masks: shape {masks.shape} does not match the {height}x{width} image")
        if region_count is not None and len(masks) != region_count:
            raise BadInputError(f"masks: {len(masks)} masks for {region_count} boxes")
        region_count = len(masks)
    color_array = np.asarray(colors)
    if color_array.ndim == 1:
        palette = [check_rgb(color_array)] * region_count
    else:
        if len(color_array) != region_count:
            raise BadInputError(f"mark: {len(color_array)} colours for {region_count} regions")
        palette = [check_rgb(c) for c in color_array]
    for index in range(region_count):
        region = _region_mask(index, masks, xyxy, height, width)
        rgb = np.asarray(palette[index], dtype=np.float32) / 255.0
        picture[region] = (1.0 - alpha) * picture[region] + alpha * rgb
    return picture


def _region_mask(index: int, masks: np.ndarray | None, xyxy: np.ndarray | None, height: int, width: int) -> np.ndarray:
    if masks is not None and masks[index].any():
        return masks[index]
    if xyxy is None:
        raise BadInputError(f"masks: mask {index} is empty and no box was given to fall back to")
    if masks is not None:
        warnings.warn(f"mask {index} is empty; marking its box instead", stacklevel=3)
    x1, y1, x2, y2 = xyxy[index]
    region = np.zeros((height, width), dtype=bool)
    region[int(np.floor(y1)) : int(np.ceil(y2)), int(np.floor(x1)) : int(np.ceil(x2))] = True
    return region
