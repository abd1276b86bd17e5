"""Body reshaping in portraits: structure-aware flow generation (FBBR, Ren et al., CVPR 2022).

A flow generator sees the image plus 13 skeleton maps (structure priors), attends with visual ×
structure affinities (SASA), predicts a smooth low-resolution flow, and the full-resolution photo
is warped by it; ``degree`` scales the effect. Training-free baselines (capsule field, keypoint
MLS, liquify) share the same pipeline, guards and warp.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name → module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "BodyReshaper": "pipeline",
    "Bone": "capsule",
    "FlowGenerator": "flow_generator",
    "GeneratorConfig": "flow_generator",
    "JOINTS": "keypoints",
    "LIMBS": "keypoints",
    "ReshapeResult": "pipeline",
    "StructureAffinityAttention": "attention",
    "SyntheticPair": "synthetic",
    "SyntheticSet": "synthetic",
    "TrainConfig": "training",
    "capsule_field": "capsule",
    "check_degree": "pipeline",
    "check_keypoints": "keypoints",
    "coco18_from_mediapipe": "keypoints",
    "default_bones": "capsule",
    "detect_keypoints": "pose",
    "end_point_error": "flow_field",
    "fixture_image": "keypoints",
    "fixture_keypoints": "keypoints",
    "fold_guard": "flow_field",
    "guard_folds": "flow_field",
    "jacobian_determinant": "flow_field",
    "largest_safe_factor": "flow_field",
    "leakage": "metrics",
    "liquify_flow": "liquify",
    "load_checkpoint": "training",
    "load_keypoints": "keypoints",
    "make_pair": "synthetic",
    "make_set": "synthetic",
    "retoucher_strength": "retoucher",
    "shipped_checkpoint": "training",
    "silhouette_flow": "retoucher",
    "tune_baseline": "evaluation",
    "min_determinant": "flow_field",
    "mls_flow": "mls",
    "mls_map": "mls",
    "orthogonal_loss": "losses",
    "paf_directions": "skeleton",
    "part_maps": "attention",
    "predict_flows": "training",
    "prepare_image": "images",
    "read_image_file": "images",
    "remap": "warp",
    "reshape_loss": "losses",
    "resize_flow": "flow_field",
    "save_checkpoint": "training",
    "skeleton_maps": "skeleton",
    "slimming_flow": "capsule",
    "soft_threshold": "flow_field",
    "ssim": "metrics",
    "train_generator": "training",
    "waist_flow": "liquify",
    "warp_tensor": "warp",
    "write_image_file": "images",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.bodyreshape' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.bodyreshape.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
