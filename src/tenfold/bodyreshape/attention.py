"""Structure-Affinity Self-Attention (SASA): the paper's compositional attention (spec 1.3).

Visual affinity sigma(QᵀK - mean) is multiplied element-wise by a structure affinity
sigma(MᵀM - mean) built from skeleton-derived part maps, so attention only links pixels that
look alike *and* belong to the same body part. Two sigmoids, no softmax, no row normalisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Skeleton channel groups (see skeleton.LIMBS): 1..2 torso sides, 4..7 arms, 8..11 legs, 12 union.
_TORSO = slice(1, 3)
_ARMS = slice(4, 8)
_LEGS = slice(8, 12)
_UNION = 12


def part_maps(skeleton: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Five part maps (arms, torso, legs, fg, bg) at ``size`` from a ±1 skeleton stack.

    skeleton: (B, 13, H, W) in {-1, 1} -> (B, 5, h, w) in [0, 1]. A max-pool dilation of 17 px
    at 256² (scaled with H) stands in for the PAF magnitude, as in the official code.
    """
    height = skeleton.shape[-2]
    radius = max(1, round(8 * height / 256))
    binary = (skeleton + 1.0) / 2.0
    dilated = F.max_pool2d(binary, kernel_size=2 * radius + 1, stride=1, padding=radius)
    arms = dilated[:, _ARMS].sum(1, keepdim=True).clamp(0, 1)
    torso = dilated[:, _TORSO].sum(1, keepdim=True).clamp(0, 1)
    legs = dilated[:, _LEGS].sum(1, keepdim=True).clamp(0, 1)
    foreground = dilated[:, _UNION : _UNION + 1]
    maps = torch.cat([arms, torso, legs, foreground, 1.0 - foreground], dim=1)
    return F.adaptive_avg_pool2d(maps, size)  # area downsampling


class StructureAffinityAttention(nn.Module):
    """X + gamma * V·Aᵀ with A = A_visual ⊙ A_structure (or A_visual alone when ``use_structure`` is off)."""

    def __init__(self, channels: int, *, use_structure: bool = True) -> None:
        super().__init__()
        self.use_structure = use_structure
        self.query = nn.Conv2d(channels, max(channels // 8, 1), 1)
        self.key = nn.Conv2d(channels, max(channels // 8, 1), 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.structure = nn.Conv2d(5, max(channels // 32, 2), 1) if use_structure else None
        # gamma starts at 0 so the block begins as the identity (official initialisation).
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, skeleton: torch.Tensor | None = None) -> torch.Tensor:
        batch, channels, height, width = x.shape  # (B, C, h, w), N = h*w
        query = self.query(x).flatten(2)  # (B, C/8, N)
        key = self.key(x).flatten(2)  # (B, C/8, N)
        value = self.value(x).flatten(2)  # (B, C, N)
        energy = query.transpose(1, 2) @ key  # (B, N, N)
        # Per-sample mean (the official code takes the batch mean; identical at batch 1).
        affinity = torch.sigmoid(energy - energy.mean(dim=(1, 2), keepdim=True))
        if self.structure is not None:
            if skeleton is None:
                raise ValueError("this attention block needs the skeleton maps (use_structure=True)")
            parts = self.structure(part_maps(skeleton, (height, width))).flatten(2)  # (B, C', N)
            structure_energy = parts.transpose(1, 2) @ parts  # (B, N, N)
            structure_energy = structure_energy - structure_energy.mean(dim=(1, 2), keepdim=True)
            affinity = affinity * torch.sigmoid(structure_energy)
        out = (value @ affinity.transpose(1, 2)).view(batch, channels, height, width)  # V·Aᵀ
        return x + self.gamma * out
