"""The reshape pipeline (spec 1.1 / 1.5): keypoints → per-person ROI flow → full-resolution warp.

Methods: ``learned`` (the flow generator on a padded, non-uniformly resized ROI, flow feathered
back into the frame), ``capsule`` (the analytic slimming field), ``mls`` (keypoint MLS) and
``liquify`` (waist brushes). All share the post-processing: optional 3 px soft threshold, the
global degree µ and per-part degrees, a magnitude clamp, the fold guard min det(I + ∇F) >= 0.3
with automatic shrinking, optional background protection by a mask, and the border-clamped warp.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from tenfold.bodyreshape.capsule import PARTS, capsule_field, default_bones, slimming_flow
from tenfold.bodyreshape.flow_field import (
    MIN_DETERMINANT,
    clamp_magnitude,
    fold_guard,
    resize_flow,
    soft_threshold,
)
from tenfold.bodyreshape.flow_generator import FlowGenerator
from tenfold.bodyreshape.images import prepare_image
from tenfold.bodyreshape.keypoints import check_keypoints, has_body, present
from tenfold.bodyreshape.liquify import waist_flow
from tenfold.bodyreshape.mls import mls_flow
from tenfold.bodyreshape.skeleton import segment_distance, skeleton_maps
from tenfold.bodyreshape.warp import remap
from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.validation import check_number

METHODS = ("learned", "capsule", "mls", "liquify")
# Default (strength, width scale) of the keypoint methods, chosen on the two bundled portraits so that
# degree 1 slims visibly and stays fold-free with room to spare (the experiment records the numbers).
# capsule: the field's k; mls: contour points move in by strength·W; liquify: the waist contour moves
# in by strength·W. The width scale multiplies the default half-widths W from bone lengths: joints sit
# inside the silhouette, and clothes are wider than bones, so the unscaled widths barely reach the outline.
KEYPOINT_DEFAULTS: dict[str, tuple[float, float]] = {"capsule": (0.2, 1.8), "mls": (0.2, 1.6), "liquify": (0.15, 1.8)}
FIELD_LONG_SIDE = 256  # analytic fields are smooth: compute them at this long side, then resize


def check_degree(degree: float, *, what: str = "degree", learned: bool = False) -> float:
    """µ must be finite and |µ| <= 2; for a learned flow (trained for |µ| <= 1) above 1 warns."""
    try:
        value = float(degree)
    except (TypeError, ValueError):
        raise BadConfigError(f"{what} must be a number, got {degree!r}") from None
    if not math.isfinite(value):
        raise BadConfigError(f"{what} must be finite, got {value}")
    if abs(value) > 2:
        raise BadConfigError(f"{what}={value} is out of range; use -2 <= {what} <= 2 (1 = the default strength)")
    if learned and abs(value) > 1:
        warnings.warn(f"{what}={value}: beyond the trained range |{what}| <= 1; expect artefacts", stacklevel=3)
    return value


@dataclass
class ReshapeResult:
    """The warped image (and alpha), the full-resolution backward flow, and what happened."""

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    flow: np.ndarray  # (H, W, 2) pixels; out(x) = in(x + flow(x))
    alpha: np.ndarray | None = None
    status: str = "ok"  # "ok" or "no_person"
    people: int = 0
    shrink: float = 1.0  # factor the fold guard applied (1.0: it left the flow alone)
    min_det: float = 1.0
    notes: list[str] = field(default_factory=list)
    degree: float = 1.0  # the degree that was asked for
    floor: float = MIN_DETERMINANT  # the min det(I + grad F) the guard kept

    def guard_text(self) -> str:
        """What the fold guard did, in words: nothing, or how far it scaled the flow down."""
        if self.shrink >= 1.0:
            return "fold guard: not needed"
        return (f"fold guard: flow scaled by {self.shrink:.3g} to keep min det(I + grad F) >= {self.floor:g}, "
                f"so degree {self.degree:g} acts as {self.degree * self.shrink:.3g}")


@dataclass
class BodyReshaper:
    """Reshape people in photos from COCO-18 keypoints. ``model`` is needed for ``method='learned'``.

    ``parts`` scales the flow per body part ({"torso": 1.0, "arms": 0.5, "legs": 0.0}) on top of
    ``degree``; ``suppress_px`` is the official background soft threshold (3 in the CVPR config);
    ``protect_mask`` (H, W) in [0, 1] multiplies the flow (1 = person) to keep the background still.
    """

    method: str = "capsule"
    model: FlowGenerator | None = None
    degree: float = 1.0
    parts: dict[str, float] | None = None
    strength: float | None = None  # see KEYPOINT_DEFAULTS; None = the method's default
    width_scale: float | None = None  # multiplies the default half-widths; None = the method's default
    suppress_px: float = 0.0
    work_long_side: int = 1200
    min_det: float = MIN_DETERMINANT
    strict: bool = False
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise BadConfigError(f"unknown method {self.method!r}; use one of: {', '.join(METHODS)}")
        if self.method == "learned" and self.model is None:
            raise BadConfigError("method 'learned' needs a trained model (a checkpoint)")
        learned = self.method == "learned"
        self.degree = check_degree(self.degree, learned=learned)
        if self.parts is not None:
            unknown = set(self.parts) - set(PARTS)
            if unknown:
                raise BadConfigError(f"unknown body parts {sorted(unknown)}; use: {', '.join(PARTS)}")
            self.parts = {part: check_degree(value, what=f"{part} degree", learned=learned)
                          for part, value in self.parts.items()}
        check_number("suppress_px", self.suppress_px, low=0.0)
        check_number("work_long_side", self.work_long_side, low=32, integer=True)
        check_number("min_det", self.min_det, low=0.0, high=1.0, high_open=True)
        default_strength, default_scale = KEYPOINT_DEFAULTS.get(self.method, (0.0, 1.0))
        self.strength = default_strength if self.strength is None else check_number(
            "strength", self.strength, low=0.0, high=1.0)
        self.width_scale = default_scale if self.width_scale is None else check_number(
            "width_scale", self.width_scale, low=0.25, high=4.0)

    # ------------------------------------------------------------------ flows
    def raw_flow(self, image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """The method's flow at full resolution for people with a body, before degree and guards."""
        height, width = image.shape[:2]
        people = [person for person in keypoints if has_body(person)]
        if self.method == "learned":
            return self._learned_flow(image, people)
        scale = min(1.0, FIELD_LONG_SIDE / max(height, width))
        small_h, small_w = max(2, round(height * scale)), max(2, round(width * scale))
        scaled = np.stack(people).copy()
        scaled[..., 0] *= small_w / width
        scaled[..., 1] *= small_h / height
        if self.method == "capsule":
            flow = slimming_flow(scaled, small_h, small_w, strength=self.strength, width_scale=self.width_scale,
                                 guard=False)
        elif self.method == "mls":
            flow = mls_flow(scaled, small_h, small_w, slim=self.strength, width_scale=self.width_scale, guard=False,
                            step=4)
        else:
            flow = waist_flow(scaled, small_h, small_w, strength=self.strength, width_scale=self.width_scale)
        return resize_flow(flow, height, width)

    def _learned_flow(self, image: np.ndarray, people: list[np.ndarray]) -> np.ndarray:
        assert self.model is not None
        height, width = image.shape[:2]
        factor = min(1.0, self.work_long_side / max(height, width))
        work_h, work_w = max(1, round(height * factor)), max(1, round(width * factor))
        work = image if factor == 1.0 else _resize_image(image, work_h, work_w)
        accumulated = np.zeros((work_h, work_w, 2), np.float32)
        weight_sum = np.zeros((work_h, work_w), np.float32)
        layers = []
        for person in people:
            scaled = person.copy()
            scaled[:, :2] *= (work_w / width, work_h / height)
            flow, weight = self._person_flow(work, scaled)
            confidence = float(scaled[present(scaled), 2].mean())
            layers.append((flow, weight, confidence))
            weight_sum += confidence * weight
        for flow, weight, confidence in layers:
            # feather × share of the confidence-weighted overlap (1 where only this person's ROI reaches)
            share = np.where(weight_sum > 0, confidence * weight / np.maximum(weight_sum, 1e-9), 0.0)
            accumulated += (flow * (weight * share)[..., None]).astype(np.float32)
        return resize_flow(accumulated, height, width)

    def _person_flow(self, work: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One person's flow and feather weight on the working image (spec 1.1 steps 3–7)."""
        assert self.model is not None
        height, width = work.shape[:2]
        joints = person[present(person), :2]
        low, high = joints.min(0), joints.max(0)
        margin = 0.25 * float((high - low).max())
        x0, y0 = (np.maximum(low - margin, 0)).astype(int)
        x1, y1 = (np.minimum(high + margin, [width, height])).astype(int)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((height, width, 2), np.float32), np.zeros((height, width), np.float32)
        roi_w, roi_h = x1 - x0, y1 - y0
        pad_x, pad_y = max(1, roi_w // 20), max(1, roi_h // 20)
        crop = np.pad(work[y0:y1, x0:x1], ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="edge")
        net = self._net_size()
        box = (x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y)
        skeleton = skeleton_maps(person, net, net, box)
        network_input = _resize_image(crop, net, net)
        with torch.no_grad():
            rgb = torch.from_numpy(np.ascontiguousarray(network_input.transpose(2, 0, 1)))[None] * 2 - 1
            structure = torch.from_numpy(skeleton)[None] if self.model.config.structure_priors else None
            f = self.model.eval()(rgb.float(), structure)[0].permute(1, 2, 0).numpy()  # (net, net, 2) in [-1, 1]
        pixels = f * self.model.config.coef * net  # net pixels; resize_flow rescales to padded-ROI pixels
        roi_flow = resize_flow(pixels, crop.shape[0], crop.shape[1])[pad_y : pad_y + roi_h, pad_x : pad_x + roi_w]
        roi_flow = clamp_magnitude(roi_flow, self.model.config.coef * max(roi_w, roi_h))
        # Feather: extend by ROI/3 with a linear ramp down to 0, then paste into the frame.
        ramp_x, ramp_y = max(1, roi_w // 3), max(1, roi_h // 3)
        extended = np.pad(roi_flow, ((ramp_y, ramp_y), (ramp_x, ramp_x), (0, 0)), mode="edge")
        ramp = np.outer(_ramp(roi_h, ramp_y), _ramp(roi_w, ramp_x)).astype(np.float32)
        flow = np.zeros((height, width, 2), np.float32)
        weight = np.zeros((height, width), np.float32)
        top, left = y0 - ramp_y, x0 - ramp_x
        ys = slice(max(top, 0), min(top + extended.shape[0], height))
        xs = slice(max(left, 0), min(left + extended.shape[1], width))
        flow[ys, xs] = extended[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
        weight[ys, xs] = ramp[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
        return flow, weight

    def _net_size(self) -> int:
        assert self.model is not None
        return int(self.model.config.input_size)

    def part_degree_map(self, keypoints: np.ndarray, height: int, width: int) -> np.ndarray | None:
        """Per-pixel degree multiplier from the per-part degrees (partition of unity over the bones)."""
        if not self.parts:
            return None
        scale = min(1.0, FIELD_LONG_SIDE / max(height, width))
        small_h, small_w = max(2, round(height * scale)), max(2, round(width * scale))
        ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float64)
        numerator = np.zeros((small_h, small_w))
        total = np.zeros((small_h, small_w))
        for person in keypoints:
            for bone in default_bones(person, 1.0, width_scale=self.width_scale or 1.0):
                start = np.asarray(bone.start) * (small_w / width, small_h / height)
                end = np.asarray(bone.end) * (small_w / width, small_h / height)
                distance, _ = segment_distance(xs, ys, start, end)
                weight = np.exp(-((distance / max(bone.half_width * scale, 1e-6)) ** 2))
                numerator += weight * self.parts.get(bone.part, 1.0)
                total += weight
        mean = float(np.mean([self.parts.get(part, 1.0) for part in PARTS]))
        multiplier = np.where(total > 1e-6, numerator / np.maximum(total, 1e-12), mean).astype(np.float32)
        multiplier = np.repeat(multiplier[..., None], 2, axis=-1)
        return resize_flow(multiplier, height, width) / np.array([width / small_w, height / small_h], np.float32)

    # ------------------------------------------------------------------ the whole job
    def reshape(self, image: np.ndarray, keypoints: np.ndarray, *, protect_mask: np.ndarray | None = None
                ) -> ReshapeResult:
        """Reshape every person with a body in ``keypoints`` ((18, 3) or (P, 18, 3), image pixels)."""
        rgb, alpha = prepare_image(image)
        people = check_keypoints(keypoints)
        height, width = rgb.shape[:2]
        usable = np.stack([person for person in people if has_body(person)]) if any(
            has_body(person) for person in people) else None
        if usable is None:
            message = "no person with shoulders and a limb among the keypoints (conf >= 0.05)"
            if self.strict:
                raise BadInputError(message)
            return ReshapeResult(rgb.copy(), np.zeros((height, width, 2), np.float32),
                                 None if alpha is None else alpha.copy(), "no_person", 0, notes=[message])
        flow = self.raw_flow(rgb, usable)
        flow = soft_threshold(flow, self.suppress_px)
        multiplier = self.part_degree_map(usable, height, width)
        if multiplier is not None:
            flow = flow * multiplier
        flow = (flow * np.float32(self.degree)).astype(np.float32)
        if protect_mask is not None:
            mask = np.asarray(protect_mask, np.float32)
            if mask.shape != (height, width) or not np.isfinite(mask).all():
                raise BadInputError(f"protect_mask must be a finite ({height}, {width}) array in [0, 1]")
            flow = flow * np.clip(mask, 0, 1)[..., None]
        flow, shrink, smallest = fold_guard(flow, minimum=self.min_det)
        warped = remap(rgb, flow, backend=self.backend)
        warped_alpha = None if alpha is None else remap(alpha, flow, backend=self.backend)
        result = ReshapeResult(warped, flow, warped_alpha, "ok", len(usable), shrink, smallest, degree=self.degree,
                               floor=self.min_det)
        if shrink < 1.0:
            result.notes.append(result.guard_text())
        return result


def _ramp(inner: int, outer: int) -> np.ndarray:
    """1 over ``inner`` samples, falling linearly to 0 over ``outer`` samples on both sides."""
    rise = (np.arange(outer) + 1) / (outer + 1)
    return np.concatenate([rise, np.ones(inner), rise[::-1]])


def _resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-style resize for shrinking, bilinear for enlarging (PIL, per channel in float)."""
    from PIL import Image

    shrinking = height < image.shape[0] or width < image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F")
                           .resize((width, height), method)) for c in range(image.shape[2])]
    return np.stack(channels, axis=-1).astype(np.float32)


__all__ = ["BodyReshaper", "ReshapeResult", "check_degree", "METHODS", "capsule_field"]
