"""IETrans: internal and external data transfer for fine-grained scene graph generation (Zhang et al., ECCV 2022).

Transfer is model-agnostic: give per-relation and per-candidate probabilities from any model. Also here:
a VG-150 h5 reader/writer, R@K/mR@K/F@K and VG-1800 metrics, the SynthSGG world, and CPU models.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "Candidates": "transfer",
    "KnowledgeBase": "transfer",
    "PipelineConfig": "pipeline",
    "PredicateClassifier": "training",
    "SceneGraphs": "scene_graphs",
    "SynthConfig": "synth",
    "SynthSplit": "synth",
    "SynthWorld": "synth",
    "TransferConfig": "transfer",
    "TransferResult": "transfer",
    "attraction_table": "transfer",
    "external_candidates": "transfer",
    "external_transfer": "transfer",
    "f_score": "metrics",
    "ietrans_transfer": "transfer",
    "images_with_relations": "scene_graphs",
    "internal_transfer": "transfer",
    "knowledge_base": "transfer",
    "make_synth": "synth",
    "make_world": "synth",
    "merge_transfers": "transfer",
    "ordered_pairs": "scene_graphs",
    "pair_index": "scene_graphs",
    "predicate_accuracy": "metrics",
    "read_vg_h5": "vg_h5",
    "recall_metrics": "metrics",
    "reweighting_weights": "training",
    "run_pipeline": "pipeline",
    "sample_split": "synth",
    "select_images": "scene_graphs",
    "softmax": "transfer",
    "transfer_with_model": "pipeline",
    "weighted_cross_entropy": "training",
    "write_transferred_h5": "vg_h5",
    "write_vg_files": "vg_h5",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.ietrans' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.ietrans.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
