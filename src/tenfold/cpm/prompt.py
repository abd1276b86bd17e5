"""Prompt tuning the CPM-2 way: P soft tokens placed front / middle / back of a two-segment input, masks,
verbalizer scoring, two-stage P+F, and prompt-only checkpoints tied to the backbone's hash.

Prompt slots are written into the input as negative ids -(i+1); :class:`PromptEncoder` maps them to row i of
its own table and every other id to the frozen word embeddings (the mechanism of CPM-2-Finetune).
The backbone here is causal, so the answer is read at the last position; the provider / gatherer masks are
intersected with the causal mask (a front prompt never sees text in a causal model anyway).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.corpus import BOS_ID, SEP_ID
from tenfold.cpm.tasks import PairData
from tenfold.cpm.transformer import ByteLM

POSITIONS: dict[str, tuple[float, float, float]] = {
    "F": (1.0, 0.0, 0.0),
    "M": (0.0, 1.0, 0.0),
    "B": (0.0, 0.0, 1.0),
    "F+B": (0.5, 0.0, 0.5),
    "F+M": (0.5, 0.5, 0.0),
    "M+B": (0.0, 0.5, 0.5),
    "F+M+B": (0.33, 0.34, 0.33),
}
TRAIN_MODES = ("prompt", "model", "both")


def ratios_for(positions: str | tuple[float, float, float] | list[float]) -> tuple[float, float, float]:
    """A placement name (F, M, B, F+B, F+M, M+B, F+M+B) or a ratio_list [front, middle, back] summing to 1."""
    if isinstance(positions, str):
        key = positions.upper().replace(" ", "")
        if key not in POSITIONS:
            raise BadConfigError(f"unknown prompt placement {positions!r}; use one of {', '.join(POSITIONS)}")
        return POSITIONS[key]
    ratios = tuple(float(r) for r in positions)
    if len(ratios) != 3:
        raise BadConfigError(f"ratio_list needs 3 numbers [front, middle, back], got {list(ratios)}")
    if any(r < 0 or not math.isfinite(r) for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise BadConfigError(f"ratio_list {list(ratios)} must be non-negative and sum to 1")
    return ratios  # type: ignore[return-value]


def split_prompt(num_prompts: int, positions: str | tuple[float, float, float] | list[float]) -> tuple[int, int, int]:
    """How many of the P prompt tokens go front / middle / back; errors when a requested block rounds to 0."""
    if num_prompts < 1:
        raise BadConfigError(f"num_prompts={num_prompts}; prompt tuning needs at least one prompt token")
    front_r, middle_r, back_r = ratios_for(positions)
    front = int(round(num_prompts * front_r))
    middle = int(round(num_prompts * middle_r))
    back = num_prompts - front - middle
    if back < 0:  # rounding overshoot: take it from the middle
        middle += back
        back = 0
    split = (front, middle, back)
    for name, ratio, count in zip(("front", "middle", "back"), (front_r, middle_r, back_r), split, strict=True):
        if ratio > 0 and count == 0:
            raise BadConfigError(
                f"{num_prompts} prompt tokens split by {[front_r, middle_r, back_r]} gives {split}: the {name} block "
                "is empty; use more prompt tokens or a larger share"
            )
    return split


def layout_pair(first: np.ndarray, second: np.ndarray, split: tuple[int, int, int], max_len: int) -> np.ndarray:
    """[front prompts] s1 [middle prompts | SEP] s2 [back prompts] BOS, prompts as ids -(i+1). first/second [n, w].

    When the sequence is too long the text fields are cut (never the prompts) and a warning says so.
    """
    front, middle, back = split
    n = first.shape[0]
    budget = max_len - sum(split) - (0 if middle else 1) - 1
    if budget < 2:
        raise BadConfigError(f"{sum(split)} prompt tokens leave no room for text within max_len={max_len}")
    w1, w2 = first.shape[1], second.shape[1]
    if w1 + w2 > budget:
        warnings.warn(f"prompt + text exceed max_len={max_len}: text fields cut to {budget} tokens (prompts kept)",
                      stacklevel=2)
        w1 = min(w1, budget // 2)
        w2 = budget - w1
    ids = np.arange(-1, -sum(split) - 1, -1, dtype=np.int64)
    pf, pm, pb = ids[:front], ids[front : front + middle], ids[front + middle :]
    columns = [np.broadcast_to(pf, (n, front)), first[:, :w1],
               np.broadcast_to(pm, (n, middle)) if middle else np.full((n, 1), SEP_ID, dtype=np.int64),
               second[:, :w2], np.broadcast_to(pb, (n, back)), np.full((n, 1), BOS_ID, dtype=np.int64)]
    return np.concatenate(columns, axis=1)


class PromptEncoder(nn.Module):
    """Embeds ids where negatives are prompt slots; builds the provider / gatherer attention block-masks."""

    def __init__(self, word_embedding: nn.Embedding, num_prompts: int, init: str = "vocab", *,
                 init_text: str | None = None, seed: int = 0) -> None:
        super().__init__()
        self.word_embedding = word_embedding
        d = word_embedding.weight.shape[1]
        generator = torch.Generator().manual_seed(seed)
        weight = word_embedding.weight.detach()
        if init == "random":
            table = torch.randn(num_prompts, d, generator=generator) * weight.std()
        elif init == "vocab":  # rows of sampled printable-byte tokens (CPM-2-Finetune's init_ids)
            ids = torch.randint(32, 127, (num_prompts,), generator=generator)
            table = weight[ids].clone()
        elif init == "text":
            if not init_text:
                raise BadConfigError("init='text' needs init_text (the string whose embeddings start the prompt)")
            raw = list(init_text.encode())
            ids = torch.tensor([raw[i % len(raw)] for i in range(num_prompts)])
            table = weight[ids].clone()
        else:
            raise BadConfigError(f"unknown prompt init {init!r}; use random, vocab or text")
        self.prompt = nn.Parameter(table)  # [P, d]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # ids [B, T] (negatives = prompt) -> [B, T, d]
        if int(ids.min()) < -self.prompt.shape[0]:
            raise BadInputError(f"prompt id {int(ids.min())} has no slot; only {self.prompt.shape[0]} prompt tokens exist")
        words = self.word_embedding(ids.clamp(min=0))
        rows, cols = (ids < 0).nonzero(as_tuple=True)
        # write prompt rows only where prompts sit: the backward then touches P*B rows, not all B*T
        return words.index_put((rows, cols), self.prompt[-ids[rows, cols] - 1])


def attention_block(ids: torch.Tensor, prompt2token: bool, token2prompt: bool) -> torch.Tensor | None:
    """[B, T, T] True where query (row) may not attend key (column): prompt->text and/or text->prompt.

    The last position is the answer cue and plays CPM-2's decoder: like the decoder there, it is never masked
    (the masks act inside the "encoder" part only), so prompts still reach the output under text->prompt masking.
    """
    if not (prompt2token or token2prompt):
        return None
    is_prompt = ids < 0
    query, key = is_prompt[:, :, None], is_prompt[:, None, :]
    block = torch.zeros(ids.shape[0], ids.shape[1], ids.shape[1], dtype=torch.bool, device=ids.device)
    if prompt2token:
        block |= query & ~key
    if token2prompt:
        block |= ~query & key
    block[:, -1, :] = False
    return block


def backbone_hash(model: nn.Module) -> str:
    """sha256 over the backbone's named tensors: a prompt only makes sense on the weights it was trained with."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class TrainingCost:
    """Measured cost of a tuning run (the memory / speed side of the prompt-tuning claim)."""

    trainable_params: int
    total_params: int
    optimizer_state_bytes: int
    gradient_bytes: int
    seconds_per_step: float

    @property
    def trainable_fraction(self) -> float:
        return self.trainable_params / max(1, self.total_params)


