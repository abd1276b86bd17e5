"""The paper's baseline: fine-tune the same backbone with a new grounding head (CE over proposals)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpt.examples import GroundingExample
from tenfold.cpt.grounder import (
    FewShotRun,
    GroundingScores,
    _as_batch,
    _few_shot_runs,
    _group_by_size,
    warmup_linear_schedule,
)
from tenfold.cpt.marking import as_rgb_image, check_boxes
from tenfold.cpt.prompt import build_prompt


class GroundingHead(nn.Module):
    """Linear-GELU-LayerNorm-Linear over region states: [B, R, d] -> one logit per region [B, R]."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden), nn.Linear(hidden, 1))

    def forward(self, region_states: torch.Tensor) -> torch.Tensor:
        return self.layers(region_states).squeeze(-1)


class FineTuneGrounder:
    """Query + unmarked regions -> backbone -> new head; cross-entropy over the proposals.

    The body is tuned with ``body_lr`` and the fresh head with ``head_lr`` (AdamW, betas .9/.98,
    wd .01, 10% warmup then linear decay), on exactly the shots CPT sees.
    """

    def __init__(self, backbone: Any, *, body_lr: float = 1e-4, head_lr: float = 1e-3, device: str = "cpu") -> None:
        if body_lr < 0 or head_lr <= 0:
            raise BadConfigError("learning rates must be positive")
        self.backbone = backbone
        self.tokenizer = backbone.tokenizer
        self.body_lr = body_lr
        self.head_lr = head_lr
        self.device = device
        self.head: GroundingHead | None = None

    def _inputs(self, example_image: np.ndarray, proposals: Any, query: str, tags: list[str] | None):
        picture = as_rgb_image(example_image)
        boxes = check_boxes(proposals, picture.shape[0], picture.shape[1])
        prompt = build_prompt(self.tokenizer, query, None, self.backbone.max_text_length, tags)
        return picture, boxes, prompt

    def _logits(self, model: Any, head: GroundingHead, items: list[tuple[np.ndarray, np.ndarray, Any]]) -> list[torch.Tensor]:
        outputs: list[torch.Tensor | None] = [None] * len(items)
        for group in _group_by_size(range(len(items)), [i[0] for i in items]):
            batch = _as_batch([items[i][0] for i in group], [items[i][1] for i in group], [items[i][2] for i in group],
                              self.tokenizer.pad_token_id, self.device)
            _, region_states = model.encode(**batch)
            logits = head(region_states).masked_fill(~batch["region_mask"], float("-inf"))
            for row, index in enumerate(group):
                outputs[index] = logits[row, : len(items[index][1])].cpu()
        return outputs  # type: ignore[return-value]

    def fit(self, examples: Sequence[GroundingExample], *, steps: int = 100, seed: int = 0) -> FineTuneGrounder:
        """Train a copy of the backbone and a new head on the shots; returns a new fitted grounder."""
        if steps < 1:
            raise BadConfigError("fine-tuning steps must be >= 1")
        items, targets = [], []
        for example in examples:
            positive = example.positive_index()
            if positive is None:
                continue
            items.append(self._inputs(example.image, example.proposals, example.query, example.tags))
            targets.append(positive)
        if not items:
            raise BadInputError("fine-tuning: no example has a proposal at IoU > 0.5 with its ground truth")
        torch.manual_seed(seed)
        model = copy.deepcopy(self.backbone)
        head = GroundingHead(self.backbone.hidden_size).to(self.device)
        model.train()
        optimizer = torch.optim.AdamW(
            [{"params": model.parameters(), "lr": self.body_lr}, {"params": head.parameters(), "lr": self.head_lr}],
            betas=(0.9, 0.98),
            weight_decay=0.01,
        )
        schedule = warmup_linear_schedule(optimizer, steps)
        for _ in range(steps):
            logits = self._logits(model, head, items)
            loss = torch.stack([F.cross_entropy(row[None], torch.tensor([t])) for row, t in zip(logits, targets, strict=True)]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        fitted = copy.copy(self)
        fitted.backbone = model
        fitted.head = head.eval()
        return fitted

    def score(self, image: np.ndarray, proposals: Any, query: str, *, tags: list[str] | None = None) -> GroundingScores:
        if self.head is None:
            raise BadConfigError("FineTuneGrounder is not fitted; call fit(examples) first")
        item = self._inputs(image, proposals, query, tags)
        with torch.no_grad():
            logits = self._logits(self.backbone, self.head, [item])[0].double()
        scores = logits.numpy()
        return GroundingScores(scores, torch.softmax(logits, 0).numpy(), int(np.argmax(scores)), "", "finetune", 1)

    def predict_many(self, examples: Sequence[GroundingExample]) -> list[int]:
        """Chosen proposal per example, all examples in one batched forward pass per image size."""
        if self.head is None:
            raise BadConfigError("FineTuneGrounder is not fitted; call fit(examples) first")
        items = [self._inputs(e.image, e.proposals, e.query, e.tags) for e in examples]
        choices = []
        with torch.no_grad():
            for start in range(0, len(items), 128):
                choices += [int(torch.argmax(row)) for row in self._logits(self.backbone, self.head, items[start : start + 128])]
        return choices

    def predict(self, image: np.ndarray, proposals: Any, query: str, *, tags: list[str] | None = None) -> int:
        return self.score(image, proposals, query, tags=tags).best

    def fit_few_shot(self, examples: Sequence[GroundingExample], k: int, seeds: Sequence[int] | int, **fit_options: Any) -> list[FewShotRun]:
        """Fit once per seed on the same K-shot draws CPT uses."""
        return _few_shot_runs(self, examples, k, seeds, fit_options)
