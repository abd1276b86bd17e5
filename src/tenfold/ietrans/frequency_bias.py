"""The Motifs frequency bias: a learnable (class pair -> predicate logits) table started at log P(p | s, o)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FrequencyBias(nn.Module):
    """Adds log empirical P(predicate | subject class, object class), background included, to the logits."""

    def __init__(self, pair_predicate_counts: np.ndarray, num_object_classes: int) -> None:
        super().__init__()
        counts = np.asarray(pair_predicate_counts, dtype=np.float64)  # ((C + 1) ** 2, P + 1)
        log_prob = np.log((counts + 1.0) / (counts + 1.0).sum(axis=1, keepdims=True))
        self.num_object_classes = num_object_classes
        self.table = nn.Embedding(counts.shape[0], counts.shape[1])
        with torch.no_grad():
            self.table.weight.copy_(torch.as_tensor(log_prob, dtype=torch.float32))

    def forward(self, subject_class: torch.Tensor, object_class: torch.Tensor) -> torch.Tensor:
        return self.table(subject_class * (self.num_object_classes + 1) + object_class)