class PromptTuner:
    """Tunes soft prompts (``train="prompt"``), the model (``"model"``, P may be 0) or both (``"both"``, stage 2
    of P+F) on a two-segment 0/1 task read out by a verbalizer at the last position.

    ``scoring="full"`` is CPM-2's argmax over the whole vocabulary; ``"restricted"`` compares only the
    verbalizer tokens (loss and prediction).
    """

    def __init__(
        self,
        backbone: ByteLM,
        *,
        num_prompts: int = 10,
        positions: str | tuple[float, float, float] | list[float] = "F+M",
        init: str = "vocab",
        init_text: str | None = None,
        train: str = "prompt",
        verbalizer: tuple[str, str] = ("n", "y"),
        multi_token: str = "error",
        scoring: str = "restricted",
        mask_prompt2token: bool = False,
        mask_token2prompt: bool = False,
        steps: int = 300,
        batch_size: int = 32,
        lr: float = 3e-2,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = 1.0,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        if train not in TRAIN_MODES:
            raise BadConfigError(f"unknown train mode {train!r}; use one of {', '.join(TRAIN_MODES)}")
        if scoring not in ("full", "restricted"):
            raise BadConfigError(f"unknown scoring {scoring!r}; use full or restricted")
        if steps < 1 or batch_size < 1 or lr <= 0:
            raise BadConfigError(f"steps={steps}, batch_size={batch_size}, lr={lr}: all must be positive")
        if num_prompts < 0 or (num_prompts == 0 and train != "model"):
            raise BadConfigError(f"num_prompts={num_prompts}; prompt tuning needs at least one prompt token")
        self.split = split_prompt(num_prompts, positions) if num_prompts else (0, 0, 0)
        if (mask_prompt2token or mask_token2prompt) and num_prompts == 0:
            raise BadConfigError("attention masks between prompt and text need prompt tokens")
        self.verbalizer_ids = self._verbalizer_ids(verbalizer, multi_token)
        self.backbone = backbone
        self.num_prompts = num_prompts
        self.positions = positions
        self.init, self.init_text = init, init_text
        self.train = train
        self.verbalizer = verbalizer
        self.scoring = scoring
        self.mask_prompt2token, self.mask_token2prompt = mask_prompt2token, mask_token2prompt
        self.steps, self.batch_size, self.lr = steps, batch_size, lr
        self.weight_decay, self.max_grad_norm, self.seed = weight_decay, max_grad_norm, seed
        self.device = torch.device(device)

    @staticmethod
    def _verbalizer_ids(verbalizer: tuple[str, str], multi_token: str) -> list[int]:
        if len(verbalizer) != 2:
            raise BadConfigError(f"the verbalizer needs one word per class (2), got {list(verbalizer)}")
        ids = []
        for word in verbalizer:
            raw = word.encode()
            if not raw:
                raise BadConfigError("a verbalizer word is empty")
            if len(raw) > 1 and multi_token != "first":
                raise BadConfigError(
                    f"verbalizer word {word!r} is {len(raw)} byte tokens; use a one-byte word or multi_token='first'"
                )
            ids.append(raw[0])
        if ids[0] == ids[1]:
            raise BadConfigError(f"verbalizer words {list(verbalizer)} start with the same token")
        return ids

    # --- model assembly -------------------------------------------------------------------------------------
    def _assemble(self, init_prompt: torch.Tensor | None) -> None:
        torch.manual_seed(self.seed)
        # "model"/"both" change the weights: work on a copy so the caller's backbone stays as it was.
        self.backbone_hash_ = backbone_hash(self.backbone)
        self.model_ = self.backbone if self.train == "prompt" else copy.deepcopy(self.backbone)
        self.model_ = self.model_.to(self.device)
        for parameter in self.model_.parameters():
            parameter.requires_grad_(self.train != "prompt")
        self.encoder_ = PromptEncoder(self.model_.embed, max(self.num_prompts, 1), self.init,
                                      init_text=self.init_text, seed=self.seed).to(self.device)
        if init_prompt is not None:
            if init_prompt.shape != self.encoder_.prompt.shape:
                raise BadInputError(f"initial prompt {tuple(init_prompt.shape)} != {tuple(self.encoder_.prompt.shape)}")
            with torch.no_grad():
                self.encoder_.prompt.copy_(init_prompt.to(self.device))
        self.encoder_.prompt.requires_grad_(self.train != "model")
        trainable = [p for p in self._all_parameters() if p.requires_grad]
        if self.train == "prompt":
            count = sum(p.numel() for p in trainable)
            expected = self.encoder_.prompt.numel()
            # guards against a backbone that was unfrozen by accident (e.g. a shared module)
            if count != expected:
                raise BadConfigError(f"{count} trainable parameters, expected only the prompt's {expected}")
        self.trainable_ = trainable

    def _all_parameters(self) -> list[nn.Parameter]:
        seen: dict[int, nn.Parameter] = {}
        for p in [*self.model_.parameters(), self.encoder_.prompt]:
            seen[id(p)] = p
        return list(seen.values())

    def _logits(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.to(self.device)
        embeds = self.encoder_(ids)
        block = attention_block(ids, self.mask_prompt2token, self.mask_token2prompt)
        logits = self.model_(embeds=embeds, block=block)[:, -1]  # answer position [B, V]
        if self.scoring == "restricted":
            return logits[:, self.verbalizer_ids]
        return logits

    def _targets(self, labels: torch.Tensor) -> torch.Tensor:
        if self.scoring == "restricted":
            return labels.to(self.device)
        return torch.tensor(self.verbalizer_ids)[labels].to(self.device)

    def layout(self, data: PairData) -> torch.Tensor:
        max_len = self.backbone.config.max_len
        return torch.from_numpy(layout_pair(data.first, data.second, self.split, max_len))

    # --- estimator API ----------------------------------------------------------------------------------------
    def _check_data(self, data: PairData) -> None:
        if len(data) < 1:
            raise BadInputError("no training pairs given")
        if not set(np.unique(data.labels).tolist()) <= {0, 1}:
            raise BadInputError("labels must be 0 or 1")

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.trainable_, lr=self.lr, weight_decay=self.weight_decay)

    def _train_step(self, ids: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        """One optimiser step on one minibatch (forward, backward, clipping, update); returns the loss."""
        loss = F.cross_entropy(self._logits(ids).float(), self._targets(labels))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.trainable_, self.max_grad_norm)
        optimizer.step()
        return loss.detach()

    def step_function(self, data: PairData, *, init_prompt: torch.Tensor | None = None):  # noqa: ANN201
        """A callable running one training step of this configuration on the first ``batch_size`` pairs of
        ``data``: the unit that FLOP counts and interleaved step timings compare (it trains a fresh copy)."""
        self._check_data(data)
        self._assemble(init_prompt)
        ids = self.layout(data)[: self.batch_size]
        labels = torch.from_numpy(data.labels)[: self.batch_size]
        optimizer = self._optimizer()
        self.model_.train()
        return lambda: self._train_step(ids, labels, optimizer)

    def fit(self, data: PairData, *, init_prompt: torch.Tensor | None = None,
            eval_data: PairData | None = None, eval_every: int = 0) -> PromptTuner:
        """Train for ``steps`` minibatches (seeded order); optional accuracy curve on ``eval_data``."""
        self._check_data(data)
        self._assemble(init_prompt)
        ids = self.layout(data)
        labels = torch.from_numpy(data.labels)
        optimizer = self._optimizer()
        rng = np.random.default_rng(self.seed)
        self.model_.train()
        self.curve_: list[tuple[int, float]] = []
        self.losses_: list[float] = []
        step_times = []
        for step in range(self.steps):
            rows = torch.from_numpy(rng.integers(0, len(data), size=self.batch_size))
            started = time.perf_counter()
            loss = self._train_step(ids[rows], labels[rows], optimizer)
            step_times.append(time.perf_counter() - started)
            self.losses_.append(float(loss))
            if eval_data is not None and eval_every and (step + 1) % eval_every == 0:
                self.curve_.append((step + 1, self.score(eval_data)))
                self.model_.train()
        state_bytes = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                          if torch.is_tensor(t))
        grad_bytes = sum(p.numel() * p.element_size() for p in self.trainable_)
        total = sum(p.numel() for p in self._all_parameters()) if self.num_prompts else \
            sum(p.numel() for p in self.model_.parameters())
        skip = min(5, len(step_times) - 1)
        self.cost_ = TrainingCost(
            trainable_params=sum(p.numel() for p in self.trainable_) if self.num_prompts or self.train != "prompt"
            else 0,
            total_params=total,
            optimizer_state_bytes=state_bytes,
            gradient_bytes=grad_bytes,
            seconds_per_step=float(np.median(step_times[skip:])),
        )
        if self.train == "model" and self.num_prompts == 0:  # the dummy prompt row is not part of FT
            self.cost_.trainable_params = sum(p.numel() for p in self.model_.parameters())
        self.model_.eval()
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise BadConfigError("this PromptTuner is not fitted yet; call fit() or load() first")

    @torch.no_grad()
    def predict(self, data: PairData, batch_size: int = 256) -> np.ndarray:
        """0/1 predictions; with ``scoring="full"`` a vocabulary argmax off the verbalizer counts as wrong (-1)."""
        self._check_fitted()
        self.model_.eval()
        ids = self.layout(data)
        out = []
        for start in range(0, len(ids), batch_size):
            logits = self._logits(ids[start : start + batch_size])
            best = logits.argmax(-1).cpu()
            if self.scoring == "full":
                mapping = {v: k for k, v in enumerate(self.verbalizer_ids)}
                best = torch.tensor([mapping.get(int(b), -1) for b in best])
            out.append(best.numpy())
        return np.concatenate(out)

    def score(self, data: PairData) -> float:
        """Accuracy on ``data``."""
        return float((self.predict(data) == data.labels).mean())

    # --- prompt checkpoints -------------------------------------------------------------------------------------
    @property
    def prompt(self) -> torch.Tensor:
        self._check_fitted()
        return self.encoder_.prompt.detach().cpu().clone()

    def save(self, path: str | Path) -> None:
        """Store only the prompt and its settings, with the backbone hash it was trained against (atomic write)."""
        from tenfold.core.io import atomic_save_safetensors

        self._check_fitted()
        if self.train != "prompt":
            raise BadConfigError("only prompt-tuned runs save a prompt-only checkpoint; the model itself changed")
        meta = {
            "backbone_sha256": self.backbone_hash_,
            "settings": json.dumps({
                "num_prompts": self.num_prompts, "positions": list(ratios_for(self.positions)),
                "verbalizer": list(self.verbalizer), "scoring": self.scoring,
                "mask_prompt2token": self.mask_prompt2token, "mask_token2prompt": self.mask_token2prompt,
            }),
        }
        atomic_save_safetensors(Path(path), {"prompt": self.prompt.contiguous()}, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, backbone: ByteLM, device: str | torch.device = "cpu", *,
             option: str = "") -> PromptTuner:
        """Rebuild a prompt-tuned predictor; refuses a prompt trained against different backbone weights."""
        from safetensors import SafetensorError, safe_open

        from tenfold.core.io import check_input_file

        path = check_input_file(path, option=option, what="prompt checkpoint (.safetensors)")
        label = f"{option} {path}" if option else str(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                prompt = handle.get_tensor("prompt")
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            reason = " ".join(str(error).split())[:120]
            raise BadInputError(f"{label} is not a readable prompt checkpoint ({reason})") from None
        if "backbone_sha256" not in meta or "settings" not in meta:
            raise BadInputError(f"{label} has no backbone hash; it was not saved by PromptTuner.save")
        if meta["backbone_sha256"] != backbone_hash(backbone):
            raise BadInputError(
                f"{label} was trained against backbone {meta['backbone_sha256'][:12]}, but the given backbone is "
                f"{backbone_hash(backbone)[:12]}; use the model the prompt was tuned on"
            )
        try:
            settings = json.loads(meta["settings"])
            tuner = cls(backbone, num_prompts=int(settings["num_prompts"]), positions=settings["positions"],
                        verbalizer=tuple(settings["verbalizer"]), scoring=settings["scoring"],
                        mask_prompt2token=bool(settings["mask_prompt2token"]),
                        mask_token2prompt=bool(settings["mask_token2prompt"]), device=device)
        except (ValueError, TypeError, KeyError) as error:
            raise BadInputError(f"{label}: its settings are damaged ({error}); tune the prompt again") from None
        if prompt.ndim != 2 or prompt.shape[1] != backbone.config.d_model or not torch.isfinite(prompt).all():
            raise BadInputError(f"{label}: the prompt tensor {tuple(prompt.shape)} is not [P, {backbone.config.d_model}]"
                                " of finite numbers")
        tuner._assemble(prompt)
        tuner.model_.eval()
        return tuner
