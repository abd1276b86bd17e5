"""Seeded synthetic paired data with an exact ground-truth flow (the stand-in for the gated BR-5K, spec 5.1).

Each pair is a textured articulated figure (capsule limbs, a torso polygon, an elliptic head) on a
crop of a bundled photo, with 1–3 *distractor* capsules in the background that wear clothing-like
textures but belong to no skeleton, so their true flow is zero. The target is the source warped by
the synthetic retoucher (``retoucher.py``): a smooth flow that moves the figure's true contour
inward across its bones (the head is no part of the retouched silhouette), and slims harder the
wider the figure looks, so the reshape is a learnable function of what the image shows (plus 6 %
noise). What it reproduces
of real retouching pairs: a smooth flow that narrows torso and limbs and leaves the background
(including body-like objects) alone. The flow is computed at the network resolution and upsampled
×(size/flow_size), so a low-resolution flow model can represent the high-resolution ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter

from tenfold.bodyreshape.capsule import DEFAULT_WIDTH_RATIO, LIMB_BONES
from tenfold.bodyreshape.flow_field import guard_folds, resize_flow
from tenfold.bodyreshape.retoucher import BLUR_FRACTION, retoucher_strength, silhouette_flow
from tenfold.bodyreshape.skeleton import segment_distance
from tenfold.bodyreshape.warp import remap
from tenfold.core.errors import BadConfigError

CLOTHING_SOURCES = ("brick", "grass", "gravel", "coffee", "chelsea", "rocket", "immunohistochemistry")
BACKGROUND_SOURCES = ("coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "colorwheel", "astronaut",
                      "camera")
SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.87, 0.67, 0.53], [0.65, 0.46, 0.33], [0.45, 0.31, 0.22]])


@dataclass
class SyntheticPair:
    """One pair at ``size`` px: source, target, flows (low-res ground truth and its exact upsample), masks."""

    image: np.ndarray  # (S, S, 3) float32 in [0, 1]
    target: np.ndarray  # (S, S, 3) = remap(image, flow_full)
    flow: np.ndarray  # (s, s, 2) ground-truth backward flow in pixels of the s×s grid
    flow_full: np.ndarray  # (S, S, 2) = resize_flow(flow, S, S)
    keypoints: np.ndarray  # (18, 3) COCO-18 (x, y, conf) in pixels of the S×S image
    body_mask: np.ndarray  # (S, S) bool
    distractor_mask: np.ndarray  # (S, S) bool


@dataclass
class Limb:
    """One body part of a synthetic figure: axis start/end (x, y) in pixels, true half-width, part name."""

    start: np.ndarray
    end: np.ndarray
    half_width: float
    part: str


@lru_cache(maxsize=64)
def _source(name: str, size: int, blur: float = 0.0) -> np.ndarray:
    """A bundled skimage picture as float32 RGB, resized so its short side is ``size`` (optionally blurred)."""
    import skimage.data
    from PIL import Image

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) / max(float(image.max()), 1e-12) * 255).astype(np.uint8)
    factor = size / min(image.shape[:2])
    shape = (max(size, round(image.shape[1] * factor)), max(size, round(image.shape[0] * factor)))
    image = np.asarray(Image.fromarray(image).resize(shape, Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    return gaussian_filter(image, (blur, blur, 0)) if blur else image


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs, ys


def _crop(rng: np.random.Generator, name: str, size: int, blur: float = 0.0) -> np.ndarray:
    picture = _source(name, size, blur)
    top = rng.integers(0, picture.shape[0] - size + 1)
    left = rng.integers(0, picture.shape[1] - size + 1)
    return picture[top : top + size, left : left + size]


def _clothing(rng: np.random.Generator, size: int) -> np.ndarray:
    """A clothing texture: a tinted photo crop, or procedural stripes (they make warps visible)."""
    if rng.random() < 0.35:
        xs, ys = _grid(size)
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.03, 0.08) * size
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
        first = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        second = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        return second + wave[..., None] * (first - second)
    texture = _crop(rng, CLOTHING_SOURCES[rng.integers(len(CLOTHING_SOURCES))], size)
    tint = rng.uniform(0.2, 0.6, 3).astype(np.float32)  # half of a 0.4–1.2 tint of the grey level
    return np.minimum(0.5 * texture + texture.mean(-1, keepdims=True) * tint, 1.0)


def _capsule_alpha(size: int, a: np.ndarray, b: np.ndarray, half_width: float) -> tuple[tuple[slice, slice], np.ndarray]:
    """Anti-aliased capsule coverage inside its bounding box: (row/col slices, alpha)."""
    low = np.floor(np.minimum(a, b) - half_width - 1).astype(int).clip(0, size)
    high = np.ceil(np.maximum(a, b) + half_width + 2).astype(int).clip(0, size)
    box = (slice(low[1], high[1]), slice(low[0], high[0]))
    ys, xs = np.mgrid[box].astype(np.float64)
    distance, _ = segment_distance(xs, ys, a, b)
    return box, np.clip(half_width - distance + 0.5, 0.0, 1.0)  # analytic anti-aliased edge


def _polygon_alpha(corners: np.ndarray, size: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """Anti-aliased coverage of a convex polygon (corners in order) inside its bounding box."""
    low = np.floor(corners.min(0) - 1).astype(int).clip(0, size)
    high = np.ceil(corners.max(0) + 2).astype(int).clip(0, size)
    box = (slice(low[1], high[1]), slice(low[0], high[0]))
    ys, xs = np.mgrid[box].astype(np.float64)
    orientation = np.sign(np.cross(corners[1] - corners[0], corners[2] - corners[1])) or 1.0
    inside = np.full(xs.shape, np.inf)
    for start, end in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        edge = end - start
        normal = orientation * np.array([edge[1], -edge[0]]) / max(np.linalg.norm(edge), 1e-9)
        inside = np.minimum(inside, -((xs - start[0]) * normal[0] + (ys - start[1]) * normal[1]))
    return box, np.clip(inside + 0.5, 0.0, 1.0)


def _rotate(direction: np.ndarray, outward: np.ndarray, angle: float) -> np.ndarray:
    return np.cos(angle) * direction + np.sin(angle) * outward


def sample_figure(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[Limb], dict]:
    """A random COCO-18 skeleton (pixels), its bones with true half-widths (torso first), and shape extras."""
    upper_body = rng.random() < 0.3  # hips at or below the frame (the official issue #8 case)
    if upper_body:
        torso = rng.uniform(0.45, 0.6) * size
        neck_y = max(0.15 * size, rng.uniform(0.95, 1.1) * size - torso)
    else:
        torso = rng.uniform(0.28, 0.36) * size
        neck_y = rng.uniform(0.22, 0.32) * size
    neck = np.array([rng.uniform(0.4, 0.6) * size, neck_y])
    theta = np.deg2rad(rng.uniform(-15, 15))
    down = np.array([-np.sin(theta), np.cos(theta)])
    across = np.array([np.cos(theta), np.sin(theta)])  # towards the image right (the person's left side)
    shoulder_width = rng.uniform(0.55, 0.75) * torso
    hip_width = rng.uniform(0.35, 0.55) * torso
    fat = rng.uniform(0.8, 1.5)
    points = np.zeros((18, 2))
    points[1] = neck
    mid_hip = neck + torso * down
    for side, shoulder, elbow, wrist, hip, knee, ankle in ((-1, 2, 3, 4, 8, 9, 10), (1, 5, 6, 7, 11, 12, 13)):
        out = side * across
        points[shoulder] = neck + out * shoulder_width / 2
        points[hip] = mid_hip + out * hip_width / 2
        arm_angle = np.deg2rad(rng.uniform(5, 60))
        bend = np.deg2rad(rng.uniform(0, 130) if rng.random() < 0.3 else rng.uniform(-10, 40))
        points[elbow] = points[shoulder] + 0.5 * torso * rng.uniform(0.9, 1.1) * _rotate(down, out, arm_angle)
        points[wrist] = points[elbow] + 0.45 * torso * rng.uniform(0.9, 1.1) * _rotate(down, out, arm_angle - bend)
        leg_angle = np.deg2rad(rng.uniform(-3, 15))
        knee_bend = np.deg2rad(rng.uniform(-15, 15))
        points[knee] = points[hip] + 0.75 * torso * rng.uniform(0.9, 1.1) * _rotate(down, out, leg_angle)
        points[ankle] = points[knee] + 0.7 * torso * rng.uniform(0.9, 1.1) * _rotate(down, out, leg_angle + knee_bend)
    points[0] = neck - 0.3 * torso * down + rng.normal(0, 0.02 * torso, 2)
    points[14], points[15] = points[0] - 0.06 * torso * down - 0.05 * torso * across, points[0] - 0.06 * torso * down + 0.05 * torso * across
    points[16], points[17] = points[0] - 0.03 * torso * down - 0.1 * torso * across, points[0] - 0.03 * torso * down + 0.1 * torso * across
    inside = (points >= 0).all(1) & (points < size).all(1)
    keypoints = np.column_stack([points, np.where(inside, 1.0, 0.3)])

    # True half-widths: the torso's average of shoulders and hips, limbs a ratio of their length; all × fat.
    bones = [Limb(neck, mid_hip, fat * (shoulder_width + hip_width) / 4, "torso")]
    for a, b, kind, part in LIMB_BONES:
        length = float(np.linalg.norm(points[b] - points[a]))
        bones.append(Limb(points[a], points[b], DEFAULT_WIDTH_RATIO[kind] * length * fat, part))
    top_half, bottom_half = fat * shoulder_width / 2, fat * hip_width / 2
    corners = np.array([neck - across * top_half, neck + across * top_half,
                        mid_hip + across * bottom_half + 0.05 * torso * down,
                        mid_hip - across * bottom_half + 0.05 * torso * down])
    extras = {"down": down, "across": across, "fat": fat, "torso": torso, "torso_corners": corners}
    return keypoints, bones, extras


def make_pair(seed: int | list[int], size: int = 256, flow_size: int = 64) -> SyntheticPair:
    """One deterministic pair for ``seed`` (an int or a list of ints): ``size`` px images, ground-truth flow computed at ``flow_size``."""
    if size % flow_size or flow_size < 16:
        raise BadConfigError(f"size {size} must be a multiple of flow_size {flow_size} (>= 16)")
    rng = np.random.default_rng(seed)
    keypoints, bones, extras = sample_figure(rng, size)
    # The slimmable silhouette (torso and limbs; the head and neck are never retouched), rendered once
    # and reused for painting.
    limb_alpha = {id(bone): _capsule_alpha(size, bone.start, bone.end, bone.half_width) for bone in bones[1:]}
    torso_alpha = _polygon_alpha(extras["torso_corners"], size)
    silhouette = np.zeros((size, size), dtype=np.float32)
    for box, alpha in (torso_alpha, *limb_alpha.values()):
        silhouette[box] = np.maximum(silhouette[box], alpha)
    factor = flow_size / size
    strength = retoucher_strength(bones[0].half_width / extras["torso"], rng)
    flow = silhouette_flow(_block_mean(silhouette, size // flow_size),
                           [(b.start * factor, b.end * factor, b.half_width * factor) for b in bones],
                           sigma=BLUR_FRACTION * extras["torso"] * factor, strength=strength)
    flow, _ = guard_folds(flow)
    flow_full = resize_flow(flow, size, size)

    background = _crop(rng, BACKGROUND_SOURCES[rng.integers(len(BACKGROUND_SOURCES))], size, blur=1.0)
    image = background.copy()  # mildly blurred, like a shallow depth of field
    body_alpha = np.zeros((size, size), dtype=np.float32)
    distractor_alpha = np.zeros((size, size), dtype=np.float32)

    def paint(box: tuple[slice, slice], alpha: np.ndarray, texture: np.ndarray, layer: np.ndarray) -> None:
        image[box] = image[box] * (1 - alpha[..., None]) + texture[box] * alpha[..., None]
        layer[box] = np.maximum(layer[box], alpha)

    top, pants = _clothing(rng, size), _clothing(rng, size)
    # Distractors: body-like textured capsules placed where the true flow is (numerically) zero. Half of
    # them are cut from the figure's own clothes (a coat on a chair, a bag of the same fabric): the
    # appearance-similar background that the paper's structure priors are meant to keep still.
    support = np.linalg.norm(flow_full, axis=-1) > 0.1
    wanted = rng.integers(1, 4)
    for _ in range(40):
        if wanted == 0:
            break
        a = rng.uniform(0, size, 2)
        phi = rng.uniform(0, np.pi)
        b = a + rng.uniform(0.15, 0.35) * size * np.array([np.cos(phi), np.sin(phi)])
        box, alpha = _capsule_alpha(size, a, b, rng.uniform(0.03, 0.07) * size)
        if (alpha > 0).sum() < 0.002 * size * size or ((alpha > 0) & support[box]).any():
            continue
        texture = (top, pants)[rng.integers(2)] if rng.random() < 0.5 else _clothing(rng, size)
        paint(box, alpha, texture, distractor_alpha)
        wanted -= 1

    skin = np.clip(SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1), 0, 1).astype(np.float32)
    skin_texture = np.broadcast_to(skin, (size, size, 3))
    sleeves = top if rng.random() < 0.6 else skin_texture
    for bone in bones:  # legs under the torso
        if bone.part == "legs":
            paint(*limb_alpha[id(bone)], pants, body_alpha)
    fat, neck = extras["fat"], keypoints[1, :2]
    paint(*torso_alpha, top, body_alpha)
    head_radius = 0.16 * extras["torso"] * (0.8 + 0.2 * fat)
    paint(*_capsule_alpha(size, neck, neck + 0.6 * (keypoints[0, :2] - neck), 0.35 * head_radius), skin_texture,
          body_alpha)
    centre = keypoints[0, :2]
    head_box, _ = _capsule_alpha(size, centre, centre, 1.3 * head_radius)
    ys, xs = np.mgrid[head_box].astype(np.float64)
    radial = np.sqrt(((xs - centre[0]) / head_radius) ** 2 + ((ys - centre[1]) / (1.25 * head_radius)) ** 2)
    paint(head_box, np.clip((1 - radial) * head_radius + 0.5, 0, 1), skin_texture * 0.9, body_alpha)
    for bone in bones:  # arms on top, so they may cross the torso
        if bone.part == "arms":
            paint(*limb_alpha[id(bone)], sleeves, body_alpha)

    image = np.clip(image, 0, 1).astype(np.float32)
    target = remap(image, flow_full)
    distractor_mask = (distractor_alpha > 0.5) & (body_alpha < 0.5)
    return SyntheticPair(image, target, flow, flow_full, keypoints, body_alpha > 0.5, distractor_mask)


def _block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Area downsampling by an integer factor over the first two axes."""
    height, width = array.shape[:2]
    shaped = array.reshape(height // factor, factor, width // factor, factor, *array.shape[2:])
    return shaped.mean(axis=(1, 3))


@dataclass
class SyntheticSet:
    """A batch of pairs at the network resolution ``net_size`` (plus full-size images when kept).

    Flows are backward pixel flows of the net_size grid; keypoints are in net_size pixels too.
    """

    images: np.ndarray  # (N, s, s, 3) float32
    targets: np.ndarray  # (N, s, s, 3) float32, area-downsampled full-size targets
    flows: np.ndarray  # (N, s, s, 2) float32
    keypoints: np.ndarray  # (N, 18, 3)
    skeletons: np.ndarray  # (N, 13, s, s) ±1
    pafs: np.ndarray  # (N, 2, s, s)
    body_masks: np.ndarray  # (N, s, s) bool
    distractor_masks: np.ndarray  # (N, s, s) bool
    full_images: np.ndarray | None = None  # (N, S, S, 3) float16
    full_targets: np.ndarray | None = None  # (N, S, S, 3) float16
    full_distractor_masks: np.ndarray | None = None  # (N, S, S) bool

    def __len__(self) -> int:
        return len(self.images)


def make_set(count: int, seed: int, *, size: int = 256, net_size: int = 64, keep_full: bool = False,
             progress: bool = False) -> SyntheticSet:
    """``count`` deterministic pairs for ``seed`` (pair i uses the seed sequence [seed, i])."""
    from tenfold.bodyreshape.skeleton import paf_directions, skeleton_maps

    if count < 1:
        raise BadConfigError(f"make_set needs count >= 1, got {count}")
    factor = size // net_size
    columns: dict[str, list] = {key: [] for key in SyntheticSet.__dataclass_fields__}
    indices = range(count)
    if progress:
        from rich.progress import track

        indices = track(indices, description="synthetic pairs")
    for index in indices:
        pair = make_pair([seed, index], size=size, flow_size=net_size)
        keypoints = pair.keypoints.copy()
        keypoints[:, :2] /= factor
        columns["images"].append(_block_mean(pair.image, factor))
        columns["targets"].append(_block_mean(pair.target, factor))
        columns["flows"].append(pair.flow)
        columns["keypoints"].append(keypoints)
        columns["skeletons"].append(skeleton_maps(keypoints, net_size, net_size))
        columns["pafs"].append(paf_directions(keypoints, net_size, net_size))
        columns["body_masks"].append(_block_mean(pair.body_mask.astype(np.float32), factor) > 0.5)
        columns["distractor_masks"].append(_block_mean(pair.distractor_mask.astype(np.float32), factor) > 0.5)
        if keep_full:
            columns["full_images"].append(pair.image.astype(np.float16))
            columns["full_targets"].append(pair.target.astype(np.float16))
            columns["full_distractor_masks"].append(pair.distractor_mask)
    stacked = {key: (np.stack(values).astype(np.float32) if values and values[0].dtype != bool
                     and not key.startswith("full") else (np.stack(values) if values else None))
               for key, values in columns.items()}
    return SyntheticSet(**stacked)
