"""PairMLP: the fast predicate classifier (class embeddings + pair geometry + pair features -> MLP)."""

from __future__ import annotations

import torch
from torch import nn

from tenfold.ietrans.frequency_bias import FrequencyBias


class PairMLP(nn.Module):
    """Scores an ordered pair from its two classes, its geometry and optional appearance features.

    No context between objects: the fast variant of spec 5.2; it trains on flat pair batches.
    """

    def __init__(
        self,
        num_object_classes: int,
        num_predicates: int,
        feature_dim: int = 0,
        embedding_dim: int = 32,
        hidden: int = 256,
        frequency_bias: FrequencyBias | None = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_object_classes + 1, embedding_dim)
        self.head = nn.Sequential(
            nn.Linear(2 * embedding_dim + 9 + feature_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_predicates + 1),
        )
        self.frequency_bias = frequency_bias

    def forward(
        self,
        subject_class: torch.Tensor,  # (...,) long
        object_class: torch.Tensor,  # (...,) long
        pair_geometry: torch.Tensor,  # (..., 9)
        pair_features: torch.Tensor,  # (..., D)
    ) -> torch.Tensor:  # (..., P + 1) logits
        x = torch.cat([self.embedding(subject_class), self.embedding(object_class), pair_geometry, pair_features], -1)
        logits = self.head(x)
        if self.frequency_bias is not None:
            logits = logits + self.frequency_bias(subject_class, object_class)
        return logits
