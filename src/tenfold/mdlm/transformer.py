"""A small GPT-style causal decoder over state tokens (pre-LN, learned positions, no dropout).

Generation keeps a key/value cache; when the window reaches ``context`` tokens it keeps the last
half and re-encodes it from position 0, so every token sees between context/2 and context tokens
with the absolute positions it was trained on, at O(context) cost per token instead of O(context^2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Cache = list[tuple[torch.Tensor, torch.Tensor]]


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        # x (B, T, d); cache (B, heads, T_past, d/heads) twice
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        past = k.shape[2] - length
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # new queries attend to all cached keys and causally among themselves
            mask = torch.ones(length, k.shape[2], dtype=torch.bool).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(batch, length, width)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, cache=None):
        attended, cache = self.attention(self.norm1(x), cache)
        x = x + attended
        return x + self.mlp(self.norm2(x)), cache


class StateTransformer(nn.Module):
    """Causal Transformer language model with a context of ``context`` tokens."""

    def __init__(self, vocab_size: int, d_model: int = 32, n_layers: int = 2, n_heads: int = 4,
                 context: int = 100) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.context = context
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Parameter(torch.zeros(context, d_model))
        nn.init.normal_(self.position_embedding, std=0.02)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor, cache: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        # tokens (B, T) continuing a cache of T_past tokens (T_past + T <= context) -> logits (B, T, V)
        past = 0 if cache is None else cache[0][0].shape[2]
        length = tokens.shape[1]
        if past + length > self.context:
            raise ValueError(f"{past + length} tokens exceed the context of {self.context}")
        x = self.token_embedding(tokens) + self.position_embedding[past:past + length]
        new_cache: Cache = []
        for index, block in enumerate(self.blocks):
            x, layer_cache = block(x, None if cache is None else cache[index])
            new_cache.append(layer_cache)
        return self.head(self.norm(x)), new_cache
