"""The synthetic retoucher: the ground-truth slimming flow of the synthetic pairs (spec 5.1, issue 19).

The retoucher works from what the photo shows, not from keypoint capsules: it blurs the body's
silhouette (torso and limbs, never the head) with a Gaussian of width ``sigma``, and moves every
pixel down the silhouette's gradient, projected onto the directions across the nearby bones so
contours move sideways and limbs are never shortened:

    F(x) = -k * sigma^2 * P(x) grad(G_sigma * M)(x),   P(x) = sum_b w_b n_b n_b^T / (sum_b w_b + eps)

(a backward flow: samples come from farther out, so the body looks narrower). On a straight edge
this is k * sigma * phi(v / sigma) across the edge (phi the unit normal density), so its largest
displacement is 0.4 k sigma and its Jacobian 1 - k t phi(t) (t = v / sigma) never folds for k < 4.1.

How hard the retoucher slims is a function of what the image shows, plus a little noise: the
strength grows with the visible torso width relative to the torso length (:func:`retoucher_strength`).
Neither the profile (a Gaussian derivative centred on the true contour) nor the widths (the true,
rendered silhouette) belong to the keypoint baselines (capsule fields with default widths, MLS), so
comparing the learned flow with them is fair: none of them is the ground truth's own family.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from tenfold.bodyreshape.skeleton import segment_distance

# Visible torso half-width / torso length spans about [0.18, 0.49] for the generator's figures
# (shoulder and hip widths 0.55-0.75 and 0.35-0.55 of the torso length, times fat 0.8-1.5).
RATIO_RANGE = (0.18, 0.49)
# Strength at the thinnest and the widest figure: thin people are barely touched, wide ones slimmed most
# (at most 0.4 * 1.5 * sigma = 0.15 torso lengths; a straight edge stays fold-free up to k = 2.9).
STRENGTH_RANGE = (0.3, 1.5)
STRENGTH_NOISE = 0.06  # relative standard deviation of the retoucher's per-photo whim
# sigma as a fraction of the torso length: a broad, smooth warp like a large liquify brush. (0.16 gave
# narrower lobes that the 64 px miniature, whose bottleneck is 4 x 4, learned to only 0.59 x the zero
# flow's EPE in 800 steps; 0.25 reached 0.51 in 600.)
BLUR_FRACTION = 0.25
EPSILON = 1e-3


def retoucher_strength(torso_ratio: float, rng: np.random.Generator | None = None) -> float:
    """k for a figure whose visible torso half-width is ``torso_ratio`` times its torso length."""
    low, high = RATIO_RANGE
    share = float(np.clip((torso_ratio - low) / (high - low), 0.0, 1.0))
    strength = STRENGTH_RANGE[0] + share * (STRENGTH_RANGE[1] - STRENGTH_RANGE[0])
    if rng is not None:
        strength *= float(np.clip(1.0 + STRENGTH_NOISE * rng.standard_normal(), 0.8, 1.2))
    return strength


def silhouette_flow(mask: np.ndarray, bones: list[tuple[np.ndarray, np.ndarray, float]], *, sigma: float,
                    strength: float) -> np.ndarray:
    """The retoucher's backward flow (H, W, 2) in pixels for a soft body mask (H, W) in [0, 1].

    ``bones``: (start, end, half_width) in the mask's pixels; they only decide the directions the
    contours may move in (across the bones).
    """
    height, width = mask.shape
    # "nearest": a body cut by the frame goes on beyond it, so the frame is no contour to move.
    blurred = gaussian_filter(np.asarray(mask, np.float64), sigma, mode="nearest")
    grad_y, grad_x = np.gradient(blurred)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    projection = np.zeros((height, width, 2, 2))
    total = np.zeros((height, width))
    for start, end, half_width in bones:
        axis = np.asarray(end, float) - np.asarray(start, float)
        length = float(np.linalg.norm(axis))
        if length < 1e-6:
            continue
        normal = np.array([-axis[1], axis[0]]) / length
        distance, _ = segment_distance(xs, ys, np.asarray(start, float), np.asarray(end, float))
        weight = np.exp(-((distance / (half_width + sigma)) ** 2))
        projection += weight[..., None, None] * np.outer(normal, normal)
        total += weight
    projection /= (total + EPSILON)[..., None, None]
    gradient = np.stack([grad_x, grad_y], axis=-1)
    flow = -strength * sigma**2 * np.einsum("hwij,hwj->hwi", projection, gradient)
    return flow.astype(np.float32)
