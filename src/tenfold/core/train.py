"""One small supervised fit loop on Hugging Face Accelerate: progress bar, periodic checkpoints, resume.

The same call runs on one CPU, one GPU, or several GPUs under ``accelerate launch``. Checkpoints
hold the model weights as safetensors (``model.safetensors`` inside Accelerate's state folder),
the optimizer state and the RNG states, plus ``trainer_state.json`` (epoch, step, losses). The
data order of each epoch is a permutation seeded by ``(seed, epoch)``, so a run resumed from a
checkpoint visits the same batches as an uninterrupted one and ends with the same weights.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.core.io import atomic_write_text

LossFunction = Callable[[torch.nn.Module, Sequence[torch.Tensor]], torch.Tensor]


@dataclass
class FitConfig:
    """How to train: the optimiser, the schedule of checkpoints, and the seed that fixes data order."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam", "adamw" or "sgd"
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    seed: int = 0
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = 0  # optimiser steps between checkpoints; 0 = at the end of each epoch
    keep_checkpoints: int = 2
    resume: bool = False
    progress: bool = True
    max_grad_norm: float | None = None
    drop_last: bool = False

    def validate(self) -> None:
        if self.epochs < 1:
            raise BadConfigError(f"FitConfig.epochs={self.epochs}; train for at least one epoch")
        if self.batch_size < 1:
            raise BadConfigError(f"FitConfig.batch_size={self.batch_size}; use a positive batch size")
        if not (self.lr > 0 and self.lr < 10):
            raise BadConfigError(f"FitConfig.lr={self.lr} is not a sensible learning rate (0 < lr < 10)")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise BadConfigError(f"FitConfig.optimizer={self.optimizer!r}; use 'adam', 'adamw' or 'sgd'")
        if self.checkpoint_every < 0:
            raise BadConfigError("FitConfig.checkpoint_every must be 0 (each epoch) or a positive step count")
        if self.resume and self.checkpoint_dir is None:
            raise BadConfigError("FitConfig.resume needs checkpoint_dir: the folder to resume from")


@dataclass
class FitHistory:
    """What happened: mean loss per finished epoch, optimiser steps taken, where training resumed from."""

    epoch_losses: list[float] = field(default_factory=list)
    global_step: int = 0
    resumed_from_step: int | None = None


class EpochPermutation(Sampler[int]):
    """Indices in a permutation fixed by ``(seed, epoch)``, optionally skipping the first ``skip`` of them."""

    def __init__(self, length: int, seed: int) -> None:
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator).tolist()
        return iter(order[self.skip :])

    def __len__(self) -> int:
        return self.length - self.skip


def _as_dataset(data: Dataset | Sequence[torch.Tensor]) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and data and all(isinstance(t, torch.Tensor) for t in data):
        lengths = {len(t) for t in data}
        if len(lengths) != 1:
            raise BadInputError(f"fit: tensors have different lengths {sorted(lengths)}; they must match")
        return TensorDataset(*data)
    raise BadInputError("fit: data must be a torch Dataset or a tuple of tensors of equal length")


