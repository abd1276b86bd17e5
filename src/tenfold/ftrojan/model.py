"""The CNN of the official FTrojan code for CIFAR10/GTSRB: three pairs of 3x3 convs with ELU + BatchNorm,
2x2 max-pool and dropout after each pair, then one dense layer (``width=32`` is the paper's 0.31 M
parameters; the CPU miniature uses a narrower width)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ELU(), nn.BatchNorm2d(out_channels)]


class FTrojanCNN(nn.Module):
    """6-conv CNN: (B, C, S, S) -> logits (B, classes); ``S`` divisible by 8."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32, image_size: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_conv(in_channels, w), *_conv(w, w), nn.MaxPool2d(2), nn.Dropout(0.2),  # (B, w, S/2, S/2)
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2), nn.Dropout(0.3),  # (B, 2w, S/4, S/4)
            *_conv(2 * w, 4 * w), *_conv(4 * w, 4 * w), nn.MaxPool2d(2), nn.Dropout(0.4),  # (B, 4w, S/8, S/8)
            nn.Flatten(),  # (B, 4w * S/8 * S/8): the "penultimate" representation the defences inspect
        )
        self.classifier = nn.Linear(4 * w * (image_size // 8) ** 2, num_classes)
        # Channels-last convolutions are about 30% faster on CPU (oneDNN) for these small images.
        self.to(memory_format=torch.channels_last)

    def last_conv(self) -> nn.Conv2d:
        """The last convolution (fine-pruning removes its channels)."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)][-1]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, D), flattened in (channel, row, column) order whatever the memory layout."""
        return self.features(x.contiguous(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))
