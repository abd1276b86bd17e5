"""Adapter: a Hugging Face masked-LM vision-language model (ViLT's ``ViltForMaskedLM``) as a CPT backbone.

ViLT reads image patches, not detector regions, so proposals matter only through the colour
marks on the pixels; region states (for the fine-tuning baseline) are the mean of the patch
states whose centres fall inside each box. Weights are loaded from a local folder only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tenfold.core.errors import MissingDataError


class HuggingFaceVLBackbone(nn.Module):
    """Wrap ``ViltForMaskedLM`` (or any model with ``.vilt`` and ``.mlm_score``) and its BERT tokenizer."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        image_size: int | None = None,
        mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        max_text_length: int = 40,
    ) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        config = model.config
        size = image_size or config.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        patch = config.patch_size
        self.patch_size = int(patch if isinstance(patch, int) else patch[0])
        self.max_text_length = min(max_text_length, config.max_position_embeddings)
        self.hidden_size = config.hidden_size
        self.type_vocab_size = config.type_vocab_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_pretrained(cls, path: str | Path, **options: Any) -> HuggingFaceVLBackbone:
        """Load ``ViltForMaskedLM`` and its tokenizer from a local folder (never downloads)."""
        from transformers import AutoTokenizer, ViltForMaskedLM

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise MissingDataError(f"{folder} holds no Hugging Face model (config.json is missing)")
        model = ViltForMaskedLM.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        return cls(model.eval(), tokenizer, **options)

    def encode(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor,
        region_mask: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text states [B, T, d] and box-pooled patch states [B, R, d]; images [B, H, W, 3] in [0, 1]."""
        batch, height, width, _ = images.shape
        size = self.image_size
        pixels = F.interpolate(images.permute(0, 3, 1, 2), size=(size, size), mode="bilinear", align_corners=False)
        pixels = (pixels - self.mean) / self.std
        outputs = self.model.vilt(
            input_ids=input_ids,
            attention_mask=attention_mask.long(),
            token_type_ids=token_type_ids.clamp(max=self.type_vocab_size - 1),
            pixel_values=pixels,
            pixel_mask=torch.ones(batch, size, size, dtype=torch.long, device=images.device),
        )
        states = outputs.last_hidden_state
        length = input_ids.shape[1]
        patches = states[:, length + 1 :]  # skip the image [CLS]; raster-ordered patches [B, P, d]
        grid = size // self.patch_size
        centres = (torch.arange(grid, dtype=images.dtype, device=images.device) + 0.5) / grid
        cy, cx = torch.meshgrid(centres * height, centres * width, indexing="ij")
        cx, cy = cx.reshape(-1), cy.reshape(-1)  # [P]
        x1, y1, x2, y2 = (boxes[..., i : i + 1] for i in range(4))  # [B, R, 1]
        inside = (cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2)  # [B, R, P]
        distance = (cx - (x1 + x2) / 2) ** 2 + (cy - (y1 + y2) / 2) ** 2
        nearest = F.one_hot(distance.argmin(dim=-1), cx.numel()).bool()  # boxes smaller than a patch
        weights = torch.where(inside.any(dim=-1, keepdim=True), inside, nearest).to(states.dtype)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        return states[:, :length], weights @ patches[:, : cx.numel()]

    def mlm_logits(self, text_states: torch.Tensor) -> torch.Tensor:
        return self.model.mlm_score(text_states)
