"""CPM-2's parameter-reuse growth (report 2.3): new-token embeddings from known prefixes, dense FFN -> experts.

Both steps start the bigger model where the smaller one stopped, instead of from random weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.moe import MoEFFN
from tenfold.cpm.transformer import ByteLM, GatedFFN


def longest_prefix_sources(old_tokens: list[bytes], new_tokens: list[bytes], seed: int = 0) -> list[int]:
    """For each new token, the old id whose token is its longest prefix (or a seeded random old id if none)."""
    if not old_tokens:
        raise BadInputError("the existing vocabulary is empty; nothing to inherit embeddings from")
    index = {tok: i for i, tok in enumerate(old_tokens)}
    clash = [t for t in new_tokens if t in index]
    if clash:
        raise BadInputError(f"new tokens already in the vocabulary: {clash[:3]!r}; add only unseen tokens")
    generator = torch.Generator().manual_seed(seed)
    sources: list[int] = []
    for token in new_tokens:
        source = next((index[token[:k]] for k in range(len(token) - 1, 0, -1) if token[:k] in index), None)
        if source is None:
            source = int(torch.randint(len(old_tokens), (1,), generator=generator))
        sources.append(source)
    return sources


def grow_embedding(weight: torch.Tensor, old_tokens: list[bytes], new_tokens: list[bytes], seed: int = 0) -> torch.Tensor:
    """Append one row per new token, copied from its longest known prefix. weight [V, d] -> [V + n, d]."""
    if weight.shape[0] != len(old_tokens):
        raise BadInputError(f"embedding has {weight.shape[0]} rows but the vocabulary lists {len(old_tokens)} tokens")
    sources = longest_prefix_sources(old_tokens, new_tokens, seed)
    return torch.cat([weight, weight[torch.tensor(sources, dtype=torch.long)]], dim=0)


def dense_to_moe(model: ByteLM, num_experts: int, *, mix: str = "none", balanced: bool = False, seed: int = 0) -> ByteLM:
    """Replace every dense FFN of ``model`` (in place) by ``num_experts`` exact copies behind a fixed LSH gate.

    With ``mix="none"`` the result computes exactly what the dense model computed (function-preserving).
    """
    for layer_index, block in enumerate(model.blocks):
        dense = block.ffn
        if not isinstance(dense, GatedFFN):
            raise BadInputError(f"layer {layer_index} is already an MoE layer; convert a dense model")
        d_ff, d_model = dense.wi0.shape
        moe = MoEFFN(num_experts, d_model, d_ff, mix=mix, balanced=balanced, seed=seed * 1000 + layer_index)
        moe = moe.to(dense.wi0.dtype)
        with torch.no_grad():
            for name in ("ln", "wi0", "wi1", "wo"):
                getattr(moe, name).copy_(getattr(dense, name).detach().expand_as(getattr(moe, name)))
        block.ffn = moe
    return model


def export_experts(model: ByteLM, directory: str | Path) -> list[Path]:
    """Write each MoE layer as ``layer{l}.safetensors`` with keys ``{e}.ln``, ``{e}.wi0``, ``{e}.wi1``, ``{e}.wo``
    plus ``centroids`` (the InfMoE layout); each file is written atomically."""
    from tenfold.core.io import atomic_save_safetensors

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for layer_index, block in enumerate(model.blocks):
        moe = block.ffn
        if not isinstance(moe, MoEFFN):
            raise BadConfigError(f"layer {layer_index} is dense; run dense_to_moe first")
        tensors = {"centroids": moe.centroids.detach().contiguous().clone()}
        for e in range(moe.num_experts):
            for name in ("ln", "wi0", "wi1", "wo"):
                tensors[f"{e}.{name}"] = getattr(moe, name)[e].detach().contiguous().clone()
        target = directory / f"layer{layer_index}.safetensors"
        atomic_save_safetensors(target, tensors, metadata={"mix": moe.mix})
        written.append(target)
    return written


def extend_vocabulary(model: ByteLM, old_tokens: list[bytes], new_tokens: list[bytes], seed: int = 0) -> ByteLM:
    """A copy of ``model`` with ``new_tokens`` appended to its vocabulary (CPM-2's bilingual stage): every other
    weight is reused, each new row starts from the token's longest known prefix."""
    from dataclasses import replace

    if model.config.vocab_size != len(old_tokens):
        raise BadInputError(f"model vocabulary {model.config.vocab_size} != {len(old_tokens)} listed tokens")
    grown = ByteLM(replace(model.config, vocab_size=model.config.vocab_size + len(new_tokens)))
    state = {k: v for k, v in model.state_dict().items() if k != "embed.weight"}
    state["embed.weight"] = grow_embedding(model.embed.weight.detach(), old_tokens, new_tokens, seed)
    grown.load_state_dict(state)
    return grown
