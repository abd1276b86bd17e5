"""The model of the miniature: multinomial logistic regression (a linear softmax layer)."""

from __future__ import annotations

import torch


class LinearSoftmax(torch.nn.Module):
    """logits = x W^T + b: (N, d) -> (N, K). Inputs carry their own bias column in the digits task."""

    def __init__(self, in_features: int, n_classes: int, *, bias: bool = False) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_features, n_classes, bias=bias)
        torch.nn.init.zeros_(self.linear.weight)  # start at w = 0: the same start for every neighbouring data set

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, d) -> (N, K)
        return self.linear(x)
