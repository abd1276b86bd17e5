"""CPM-2's MoE FFN: E gated-GELU experts behind a fixed random-projection gate (an LSH), top-1.

``mix="none"`` returns the chosen expert's update (an exact copy of a dense FFN gives the dense output);
``mix="base"`` scales it by sigmoid(affinity) as in BASE layers / InfMoE (not function-preserving).
``balanced=True`` assigns tokens to experts with BASE layers' balanced linear assignment.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.transformer import gated_ffn

MIXES = ("none", "base")


def route(x: torch.Tensor, centroids: torch.Tensor, balanced: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-1 expert and its affinity for each token. x [N, d], centroids [E, d] -> (expert [N] long, affinity [N])."""
    if x.ndim != 2 or centroids.ndim != 2 or x.shape[1] != centroids.shape[1]:
        raise BadInputError(f"route needs x [N, d] and centroids [E, d]; got {tuple(x.shape)} and {tuple(centroids.shape)}")
    scores = x @ centroids.T  # [N, E]
    if not balanced:
        affinity, expert = scores.max(dim=1)
        return expert, affinity
    from scipy.optimize import linear_sum_assignment

    n_tokens, n_experts = scores.shape
    capacity = math.ceil(n_tokens / n_experts)
    # Each expert offers `capacity` identical seats; maximise total affinity (BASE layers' assignment).
    cost = -scores.detach().double().repeat_interleave(capacity, dim=1).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    expert = torch.empty(n_tokens, dtype=torch.long)
    expert[torch.as_tensor(rows)] = torch.as_tensor(cols // capacity, dtype=torch.long)
    expert = expert.to(x.device)
    return expert, scores.gather(1, expert[:, None])[:, 0]


def mix_update(update: torch.Tensor, affinity: torch.Tensor, mix: str) -> torch.Tensor:
    """How an expert's update enters the residual stream."""
    if mix == "none":
        return update
    if mix == "base":
        return update * torch.sigmoid(affinity)[:, None]
    raise BadConfigError(f"unknown MoE mix {mix!r}; use one of {', '.join(MIXES)}")


class MoEFFN(nn.Module):
    """E experts with stacked weights (ln [E, d], wi0/wi1 [E, d_ff, d], wo [E, d, d_ff]) and a frozen gate."""

    def __init__(self, num_experts: int, d_model: int, d_ff: int, *, mix: str = "none", balanced: bool = False,
                 seed: int = 0) -> None:
        super().__init__()
        if num_experts < 1:
            raise BadConfigError(f"num_experts={num_experts}; an MoE layer needs at least one expert")
        if mix not in MIXES:
            raise BadConfigError(f"unknown MoE mix {mix!r}; use one of {', '.join(MIXES)}")
        self.mix = mix
        self.balanced = balanced
        generator = torch.Generator().manual_seed(seed)
        # The gate is a fixed random projection (never trained): a buffer, not a parameter.
        self.register_buffer("centroids", torch.randn(num_experts, d_model, generator=generator) / math.sqrt(d_model))
        self.ln = nn.Parameter(torch.ones(num_experts, d_model))
        self.wi0 = nn.Parameter(torch.randn(num_experts, d_ff, d_model, generator=generator) / math.sqrt(d_model))
        self.wi1 = nn.Parameter(torch.randn(num_experts, d_ff, d_model, generator=generator) / math.sqrt(d_model))
        self.wo = nn.Parameter(torch.randn(num_experts, d_model, d_ff, generator=generator) / math.sqrt(d_ff))

    @property
    def num_experts(self) -> int:
        return self.centroids.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., d] -> [..., d]
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        expert, affinity = route(flat, self.centroids, self.balanced)
        out = torch.zeros_like(flat)
        for e in torch.unique(expert).tolist():  # experts with no tokens are never computed
            rows = (expert == e).nonzero()[:, 0]
            update = gated_ffn(flat[rows], self.ln[e], self.wi0[e], self.wi1[e], self.wo[e])
            out[rows] = mix_update(update, affinity[rows], self.mix)
        return out.reshape(shape)
