"""Moving-least-squares deformation (Schaefer et al. 2006): affine, similarity and rigid variants.

The keypoint MLS baseline (spec 4) pins the joints and the image border, and moves contour points
at ±W·n of each bone to ±W(1 − s)·n. Solving MLS from the *deformed* to the *original* points gives
the backward map directly, so the warp needs no inversion. numpy, vectorised over pixels; the
``molesq`` package is affine-only, hence our own ~60 lines.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tenfold.bodyreshape.capsule import default_bones
from tenfold.bodyreshape.flow_field import guard_folds
from tenfold.bodyreshape.keypoints import present
from tenfold.bodyreshape.skeleton import segment_distance
from tenfold.core.errors import BadConfigError

KINDS = ("affine", "similarity", "rigid")


def mls_map(source: np.ndarray, destination: np.ndarray, points: np.ndarray, *, kind: str = "rigid",
            alpha: float = 1.0) -> np.ndarray:
    """Map ``points`` (N, 2) by the MLS deformation that takes control ``source`` (K, 2) to ``destination``."""
    if kind not in KINDS:
        raise BadConfigError(f"unknown MLS kind {kind!r}; use one of: {', '.join(KINDS)}")
    p, q, v = (np.asarray(a, np.float64) for a in (source, destination, points))
    squared = ((p[None] - v[:, None]) ** 2).sum(-1)  # (N, K)
    weights = 1.0 / np.maximum(squared, 1e-12) ** alpha
    total = weights.sum(1, keepdims=True)
    p_star, q_star = weights @ p / total, weights @ q / total  # (N, 2)
    p_hat, q_hat = p[None] - p_star[:, None], q[None] - q_star[:, None]  # (N, K, 2)
    offset = v - p_star  # (N, 2)
    if kind == "affine":
        moment = np.einsum("nk,nki,nkj->nij", weights, p_hat, p_hat)
        cross = np.einsum("nk,nki,nkj->nij", weights, p_hat, q_hat)
        matrix = np.linalg.solve(moment + 1e-9 * np.eye(2), cross)
        return np.einsum("ni,nij->nj", offset, matrix) + q_star
    # Σ w q̂ A with A = (p̂; −p̂⊥)(v − p*; −(v − p*)⊥)ᵀ reduces to two scalars per control point.
    a = (q_hat * p_hat).sum(-1)  # q̂·p̂
    b = q_hat[..., 0] * p_hat[..., 1] - q_hat[..., 1] * p_hat[..., 0]
    sum_a, sum_b = (weights * a).sum(1), (weights * b).sum(1)
    vector = np.stack([sum_a * offset[:, 0] + sum_b * offset[:, 1], sum_a * offset[:, 1] - sum_b * offset[:, 0]], 1)
    if kind == "similarity":
        mu = (weights * (p_hat**2).sum(-1)).sum(1)
        return vector / np.maximum(mu, 1e-12)[:, None] + q_star
    length = np.linalg.norm(offset, axis=1, keepdims=True)
    return length * vector / np.maximum(np.linalg.norm(vector, axis=1, keepdims=True), 1e-12) + q_star


def control_points(keypoints: np.ndarray, height: int, width: int, *, slim: float = 0.1,
                   width_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(original, deformed) control points: joints and border fixed, bone contours moved in by ``slim``·W.

    A contour point that lies inside another bone's capsule (a forearm across the torso, an arm
    against the flank) is dropped: it would be pulled one way by its own bone while the other
    bone's contour next to it moves the other way, and MLS, which interpolates its control points
    exactly, would fold the image between the two.
    """
    people = keypoints[None] if keypoints.ndim == 2 else keypoints
    original: list[np.ndarray] = []
    deformed: list[np.ndarray] = []
    for person in people:
        for joint in person[present(person)]:
            original.append(joint[:2])
            deformed.append(joint[:2])
        bones = default_bones(person, 1.0, width_scale=width_scale)
        for index, bone in enumerate(bones):
            axis = np.asarray(bone.end) - np.asarray(bone.start)
            length = np.linalg.norm(axis)
            if length < 1e-6:
                continue
            normal = np.array([-axis[1], axis[0]]) / length
            for t in (0.25, 0.5, 0.75):
                centre = np.asarray(bone.start) + t * axis
                for side in (-1.0, 1.0):
                    point = centre + side * bone.half_width * normal
                    if any(_inside(point, other) for j, other in enumerate(bones) if j != index):
                        continue
                    original.append(point)
                    deformed.append(centre + side * bone.half_width * (1 - slim) * normal)
    for fraction in np.linspace(0, 1, 5):  # pin the border so the warp stays inside the frame
        for point in ((fraction * (width - 1), 0), (fraction * (width - 1), height - 1),
                      (0, fraction * (height - 1)), (width - 1, fraction * (height - 1))):
            original.append(np.asarray(point, float))
            deformed.append(np.asarray(point, float))
    return np.asarray(original), np.asarray(deformed)


def _inside(point: np.ndarray, bone) -> bool:
    distance, _ = segment_distance(np.array(point[0]), np.array(point[1]), np.asarray(bone.start, float),
                                   np.asarray(bone.end, float))
    return bool(distance < bone.half_width)


def mls_flow(keypoints: np.ndarray, height: int, width: int, *, slim: float = 0.1, kind: str = "rigid",
             step: int = 8, width_scale: float = 1.0, guard: bool = True) -> np.ndarray:
    """The MLS slimming baseline as a backward pixel flow (H, W, 2), solved on a ``step``-px grid and upsampled."""
    original, deformed = control_points(keypoints, height, width, slim=slim, width_scale=width_scale)
    rows, cols = max(2, -(-height // step) + 1), max(2, -(-width // step) + 1)
    ys, xs = np.meshgrid(np.linspace(0, height - 1, rows), np.linspace(0, width - 1, cols), indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    mapped = mls_map(deformed, original, grid, kind=kind)  # backward: output position → source position
    coarse = torch.from_numpy((mapped - grid).reshape(rows, cols, 2).astype(np.float32)).permute(2, 0, 1)
    # The coarse grid spans the image corner to corner: interpolate with aligned corners; vectors are
    # already in full-resolution pixels.
    flow = F.interpolate(coarse[None], size=(height, width), mode="bilinear", align_corners=True)[0]
    flow = flow.permute(1, 2, 0).numpy()
    return guard_folds(flow)[0] if guard else flow
