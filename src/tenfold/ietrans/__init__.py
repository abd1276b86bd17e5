"""IETrans: internal and external data transfer for fine-grained scene graph generation (Zhang et al., ECCV 2022).

Transfer is model-agnostic: give per-relation and per-candidate probabilities from any model. Also here:
a VG-150 h5 reader/writer, R@K/mR@K/F@K and VG-1800 metrics, the SynthSGG world, and CPU models.
"""

from tenfold.ietrans.metrics import f_score, predicate_accuracy, recall_metrics
from tenfold.ietrans.scene_graphs import (
    SceneGraphs,
    images_with_relations,
    ordered_pairs,
    pair_index,
    select_images,
)
from tenfold.ietrans.synth import SynthConfig, SynthSplit, SynthWorld, make_synth, make_world, sample_split
from tenfold.ietrans.transfer import (
    Candidates,
    KnowledgeBase,
    TransferConfig,
    TransferResult,
    attraction_table,
    external_candidates,
    external_transfer,
    ietrans_transfer,
    internal_transfer,
    knowledge_base,
    merge_transfers,
    softmax,
)
from tenfold.ietrans.vg_h5 import read_vg_h5, write_transferred_h5, write_vg_files

# torch-backed parts load on first use, so `tenfold --help` (which mounts this package's CLI) stays fast.
_LAZY = {
    "PipelineConfig": "tenfold.ietrans.pipeline",
    "run_pipeline": "tenfold.ietrans.pipeline",
    "transfer_with_model": "tenfold.ietrans.pipeline",
    "PredicateClassifier": "tenfold.ietrans.training",
    "reweighting_weights": "tenfold.ietrans.training",
    "weighted_cross_entropy": "tenfold.ietrans.training",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tenfold.ietrans' has no attribute {name!r}")


__all__ = [
    "Candidates",
    "KnowledgeBase",
    "PipelineConfig",
    "PredicateClassifier",
    "SceneGraphs",
    "SynthConfig",
    "SynthSplit",
    "SynthWorld",
    "TransferConfig",
    "TransferResult",
    "attraction_table",
    "external_candidates",
    "external_transfer",
    "f_score",
    "ietrans_transfer",
    "images_with_relations",
    "internal_transfer",
    "knowledge_base",
    "make_synth",
    "make_world",
    "merge_transfers",
    "ordered_pairs",
    "pair_index",
    "predicate_accuracy",
    "read_vg_h5",
    "recall_metrics",
    "reweighting_weights",
    "run_pipeline",
    "sample_split",
    "select_images",
    "softmax",
    "transfer_with_model",
    "weighted_cross_entropy",
    "write_transferred_h5",
    "write_vg_files",
]
