"""CPT: colourful prompt tuning for visual grounding (Yao et al., 2021), with a tiny offline VL backbone.

Mark each region proposal with a semi-transparent colour, ask a masked-language VL model
"{query} is in [MASK] color .", and pick the proposal whose colour word it prefers.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "CPTGrounder": "grounder",
    "ColorSearchResult": "colors",
    "DEFAULT_TEMPLATE": "prompt",
    "FewShotRun": "grounder",
    "FineTuneGrounder": "finetune",
    "GroundingExample": "examples",
    "GroundingHead": "finetune",
    "GroundingScores": "grounder",
    "MaskedVLBackbone": "backbone",
    "PretrainConfig": "pretrain",
    "RED": "grounder",
    "TEMPLATES": "prompt",
    "TinyVL": "model",
    "TinyVLConfig": "model",
    "Vocabulary": "vocabulary",
    "accuracy": "examples",
    "box_iou": "marking",
    "build_prompt": "prompt",
    "cache_dir": "pretrain",
    "check_boxes": "marking",
    "color_search": "colors",
    "crop_regions": "model",
    "draw_shots": "examples",
    "example_from_item": "examples",
    "fingerprints": "examples",
    "finetune_grid": "tuning",
    "cpt_grid": "tuning",
    "tune": "tuning",
    "jackknife_std_log_ratio": "spread",
    "load_or_pretrain": "pretrain",
    "load_weights": "pretrain",
    "mark": "marking",
    "random_accuracy": "examples",
    "rgb_lattice": "colors",
    "save_weights": "pretrain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.cpt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.cpt.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
