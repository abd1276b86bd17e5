"""Structure priors drawn from keypoints: 13 limb-line maps (±1) and the PAF direction field for L_orth.

Both are drawn straight into an output grid of (height, width) pixels that covers the box
``(x0, y0, x1, y1)`` of the keypoints' image, stretched non-uniformly like the official ROI resize.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from tenfold.bodyreshape.keypoints import LIMBS, PAF_LIMBS, present


def _to_grid(person: np.ndarray, box: tuple[float, float, float, float], height: int, width: int) -> np.ndarray:
    """Joint (x, y) mapped from image pixels inside ``box`` to output pixel coordinates, shape (18, 2)."""
    x0, y0, x1, y1 = box
    points = np.empty((len(person), 2))
    points[:, 0] = (person[:, 0] - x0) / max(x1 - x0, 1e-9) * width
    points[:, 1] = (person[:, 1] - y0) / max(y1 - y0, 1e-9) * height
    return points


def segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each pixel to the segment a→b, and the clamped position t ∈ [0, 1] along it."""
    direction = b - a
    length2 = float(direction @ direction)
    if length2 < 1e-12:
        t = np.zeros_like(xs)
    else:
        t = np.clip(((xs - a[0]) * direction[0] + (ys - a[1]) * direction[1]) / length2, 0.0, 1.0)
    return np.hypot(xs - (a[0] + t * direction[0]), ys - (a[1] + t * direction[1])), t


def skeleton_maps(
    keypoints: np.ndarray, height: int, width: int, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """(13, height, width) float32 in {-1, 1}: one channel per limb of LIMBS, then their union.

    ``keypoints`` is (18, 3) or (P, 18, 3); limbs with an absent joint (conf < 0.05) are not drawn.
    Line width is max(2, min(height, width) / 30) output pixels, as in the official code.
    """
    people = keypoints[None] if keypoints.ndim == 2 else keypoints
    box = box or (0.0, 0.0, float(width), float(height))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    half_width = max(2.0, min(height, width) / 30.0) / 2.0
    maps = np.zeros((13, height, width), dtype=bool)
    for person in people:
        points, seen = _to_grid(person, box, height, width), present(person)
        for channel, (a, b) in enumerate(LIMBS):
            if seen[a] and seen[b]:
                distance, _ = segment_distance(xs, ys, points[a], points[b])
                maps[channel] |= distance <= half_width
    maps[12] = maps[:12].any(axis=0)
    return np.where(maps, 1.0, -1.0).astype(np.float32)


def paf_directions(
    keypoints: np.ndarray, height: int, width: int, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """(2, height, width) unit limb directions (0 away from limbs), blurred; used only by L_orth.

    Each of the 10 PAF limbs paints its unit vector A→B over a thick, blurred band
    (about 1/12 of the person's short side), later limbs over earlier ones, as the official gen_PAF.
    """
    people = keypoints[None] if keypoints.ndim == 2 else keypoints
    box = box or (0.0, 0.0, float(width), float(height))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    field = np.zeros((2, height, width))
    for person in people:
        points, seen = _to_grid(person, box, height, width), present(person)
        visible = points[seen]
        if len(visible) < 2:
            continue
        extent = np.clip(visible.max(0), 0, [width, height]) - np.clip(visible.min(0), 0, [width, height])
        radius = max(1.5, min(extent.min(), max(height, width)) / 12.0)
        for a, b in PAF_LIMBS:
            if not (seen[a] and seen[b]):
                continue
            vector = points[b] - points[a]
            norm = np.linalg.norm(vector)
            if norm < 1e-9:
                continue
            distance, _ = segment_distance(xs, ys, points[a], points[b])
            band = gaussian_filter((distance <= radius).astype(np.float64), sigma=radius / 3)
            field = field * (1 - band) + band * (vector / norm)[:, None, None]
    sigma = max(height, width) / 64.0
    return np.stack([gaussian_filter(field[0], sigma), gaussian_filter(field[1], sigma)]).astype(np.float32)
