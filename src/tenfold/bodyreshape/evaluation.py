"""Scoring flows on synthetic test pairs, and the keypoint baselines tuned the way their authors would.

The capsule field and keypoint MLS each have a strength and a width scale. They are chosen on a
validation split (pairs disjoint from training and test) by end-point error against the ground
truth, and the choice is recorded, so the learned flow is compared with the baselines at their best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenfold.bodyreshape.capsule import slimming_flow
from tenfold.bodyreshape.flow_field import end_point_error, min_determinant
from tenfold.bodyreshape.metrics import leakage
from tenfold.bodyreshape.mls import mls_flow
from tenfold.bodyreshape.synthetic import SyntheticSet

BASELINES = ("capsule", "mls")
# Candidate (strength, width scale) per baseline; the grid spans the pipeline defaults and the
# ground truth's range of strengths (capsule k, or the share of W that MLS moves a contour by).
BASELINE_GRID: dict[str, tuple[tuple[float, float], ...]] = {
    "capsule": tuple((k, w) for k in (0.1, 0.2, 0.3, 0.45, 0.6) for w in (1.0, 1.4, 1.8, 2.2, 2.6)),
    "mls": tuple((s, w) for s in (0.1, 0.2, 0.3, 0.4, 0.5) for w in (1.0, 1.4, 1.8, 2.2, 2.6)),
}
# Test seeds start here so they never meet training or validation seeds.
TEST_SEED_OFFSET = 1_000_003
VALIDATION_SEED_OFFSET = 2_000_003


@dataclass(frozen=True)
class BaselineChoice:
    """The tuned setting of one keypoint baseline and its validation EPE."""

    method: str
    strength: float
    width_scale: float
    validation_epe: float


def baseline_flows(method: str, keypoints: np.ndarray, size: int, strength: float, width_scale: float) -> np.ndarray:
    """Flows (N, size, size, 2) of a keypoint baseline for keypoints (N, 18, 3) in pixels of a size × size image."""
    if method == "capsule":
        return np.stack([slimming_flow(k, size, size, strength=strength, width_scale=width_scale) for k in keypoints])
    if method == "mls":
        return np.stack([mls_flow(k, size, size, slim=strength, width_scale=width_scale, step=4) for k in keypoints])
    raise ValueError(f"unknown baseline {method!r}; use one of {BASELINES}")


def tune_baseline(method: str, validation: SyntheticSet) -> BaselineChoice:
    """The grid point of ``method`` with the lowest EPE on the validation pairs."""
    size = validation.images.shape[1]
    scored = []
    for strength, width_scale in BASELINE_GRID[method]:
        flows = baseline_flows(method, validation.keypoints, size, strength, width_scale)
        scored.append((end_point_error(flows, validation.flows), strength, width_scale))
    epe, strength, width_scale = min(scored)
    return BaselineChoice(method, strength, width_scale, float(epe))


def flow_scores(flows: np.ndarray, data: SyntheticSet) -> dict[str, float]:
    """EPE over the image and inside the body, mean |F| on distractors, and the worst fold measure."""
    return {
        "epe": end_point_error(flows, data.flows),
        "epe_body": end_point_error(flows, data.flows, data.body_masks),
        "leak_distractors": leakage(flows, data.distractor_masks),
        "body_magnitude": float(np.linalg.norm(flows, axis=-1)[data.body_masks].mean()),
        "min_det": float(min(min_determinant(f) for f in flows)),
    }
