"""TinyVL: an Oscar-like single-stream vision-language transformer with a tied MLM head (spec 5.3).

Inputs are text tokens (query/caption, then optional object tags) and region tokens (a small CNN
over each box crop plus its 6-d geometry). Region features are recomputed from the pixels of
every coloured copy, as VinVL re-runs its detector on the coloured image. ~156k parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tenfold.cpt.vocabulary import Vocabulary

TEXT_TYPE, TAG_TYPE, REGION_TYPE = 0, 1, 2


@dataclass(frozen=True)
class TinyVLConfig:
    """Sizes of the tiny backbone (defaults: d=64, 3 pre-LN layers, 4 heads, FFN 128)."""

    vocab_size: int
    hidden: int = 64
    layers: int = 3
    heads: int = 4
    ffn: int = 128
    max_text_length: int = 32
    crop: int = 16

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def crop_regions(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear crops of boxes resized to ``size``: images [B, H, W, 3], boxes [B, R, 4] xyxy -> [B, R, 3, s, s].

    Written with ``affine_grid``/``grid_sample`` because torchvision's ``roi_align`` cannot be
    imported beside this project's local torch wheel. All R grids of an image are stacked into
    one tall grid, so each image is sampled once instead of being copied R times.
    """
    batch, height, width, _ = images.shape
    regions = boxes.shape[1]
    x1, y1, x2, y2 = boxes.unbind(dim=-1)  # each [B, R]
    steps = (torch.arange(size, dtype=images.dtype, device=images.device) + 0.5) / size  # [s] in (0, 1)
    xs = (x1[..., None] + (x2 - x1)[..., None] * steps) / width * 2.0 - 1.0  # [B, R, s]
    ys = (y1[..., None] + (y2 - y1)[..., None] * steps) / height * 2.0 - 1.0
    grid = torch.stack(torch.broadcast_tensors(xs[:, :, None, :], ys[:, :, :, None]), dim=-1)  # [B, R, s, s, 2]
    grid = grid.reshape(batch, regions * size, size, 2)
    crops = F.grid_sample(images.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return crops.reshape(batch, 3, regions, size, size).permute(0, 2, 1, 3, 4)  # [B, R, 3, s, s]


def box_geometry(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """VinVL's 6-d box feature (x1, y1, x2, y2, w, h), normalised by the image size: [B, R, 4] -> [B, R, 6]."""
    scale = boxes.new_tensor([width, height, width, height])
    normal = boxes / scale
    return torch.cat([normal, normal[..., 2:3] - normal[..., 0:1], normal[..., 3:4] - normal[..., 1:2]], dim=-1)


class RegionEncoder(nn.Module):
    """conv3x3(3->16) - conv3x3/2(16->32) - conv3x3/2(32->32) - Linear -> d, plus Linear(geometry)."""

    def __init__(self, hidden: int, crop: int) -> None:
        super().__init__()
        self.crop = crop
        self.convolutions = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.GELU(),
        )
        self.appearance = nn.Linear(32 * (crop // 4) ** 2, hidden)
        self.geometry = nn.Linear(6, hidden)

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, region_mask: torch.Tensor) -> torch.Tensor:
        """images [B, H, W, 3] in [0, 1], boxes [B, R, 4] xyxy pixels -> region features [B, R, d].

        Only real regions (region_mask True) go through the CNN; padding slots stay zero.
        """
        batch, height, width, _ = images.shape
        regions = boxes.shape[1]
        crops = crop_regions(images, boxes, self.crop)[region_mask]  # [N_real, 3, s, s]
        features = self.convolutions((crops - 0.5) * 2.0)
        appearance = torch.zeros(batch, regions, self.appearance.out_features, dtype=images.dtype, device=images.device)
        appearance[region_mask] = self.appearance(features.flatten(1))
        return appearance + self.geometry(box_geometry(boxes, height, width))


class TinyVL(nn.Module):
    """Single-stream transformer over [text tokens; region tokens] with a BERT-style tied MLM head."""

    def __init__(self, config: TinyVLConfig, tokenizer: Vocabulary | None = None) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer if tokenizer is not None else Vocabulary()
        d = config.hidden
        self.word_embeddings = nn.Embedding(config.vocab_size, d)
        self.position_embeddings = nn.Embedding(config.max_text_length, d)
        self.type_embeddings = nn.Embedding(3, d)
        self.text_norm = nn.LayerNorm(d)
        self.regions = RegionEncoder(d, config.crop)
        self.region_norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(
            d, config.heads, config.ffn, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(d)
        # MLM head: transform (Linear-GELU-LayerNorm), then the tied word-embedding decoder plus a bias.
        self.head_transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.decoder_bias = nn.Parameter(torch.zeros(config.vocab_size))
        for embedding in (self.word_embeddings, self.position_embeddings, self.type_embeddings):
            nn.init.normal_(embedding.weight, std=0.02)

    @property
    def hidden_size(self) -> int:
        return self.config.hidden

    @property
    def max_text_length(self) -> int:
        return self.config.max_text_length

    def encode(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor,
        region_mask: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Contextual states: text [B, T, d] and regions [B, R, d].

        images [B, H, W, 3]; boxes [B, R, 4] xyxy; region_mask / attention_mask True where real.
        """
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device)
        text = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None] + self.type_embeddings(token_type_ids)
        regions = self.regions(images, boxes, region_mask.bool()) + self.type_embeddings.weight[REGION_TYPE]
        tokens = torch.cat([self.text_norm(text), self.region_norm(regions)], dim=1)  # [B, T+R, d]
        padding = ~torch.cat([attention_mask.bool(), region_mask.bool()], dim=1)
        states = self.final_norm(self.encoder(tokens, src_key_padding_mask=padding))
        return states[:, :length], states[:, length:]

    def mlm_logits(self, text_states: torch.Tensor) -> torch.Tensor:
        """MLM head over any [..., d] states -> [..., V] vocabulary logits."""
        return F.linear(self.head_transform(text_states), self.word_embeddings.weight, self.decoder_bias)
