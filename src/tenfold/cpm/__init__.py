"""CPM-2's toolkit: knowledge inheritance, prompt tuning with placement and masks, InfMoE offloaded MoE inference.

- :mod:`ki` / :mod:`pretrain`: the KI loss wrapper and a pre-training loop that uses it.
- :mod:`growth` / :mod:`moe`: new-token embeddings from known prefixes; dense FFN -> experts behind an LSH gate.
- :mod:`prompt`: soft prompts front / middle / back, provider / gatherer masks, verbalizers, prompt checkpoints.
- :mod:`offload` / :mod:`schedule`: the offloaded MoE engine, InfMoE's greedy order and its simulator.
"""

from tenfold.cpm.corpus import Corpus, DocItem, load_corpus, token_stream
from tenfold.cpm.growth import (
    dense_to_moe,
    export_experts,
    extend_vocabulary,
    grow_embedding,
    longest_prefix_sources,
)
from tenfold.cpm.ki import KnowledgeInheritance, inheritance_weight, ki_divergence, vocabulary_map
from tenfold.cpm.moe import MoEFFN, route
from tenfold.cpm.offload import DevicePool, ExpertStore, Link, OffloadEngine, ResidentExperts
from tenfold.cpm.pretrain import PretrainHistory, pretrain, steps_to_reach, validation_loss
from tenfold.cpm.prompt import (
    POSITIONS,
    PromptEncoder,
    PromptTuner,
    attention_block,
    backbone_hash,
    layout_pair,
    split_prompt,
)
from tenfold.cpm.schedule import Timeline, best_order, greedy_order, index_order, simulate
from tenfold.cpm.synthetic import create_expert_stack, routed_tokens
from tenfold.cpm.tasks import PairData, pair_task, pretext_pairs
from tenfold.cpm.transformer import ByteLM, GatedFFN, LMConfig, gated_ffn, load_lm, save_lm

__all__ = [
    "POSITIONS", "ByteLM", "Corpus", "DevicePool", "DocItem", "ExpertStore", "GatedFFN", "KnowledgeInheritance",
    "LMConfig", "Link", "MoEFFN", "OffloadEngine", "PairData", "PretrainHistory", "PromptEncoder", "PromptTuner",
    "ResidentExperts", "Timeline", "attention_block", "backbone_hash", "best_order", "create_expert_stack",
    "dense_to_moe", "export_experts", "extend_vocabulary", "gated_ffn", "greedy_order", "grow_embedding", "index_order",
    "inheritance_weight", "ki_divergence", "layout_pair", "load_corpus", "load_lm", "longest_prefix_sources",
    "pair_task", "pretext_pairs", "pretrain", "route", "routed_tokens", "save_lm", "simulate", "split_prompt",
    "steps_to_reach", "token_stream", "validation_loss", "vocabulary_map",
]
