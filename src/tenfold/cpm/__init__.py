"""CPM-2's toolkit: knowledge inheritance, prompt tuning with placement and masks, InfMoE offloaded MoE inference.

- :mod:`ki` / :mod:`pretrain`: the KI loss wrapper and a pre-training loop that uses it.
- :mod:`growth` / :mod:`moe`: new-token embeddings from known prefixes; dense FFN -> experts behind an LSH gate.
- :mod:`prompt`: soft prompts front / middle / back, provider / gatherer masks, verbalizers, prompt checkpoints.
- :mod:`offload` / :mod:`schedule`: the offloaded MoE engine, InfMoE's greedy rule, index order, the engine's
  best-of-two option, and the exact pipeline simulator.
- :mod:`miniature`: the measurements behind the experiment (worker-process jobs).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "ByteLM": "transformer",
    "Corpus": "corpus",
    "DevicePool": "offload",
    "DocItem": "corpus",
    "ExpertStore": "offload",
    "GatedFFN": "transformer",
    "KnowledgeInheritance": "ki",
    "LMConfig": "transformer",
    "Link": "offload",
    "MoEFFN": "moe",
    "OffloadEngine": "offload",
    "POSITIONS": "prompt",
    "PairData": "tasks",
    "PretrainHistory": "pretrain",
    "PromptEncoder": "prompt",
    "PromptTuner": "prompt",
    "ResidentExperts": "offload",
    "Timeline": "schedule",
    "attention_block": "prompt",
    "backbone_hash": "prompt",
    "SCHEDULES": "schedule",
    "best_of_two_order": "schedule",
    "best_order": "schedule",
    "create_expert_stack": "synthetic",
    "dense_to_moe": "growth",
    "export_experts": "growth",
    "extend_vocabulary": "growth",
    "gated_ffn": "transformer",
    "grow_embedding": "growth",
    "index_order": "schedule",
    "infmoe_greedy_order": "schedule",
    "largest_first_order": "schedule",
    "inheritance_weight": "ki",
    "ki_divergence": "ki",
    "layout_pair": "prompt",
    "load_corpus": "corpus",
    "load_lm": "transformer",
    "longest_prefix_sources": "growth",
    "pair_task": "tasks",
    "pretext_pairs": "tasks",
    "pretrain": "pretrain",
    "route": "moe",
    "routed_tokens": "synthetic",
    "save_lm": "transformer",
    "order_for": "schedule",
    "resolve_device": "offload",
    "simulate": "schedule",
    "split_prompt": "prompt",
    "steps_to_reach": "pretrain",
    "token_stream": "corpus",
    "validation_loss": "pretrain",
    "vocabulary_map": "ki",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.cpm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.cpm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
