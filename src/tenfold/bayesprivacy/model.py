"""The LeNet of DLG (Zhu et al. 2019): three 5x5 convs with 12 channels (strides 2, 2, 1) and one linear layer,
with ELU (trains, and is twice differentiable for gradient matching); any conv may be a passport layer."""

from __future__ import annotations

import torch
from torch import nn

from tenfold.bayesprivacy.passport import PassportConv2d
from tenfold.core.errors import BadConfigError

ACTIVATIONS = {"elu": nn.ELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class LeNet(nn.Module):
    """(B, C, S, S) -> logits (B, classes). ``passports``: indices (0, 1, 2) of the convs that carry passports."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        *,
        passports: tuple[int, ...] = (),
        norm: str = "none",
        activation: str = "elu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise BadConfigError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if any(i not in (0, 1, 2) for i in passports):
            raise BadConfigError(f"passport layer indices must be in 0..2, got {passports}")
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for index, stride in enumerate((2, 2, 1)):
            if index in passports:
                layers.append(PassportConv2d(channels, 12, 5, input_shape=(channels, size, size), stride=stride, padding=2, norm=norm))
            else:
                layers.append(nn.Conv2d(channels, 12, 5, stride=stride, padding=2))
            layers.append(ACTIVATIONS[activation]())
            channels, size = 12, (size + 4 - 5) // stride + 1
        self.body = nn.Sequential(*layers)  # (B, 12, S/4, S/4): 7x7 for 28x28 inputs
        self.fc = nn.Linear(12 * size * size, num_classes)
        self.config = {
            "in_channels": in_channels, "image_size": image_size, "num_classes": num_classes,
            "passports": tuple(passports), "norm": norm, "activation": activation,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1))
