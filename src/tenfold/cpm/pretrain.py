"""Causal byte-LM pre-training, with or without knowledge inheritance, and the curves KI is judged on.

A hand-written loop (not core.train.fit) because the KI weight depends on the optimiser step and the
validation curve is sampled every few steps on fixed held-out batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.cpm.corpus import LMBatches
from tenfold.cpm.ki import KnowledgeInheritance
from tenfold.cpm.transformer import ByteLM, lm_loss


@dataclass
class PretrainHistory:
    """Validation loss at sampled steps, training losses and wall time (KI adds a teacher forward per step)."""

    eval_steps: list[int] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # CPU time of the training steps: what the teacher forward costs, barely moved by other jobs on the machine
    cpu_seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.val_losses[-1]


def causal_forward(model: torch.nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token prediction: logits for tokens 0..T-1, targets 1..T (every position is supervised)."""
    return model(batch[:, :-1]), batch[:, 1:]


@torch.no_grad()
def validation_loss(model: ByteLM, batches: list[np.ndarray]) -> float:
    """Mean next-token cross-entropy (nats) on fixed held-out batches."""
    was_training = model.training
    model.eval()
    device = model.pos.device
    losses = [float(lm_loss(*causal_forward(model, torch.from_numpy(b).to(device)))) for b in batches]
    model.train(was_training)
    return float(np.mean(losses))


def pretrain(
    model: ByteLM,
    stream: np.ndarray,
    *,
    steps: int,
    seq_len: int = 64,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    inheritance: KnowledgeInheritance | None = None,
    val_batches: list[np.ndarray] | None = None,
    eval_every: int = 25,
    on_step: Callable[[int], None] | None = None,
    device: str | torch.device = "cpu",
) -> PretrainHistory:
    """AdamW on random windows of ``stream`` (order fixed by ``seed``), optionally with a KI teacher.

    ``device`` moves the model (and the teacher) there in place; ``accelerate launch`` users wrap this loop.
    """
    if steps < 1:
        raise BadConfigError(f"steps={steps}; train for at least one step")
    if seq_len + 1 > model.config.max_len + 1 or seq_len < 1:
        raise BadConfigError(f"seq_len={seq_len} must lie in [1, max_len={model.config.max_len}]")
    if inheritance is not None:
        inheritance.check_sizes(model)
        inheritance.teacher.to(device)
    model.to(device)
    torch.manual_seed(seed)
    batches = LMBatches(stream, seq_len, batch_size, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    history = PretrainHistory()
    model.train()
    started = time.perf_counter()
    cpu_started = time.process_time()
    eval_time = eval_cpu = 0.0
    for step in range(steps):
        batch = torch.from_numpy(batches.next()).to(device)
        if inheritance is None:
            loss = lm_loss(*causal_forward(model, batch))
        else:
            loss, _ = inheritance.loss(model, batch, step, causal_forward)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.train_losses.append(float(loss.detach()))
        if val_batches is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            eval_started, eval_cpu_started = time.perf_counter(), time.process_time()
            history.eval_steps.append(step + 1)
            history.val_losses.append(validation_loss(model, val_batches))
            eval_time += time.perf_counter() - eval_started
            eval_cpu += time.process_time() - eval_cpu_started
        if on_step is not None:
            on_step(step)
    history.seconds = time.perf_counter() - started - eval_time  # training time only
    history.cpu_seconds = time.process_time() - cpu_started - eval_cpu
    return history


def steps_to_reach(history: PretrainHistory, target: float, *, interpolate: bool = False) -> float:
    """First sampled step whose validation loss is <= target (inf if never).

    With ``interpolate``, the crossing is placed by linear interpolation between that sample and the one
    before it, so the answer is not rounded up to the evaluation grid.
    """
    previous: tuple[int, float] | None = None
    for step, loss in zip(history.eval_steps, history.val_losses, strict=True):
        if loss <= target:
            if interpolate and previous is not None and previous[1] > loss:
                before_step, before_loss = previous
                return float(before_step + (step - before_step) * (before_loss - target) / (before_loss - loss))
            return float(step)
        previous = (step, loss)
    return float("inf")
