"""The analytic capsule slimming field (spec 4): a training-free body-aware flow from keypoints.

For a bone A→B with half-width W, unit normal n, signed axis distance v and r = |v| / (2W):
D = n · v · k · (1 − r²)²₊ · along(t). Bones blend with partition-of-unity weights exp(−(d/W)²),
then a Gaussian smooths the field. It is a backward flow: positive k samples from farther out,
so the body looks narrower. The synthetic generator uses it with the true widths as ground truth;
the baseline uses default widths from bone-length ratios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from tenfold.bodyreshape.flow_field import guard_folds
from tenfold.bodyreshape.keypoints import present
from tenfold.bodyreshape.skeleton import segment_distance

REACH = 2.0  # rho: the field reaches 2W from the axis
END_FADE = 0.15  # smoothstep fade at both bone ends, as a fraction of the bone length
# Default half-width as a fraction of the bone length (used when the true widths are unknown).
DEFAULT_WIDTH_RATIO = {"upper_arm": 0.22, "forearm": 0.17, "thigh": 0.24, "shin": 0.17}
LIMB_BONES: tuple[tuple[int, int, str, str], ...] = (
    (2, 3, "upper_arm", "arms"), (3, 4, "forearm", "arms"), (5, 6, "upper_arm", "arms"), (6, 7, "forearm", "arms"),
    (8, 9, "thigh", "legs"), (9, 10, "shin", "legs"), (11, 12, "thigh", "legs"), (12, 13, "shin", "legs"),
)
PARTS: tuple[str, ...] = ("torso", "arms", "legs")


@dataclass
class Bone:
    """One capsule: axis start/end (x, y), half-width W, strength k, and an optional waist bump."""

    start: np.ndarray
    end: np.ndarray
    half_width: float
    strength: float
    part: str
    waist: float = 0.0  # extra relative strength at t ≈ 0.65 along the torso (neck → hips)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def torso_axis(person: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(neck, mid-hip, default half-width) for a person, or None without shoulders.

    Without hips (half-body crops) the axis runs 1.6 shoulder widths down, perpendicular to the shoulders.
    """
    seen = present(person)
    if not (seen[2] and seen[5]):
        return None
    shoulders = person[[2, 5], :2]
    shoulder_width = float(np.linalg.norm(shoulders[0] - shoulders[1]))
    neck = person[1, :2] if seen[1] else shoulders.mean(0)
    if seen[8] and seen[11]:
        hips = person[[8, 11], :2]
        hip_width = float(np.linalg.norm(hips[0] - hips[1]))
        return neck, hips.mean(0), (shoulder_width + hip_width) / 4
    across = (shoulders[1] - shoulders[0]) / max(shoulder_width, 1e-9)
    down = np.array([-across[1], across[0]])
    if down[1] < 0:
        down = -down
    return neck, neck + 1.6 * shoulder_width * down, 0.35 * shoulder_width


def default_bones(person: np.ndarray, strength: float | dict[str, float] = 0.2, *,
                  width_scale: float = 1.0, waist: float = 0.0) -> list[Bone]:
    """Bones of one person (18, 3) with default widths; ``strength`` is one k or a k per part."""
    ks = {part: float(strength) for part in PARTS} if not isinstance(strength, dict) else strength
    bones: list[Bone] = []
    axis = torso_axis(person)
    if axis is not None and ks.get("torso", 0.0) != 0.0:
        neck, hip, half_width = axis
        bones.append(Bone(neck, hip, half_width * width_scale, ks["torso"], "torso", waist))
    seen = present(person)
    for a, b, kind, part in LIMB_BONES:
        if seen[a] and seen[b] and ks.get(part, 0.0) != 0.0:
            length = float(np.linalg.norm(person[b, :2] - person[a, :2]))
            width = DEFAULT_WIDTH_RATIO[kind] * length * width_scale
            bones.append(Bone(person[a, :2], person[b, :2], width, ks[part], part))
    return bones


def capsule_field(bones: list[Bone], height: int, width: int, *, smooth_fraction: float = 0.015) -> np.ndarray:
    """The blended, smoothed slimming flow (height, width, 2) in pixels for bones given in pixel coords."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    numerator = np.zeros((height, width, 2))
    weights = np.zeros((height, width))
    for bone in bones:
        axis = np.asarray(bone.end, float) - np.asarray(bone.start, float)
        length = float(np.linalg.norm(axis))
        if length < 1e-6 or bone.half_width <= 0:
            continue
        unit = axis / length
        normal = np.array([-unit[1], unit[0]])
        t = ((xs - bone.start[0]) * unit[0] + (ys - bone.start[1]) * unit[1]) / length
        v = (xs - bone.start[0]) * normal[0] + (ys - bone.start[1]) * normal[1]
        r = np.abs(v) / (REACH * bone.half_width)
        along = _smoothstep(t / END_FADE) * _smoothstep((1 - t) / END_FADE)
        strength = bone.strength * (1 + bone.waist * np.exp(-(((t - 0.65) / 0.12) ** 2)))
        magnitude = v * strength * np.clip(1 - r * r, 0, None) ** 2 * along
        distance, _ = segment_distance(xs, ys, np.asarray(bone.start, float), np.asarray(bone.end, float))
        weight = np.exp(-((distance / bone.half_width) ** 2))
        numerator += (weight * magnitude)[..., None] * normal
        weights += weight
    field = numerator / (weights[..., None] + 1e-6)
    sigma = smooth_fraction * max(height, width)
    if sigma > 0:
        field = np.stack([gaussian_filter(field[..., c], sigma, mode="nearest") for c in range(2)], axis=-1)
    return field.astype(np.float32)


def slimming_flow(keypoints: np.ndarray, height: int, width: int, *, strength: float | dict[str, float] = 0.2,
                  width_scale: float = 1.0, waist: float = 0.5, guard: bool = True) -> np.ndarray:
    """The capsule baseline for every person in (P, 18, 3) keypoints (image pixels) → flow (H, W, 2)."""
    people = keypoints[None] if keypoints.ndim == 2 else keypoints
    bones = [bone for person in people for bone in default_bones(person, strength, width_scale=width_scale,
                                                                 waist=waist)]
    field = capsule_field(bones, height, width)
    return guard_folds(field)[0] if guard else field
