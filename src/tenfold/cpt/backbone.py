"""The interface CPT needs from a vision-language backbone, and loading the cached tiny one.

Any object with a Hugging Face-like ``tokenizer``, ``max_text_length``, ``hidden_size``,
``encode(images, boxes, region_mask, input_ids, attention_mask, token_type_ids) -> (text_states,
region_states)`` and ``mlm_logits(states)`` works: TinyVL here, or a Hugging Face masked-LM VL
model through :class:`tenfold.cpt.hf.HuggingFaceVLBackbone`.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class MaskedVLBackbone(Protocol):
    tokenizer: Any
    max_text_length: int
    hidden_size: int

    def encode(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor,
        region_mask: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def mlm_logits(self, text_states: torch.Tensor) -> torch.Tensor: ...