def _make_optimizer(model: torch.nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise BadInputError("fit: the model has no trainable parameters")
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest ``step_*`` checkpoint folder under ``directory`` that has a trainer_state.json."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    complete = [p for p in directory.glob("step_*") if (p / "trainer_state.json").is_file()]
    return max(complete, key=lambda p: int(p.name.split("_")[1]), default=None)


def fit(
    model: torch.nn.Module,
    data: Dataset | Sequence[torch.Tensor],
    loss_fn: LossFunction,
    config: FitConfig | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
) -> FitHistory:
    """Train ``model`` in place on ``data`` minimising ``loss_fn(model, batch)``; returns the history.

    With ``config.checkpoint_dir`` set, a checkpoint is written every ``checkpoint_every`` steps
    (or each epoch); with ``config.resume`` the newest one is loaded and training continues
    from its exact step.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    config = config or FitConfig()
    config.validate()
    dataset = _as_dataset(data)
    if len(dataset) == 0:
        raise BadInputError("fit: the training data is empty")

    set_seed(config.seed)
    accelerator = Accelerator()
    optimizer = optimizer or _make_optimizer(model, config)
    sampler = EpochPermutation(len(dataset), config.seed)
    # A private generator: otherwise each new DataLoader iterator draws its base seed from the
    # global RNG, which shifts dropout noise and breaks exact resume.
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        drop_last=config.drop_last,
        generator=torch.Generator().manual_seed(config.seed),
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    # The loader stays unprepared on one process so our sampler (and its skip) is used as is;
    # under several processes Accelerate shards it.
    if accelerator.num_processes > 1:
        loader = accelerator.prepare(loader)

    history = FitHistory()
    start_epoch, skip_batches = 0, 0
    checkpoint_root = Path(config.checkpoint_dir) if config.checkpoint_dir is not None else None
    steps_per_epoch = len(loader) if accelerator.num_processes > 1 else -(-len(dataset) // config.batch_size)
    if config.drop_last and accelerator.num_processes == 1:
        steps_per_epoch = len(dataset) // config.batch_size

    if config.resume:
        assert checkpoint_root is not None
        checkpoint = latest_checkpoint(checkpoint_root)
        if checkpoint is None:
            raise MissingDataError(f"fit: no checkpoint under {checkpoint_root}; run once without resume first")
        accelerator.load_state(str(checkpoint))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        history.epoch_losses = list(state["epoch_losses"])
        history.global_step = int(state["global_step"])
        history.resumed_from_step = history.global_step
        start_epoch = history.global_step // steps_per_epoch
        skip_batches = history.global_step % steps_per_epoch
        running = list(state.get("running_losses", []))
    else:
        running = []

    def save(epoch_done_losses: list[float], running_losses: list[float]) -> None:
        assert checkpoint_root is not None
        target = checkpoint_root / f"step_{history.global_step}"
        staging = checkpoint_root / f".staging_step_{history.global_step}"
        shutil.rmtree(staging, ignore_errors=True)
        accelerator.save_state(str(staging), safe_serialization=True)
        if accelerator.is_main_process:
            atomic_write_text(
                staging / "trainer_state.json",
                json.dumps(
                    {
                        "global_step": history.global_step,
                        "epoch_losses": epoch_done_losses,
                        "running_losses": running_losses,
                        "config": {k: str(v) for k, v in vars(config).items()},
                    }
                ),
            )
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
            old = sorted(
                (p for p in checkpoint_root.glob("step_*") if p != target), key=lambda p: int(p.name.split("_")[1])
            )
            for stale in old[: max(0, len(old) - config.keep_checkpoints + 1)]:
                shutil.rmtree(stale, ignore_errors=True)

    total_steps = config.epochs * steps_per_epoch
    progress = None
    if config.progress and accelerator.is_local_main_process:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("[bold]fit[/bold] {task.fields[loss]}"), BarColumn(), TimeRemainingColumn(), transient=True
        )
        task = progress.add_task("fit", total=total_steps, completed=history.global_step, loss="")
        progress.start()
    try:
        model.train()
        for epoch in range(start_epoch, config.epochs):
            if accelerator.num_processes == 1:
                sampler.set_epoch(epoch, skip=skip_batches * config.batch_size)
            else:
                sampler.set_epoch(epoch)
            skip_batches = 0
            for batch in loader:
                batch = [t.to(accelerator.device) if isinstance(t, torch.Tensor) else t for t in batch]
                loss = loss_fn(model, batch)
                if not torch.isfinite(loss):
                    raise BadInputError(
                        f"fit: the loss became {loss.item()} at step {history.global_step}; "
                        "lower the learning rate or check the inputs for NaN"
                    )
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                if config.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                history.global_step += 1
                running.append(float(loss.detach()))
                if progress is not None:
                    progress.update(task, advance=1, loss=f"loss {running[-1]:.4f}")
                step_in_epoch = history.global_step - epoch * steps_per_epoch
                end_of_epoch = step_in_epoch == steps_per_epoch
                if end_of_epoch:
                    history.epoch_losses.append(sum(running) / len(running))
                    running = []
                if checkpoint_root is not None and (
                    (config.checkpoint_every and history.global_step % config.checkpoint_every == 0)
                    or (not config.checkpoint_every and end_of_epoch)
                ):
                    save(list(history.epoch_losses), list(running))
    finally:
        if progress is not None:
            progress.stop()
    accelerator.wait_for_everyone()
    return history


def classification_loss(model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of ``model(x)`` against integer labels ``y`` for a batch ``(x, y)``."""
    inputs, labels = batch[0], batch[1]
    return torch.nn.functional.cross_entropy(model(inputs), labels)


def accuracy(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on a labelled set, in eval mode and without gradients."""
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            logits = model(inputs[start : start + batch_size])
            correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / max(1, len(inputs))


def resume_point(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The trainer state of the newest checkpoint, or None."""
    checkpoint = latest_checkpoint(checkpoint_dir)
    return None if checkpoint is None else json.loads((checkpoint / "trainer_state.json").read_text())
