"""Seeded synthetic MoE stacks and token batches for the offload engine's speed tests.

Expert weights are random (only their size and the routing matter for timing); all layers share one gate so
a batch's routing skew (Zipf over experts, as real MoE traffic is skewed) persists through the stack.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from tenfold.core.errors import BadConfigError


def create_expert_stack(
    directory: str | Path,
    *,
    num_layers: int = 4,
    num_experts: int = 16,
    d_model: int = 512,
    d_ff: int = 2048,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> list[Path]:
    """Write ``layer{l}.safetensors`` files (keys ``{e}.ln|wi0|wi1|wo`` + ``centroids``); atomic per file."""
    from tenfold.core.io import atomic_save_safetensors

    if min(num_layers, num_experts, d_model, d_ff) < 1:
        raise BadConfigError("layers, experts, d_model and d_ff must all be >= 1")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    centroids = torch.randn(num_experts, d_model, generator=generator) / math.sqrt(d_model)
    paths = []
    for layer in range(num_layers):
        tensors = {"centroids": centroids.clone()}
        for e in range(num_experts):
            # small FFN updates keep the residual stream (and so the routing) close to the input
            tensors[f"{e}.ln"] = (1 + 0.1 * torch.randn(d_model, generator=generator)).to(dtype)
            tensors[f"{e}.wi0"] = (torch.randn(d_ff, d_model, generator=generator) / math.sqrt(d_model)).to(dtype)
            tensors[f"{e}.wi1"] = (torch.randn(d_ff, d_model, generator=generator) / math.sqrt(d_model)).to(dtype)
            tensors[f"{e}.wo"] = (0.1 * torch.randn(d_model, d_ff, generator=generator) / math.sqrt(d_ff)).to(dtype)
        target = directory / f"layer{layer}.safetensors"
        atomic_save_safetensors(target, tensors)
        paths.append(target)
    return paths


def routed_tokens(centroids: torch.Tensor, num_tokens: int, *, zipf_s: float | None = None, seed: int = 0) -> torch.Tensor:
    """Tokens [N, d] whose top-1 expert follows a Zipf(s) law over experts (uniform when ``zipf_s`` is None)."""
    rng = np.random.default_rng(seed)
    num_experts, d_model = centroids.shape
    if zipf_s is None:
        probabilities = np.full(num_experts, 1.0 / num_experts)
    else:
        probabilities = 1.0 / np.arange(1, num_experts + 1) ** zipf_s
        probabilities /= probabilities.sum()
    experts = rng.permutation(num_experts)[rng.choice(num_experts, size=num_tokens, p=probabilities)]
    noise = torch.from_numpy(rng.standard_normal((num_tokens, d_model))).float()
    unit = centroids / centroids.norm(dim=1, keepdim=True)
    return noise + 8.0 * math.sqrt(d_model) * unit[torch.from_numpy(experts)] / math.sqrt(d_model) * 3
