"""The FBBR flow generator (spec 1.2): a plain conv encoder, SASA at 1/16, a decoder to 1/4, tanh, ×4 up.

``width`` scales the channels [w, 2w, 4w, 8w, 16w]; ``width=64`` at 256² is the paper's 67 M-parameter
net. Variants: ``structure_priors=False`` (w/o SP: RGB input, no structure affinity) and
``affinity=False`` (w/o AFF: skeleton in the input but attention uses visual affinity only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tenfold.bodyreshape.attention import StructureAffinityAttention

SKELETON_CHANNELS = 13


@dataclass(frozen=True)
class GeneratorConfig:
    """What fixes the network's shape; stored in every checkpoint so a mismatch can be named."""

    width: int = 64
    structure_priors: bool = True
    affinity: bool = True
    coef: float = 0.2
    input_size: int = 256  # the square side the network is run at (the ROI is resized to it)

    @property
    def in_channels(self) -> int:
        return 3 + SKELETON_CHANNELS if self.structure_priors else 3

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int) -> nn.Sequential:
    """ReflectionPad(1) → Conv3×3 (no padding) → BatchNorm → ReLU, the official building block."""
    return nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class FlowGenerator(nn.Module):
    """(B, 3 [+13], S, S) → normalised flow f in [-1, 1]^(B, 2, S, S); pixels = f · coef · S.

    S must be a multiple of 16 and at least 32. The flow is really predicted at S/4 and
    bilinearly upsampled ×4, as in the official net.
    """

    def __init__(self, config: GeneratorConfig | None = None, **kwargs) -> None:
        super().__init__()
        self.config = config or GeneratorConfig(**kwargs)
        w = self.config.width
        if w < 2 or w % 2:
            raise ValueError(f"width must be an even integer >= 2, got {w}")
        c = [w, 2 * w, 4 * w, 8 * w, 16 * w]
        pool = nn.MaxPool2d(2)
        self.encoder = nn.Sequential(
            _conv(self.config.in_channels, c[0]), _conv(c[0], c[0]), pool,
            _conv(c[0], c[1]), _conv(c[1], c[1]), pool,
            _conv(c[1], c[2]), _conv(c[2], c[2]), pool,
            _conv(c[2], c[3]), _conv(c[3], c[3]), pool,
            _conv(c[3], c[4]), *[_conv(c[4], c[4]) for _ in range(4)],
        )  # (B, 16w, S/16, S/16)
        use_structure = self.config.structure_priors and self.config.affinity
        self.attention = StructureAffinityAttention(c[4], use_structure=use_structure)
        self.decoder_bottom = _conv(c[4], c[4])
        self.decoder_mid = nn.Sequential(_conv(c[4], c[3]), _conv(c[3], c[3]))
        self.decoder_top = nn.Sequential(
            _conv(c[3], c[2]), _conv(c[2], c[2]), _conv(c[2], c[1]), _conv(c[1], c[0]), _conv(c[0], w // 2),
            nn.Conv2d(w // 2, 2, 1),
        )
        # Start from the zero flow (the identity warp): a tanh of random features would begin with
        # ±20 % displacements that the loss must first undo. (Deviation: the official init is PyTorch's.)
        nn.init.zeros_(self.decoder_top[-1].weight)
        nn.init.zeros_(self.decoder_top[-1].bias)

    def forward(self, image: torch.Tensor, skeleton: torch.Tensor | None = None) -> torch.Tensor:
        size = image.shape[-1]
        if image.shape[-2] % 16 or size % 16 or size < 32:
            raise ValueError(f"input side must be a multiple of 16 and >= 32, got {tuple(image.shape[-2:])}")
        if self.config.structure_priors:
            if skeleton is None:
                raise ValueError("this generator was built with structure priors; pass the 13 skeleton maps")
            x = torch.cat([image, skeleton], dim=1)  # (B, 16, S, S)
        else:
            x = image  # (B, 3, S, S)
        features = self.encoder(x)  # (B, 16w, S/16, S/16)
        features = self.attention(features, skeleton if self.config.structure_priors else None)
        y = self.decoder_bottom(features)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)  # S/8
        y = self.decoder_mid(y)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)  # S/4
        flow = torch.tanh(self.decoder_top(y))  # (B, 2, S/4, S/4)
        return F.interpolate(flow, scale_factor=4, mode="bilinear", align_corners=True)  # (B, 2, S, S)
