"""Neural Cleanse (Wang et al., IEEE S&P 2019) with the authors' optimisation schedule.

For every class ``t`` it reverse-engineers the smallest mask ``m`` and pattern ``p`` that send clean
images to ``t``: minimise ``CE(f((1 - m) x + m p), t) + cost * |m|_1`` with Adam (lr 0.1, betas 0.5/0.9)
in tanh space from a random start. The cost is not fixed: it starts at 0, is set to ``init_cost``
once the reversed trigger reaches ``attack_success`` for ``patience`` epochs, is multiplied by
``cost_multiplier`` after every ``patience`` successful epochs and divided by ``cost_multiplier**1.5``
after every ``patience`` failing ones; a class stops once its cost went both up and down and the
best successful mask norm has not improved for ``early_stop_patience`` epochs (or at ``max_epochs``).
An epoch is ``samples_per_epoch // batch_size`` mini-batches. The defaults are the authors' released
settings (``gtsrb_visualize_example.py``: batch 32, 1,000 samples per epoch, up to 1,000 epochs).
The L1 norms of the best masks are scored with the MAD anomaly index; > 2 flags a backdoor.

All classes are optimised in one batched forward pass (each class keeps its own parameters, cost
and counters; Adam is element-wise, so this equals one optimiser per class), and a class leaves
the batch as soon as it stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.validation import check_number
from tenfold.ftrojan.training import model_device, to_tensor

_TANH_EPSILON = 1e-7  # Keras' K.epsilon(): keeps arctanh finite at mask values 0 and 1


@dataclass(frozen=True)
class NeuralCleanseConfig:
    """The optimisation budget and schedule; the defaults are the authors' released settings."""

    batch_size: int = 32  # clean images per class per step
    samples_per_epoch: int = 1000  # NB_SAMPLE: an epoch is samples_per_epoch // batch_size steps
    max_epochs: int = 1000  # STEPS: the cap if the early-stop rule never fires
    lr: float = 0.1
    init_cost: float = 1e-3
    attack_success: float = 0.99  # a reversed trigger counts once this share of stamped images hits the class
    patience: int = 5  # epochs before the cost moves up or down
    cost_multiplier: float = 2.0  # up by this, down by this ** 1.5
    early_stop_patience: int = 25  # epochs without a smaller successful mask (5 x patience)
    early_stop_threshold: float = 1.0  # "smaller" means below threshold x the best so far

    def __post_init__(self) -> None:
        check_number("Neural Cleanse batch size", self.batch_size, low=1, integer=True)
        check_number("Neural Cleanse samples per epoch", self.samples_per_epoch, low=self.batch_size, integer=True)
        check_number("Neural Cleanse epochs", self.max_epochs, low=1, integer=True)
        check_number("Neural Cleanse learning rate", self.lr, low=0, low_open=True)
        check_number("Neural Cleanse initial cost", self.init_cost, low=0, low_open=True)
        check_number("Neural Cleanse attack-success threshold", self.attack_success, low=0, high=1, low_open=True)
        check_number("Neural Cleanse patience", self.patience, low=1, integer=True)
        check_number("Neural Cleanse cost multiplier", self.cost_multiplier, low=1, low_open=True)
        check_number("Neural Cleanse early-stop patience", self.early_stop_patience, low=1, integer=True)
        check_number("Neural Cleanse early-stop threshold", self.early_stop_threshold, low=0, low_open=True)

    @property
    def steps_per_epoch(self) -> int:
        return self.samples_per_epoch // self.batch_size


@dataclass(frozen=True)
class NeuralCleanseReport:
    """L1 norms of each class's smallest successful reversed mask, the MAD anomaly index, and how each
    class's optimisation ended (``converged``: by the early-stop rule rather than the epoch cap)."""

    mask_norms: np.ndarray  # (classes,)
    anomaly_index: float  # of the smallest norm; > 2 flags a backdoor
    flagged_class: int
    epochs: np.ndarray  # (classes,) epochs run
    converged: np.ndarray  # (classes,) bool
    reached_success: np.ndarray  # (classes,) bool: a mask reached attack_success at some epoch

    def class_index(self, label: int) -> float:
        """Anomaly index of one class's norm, ``(median - norm) / (1.4826 MAD)`` (negative above the median)."""
        return class_anomaly_index(self.mask_norms, label)

    def summary(self) -> dict:
        return {
            "mask_norms": [round(float(v), 3) for v in self.mask_norms],
            "anomaly_index": self.anomaly_index,
            "flagged_class": self.flagged_class,
            "epochs": [int(v) for v in self.epochs],
            "converged": int(self.converged.sum()),
            "reached_success": int(self.reached_success.sum()),
        }


def _mad(norms: np.ndarray) -> tuple[float, float]:
    median = float(np.median(norms))
    return median, 1.4826 * float(np.median(np.abs(norms - median)))


def anomaly_index(norms: np.ndarray) -> tuple[float, int]:
    """MAD anomaly index of the smallest value: ``(median - min) / (1.4826 * MAD)``, and its class."""
    norms = np.asarray(norms, dtype=np.float64)
    smallest = int(np.argmin(norms))
    return class_anomaly_index(norms, smallest), smallest


def class_anomaly_index(norms: np.ndarray, label: int) -> float:
    """``(median - norms[label]) / (1.4826 * MAD)``; a zero MAD gives 0 at the median and inf below it."""
    norms = np.asarray(norms, dtype=np.float64)
    median, mad = _mad(norms)
    gap = median - float(norms[label])
    if mad == 0:
        return 0.0 if gap == 0 else float(np.sign(gap) * np.inf)
    return gap / mad


def _to_tanh(values: torch.Tensor) -> torch.Tensor:
    return torch.atanh((values - 0.5) * (2 - _TANH_EPSILON))


def _from_tanh(values: torch.Tensor) -> torch.Tensor:
    return torch.tanh(values) / (2 - _TANH_EPSILON) + 0.5


class _ClassState:
    """The authors' per-class cost schedule and early-stop bookkeeping."""

    def __init__(self, config: NeuralCleanseConfig) -> None:
        self.config = config
        self.cost = 0.0
        self.set_counter = self.up_counter = self.down_counter = 0
        self.up_flag = self.down_flag = False
        self.best_norm = float("inf")
        self.stop_counter = 0
        self.stop_best = float("inf")
        self.epochs = 0
        self.done = False
        self.converged = False

    def end_epoch(self, success: float, norm: float) -> bool:
        """Update after one epoch; returns True when this epoch's mask is the new best successful one."""
        c = self.config
        self.epochs += 1
        improved = success >= c.attack_success and norm < self.best_norm
        if improved:
            self.best_norm = norm
        if self.best_norm < float("inf"):
            self.stop_counter = self.stop_counter + 1 if self.best_norm >= c.early_stop_threshold * self.stop_best else 0
        self.stop_best = min(self.best_norm, self.stop_best)
        if self.up_flag and self.down_flag and self.stop_counter >= c.early_stop_patience:
            self.done = self.converged = True
            return improved
        if self.cost == 0 and success >= c.attack_success:
            self.set_counter += 1
            if self.set_counter >= c.patience:
                self.cost = c.init_cost
                self.up_counter = self.down_counter = 0
                self.up_flag = self.down_flag = False
        else:
            self.set_counter = 0
        if success >= c.attack_success:
            self.up_counter, self.down_counter = self.up_counter + 1, 0
        else:
            self.up_counter, self.down_counter = 0, self.down_counter + 1
        if self.up_counter >= c.patience:
            self.up_counter = 0
            self.cost *= c.cost_multiplier
            self.up_flag = True
        elif self.down_counter >= c.patience:
            self.down_counter = 0
            self.cost /= c.cost_multiplier**1.5
            self.down_flag = True
        if self.epochs >= c.max_epochs:
            self.done = True
        return improved


def neural_cleanse(
    model: nn.Module,
    x_clean: np.ndarray,
    num_classes: int,
    config: NeuralCleanseConfig | None = None,
    *,
    seed: int = 0,
) -> NeuralCleanseReport:
    """Reverse-engineer a trigger for every class of ``model`` on clean NHWC images and score the norms."""
    config = config or NeuralCleanseConfig()
    if len(x_clean) == 0:
        raise BadInputError("Neural Cleanse needs clean images")
    if num_classes < 2:
        raise BadConfigError(f"Neural Cleanse needs at least 2 classes, got {num_classes}")
    was_training = model.training
    model.eval()
    flags = [p.requires_grad for p in model.parameters()]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    try:
        return _optimise(model, to_tensor(x_clean), num_classes, config, seed)
    finally:
        for parameter, flag in zip(model.parameters(), flags, strict=True):
            parameter.requires_grad_(flag)
        model.train(was_training)


def _optimise(model: nn.Module, images: torch.Tensor, classes: int, config: NeuralCleanseConfig, seed: int) -> NeuralCleanseReport:
    device = model_device(model)
    images = images.to(device)
    _, channels, height, width = images.shape
    generator = torch.Generator().manual_seed(seed)
    # Random start, as the authors' example: mask and pattern uniform in [0, 1].
    mask_tanh = _to_tanh(torch.rand((classes, 1, height, width), generator=generator)).to(device).requires_grad_(True)
    pattern_tanh = _to_tanh(torch.rand((classes, channels, height, width), generator=generator)).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([mask_tanh, pattern_tanh], lr=config.lr, betas=(0.5, 0.9))
    states = [_ClassState(config) for _ in range(classes)]
    best_masks = torch.zeros(classes, 1, height, width)
    order = torch.randperm(len(images), generator=generator)
    cursor = 0
    batch = config.batch_size
    while not all(s.done for s in states):
        active = torch.as_tensor([c for c, s in enumerate(states) if not s.done], device=device)
        costs = torch.as_tensor([states[c].cost for c in active.tolist()], dtype=images.dtype, device=device)
        hits = torch.zeros(len(active), device=device)
        norms = torch.zeros(len(active), device=device)
        for _ in range(config.steps_per_epoch):
            if cursor + batch > len(order):  # a fresh shuffle per pass over the clean images
                order, cursor = torch.randperm(len(images), generator=generator), 0
            x = images[order[cursor : cursor + batch].to(device)]
            cursor += batch
            mask, pattern = _from_tanh(mask_tanh[active]), _from_tanh(pattern_tanh[active])
            stamped = (1 - mask[:, None]) * x[None] + (mask * pattern)[:, None]  # (active, batch, C, H, W)
            logits = model(stamped.reshape(-1, channels, height, width)).reshape(len(active), len(x), -1)
            targets = active[:, None].expand(-1, len(x))
            cross_entropy = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none").mean(dim=1)
            l1 = mask.sum(dim=(1, 2, 3))
            loss = (cross_entropy + costs * l1).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                hits += (logits.argmax(dim=2) == targets).float().mean(dim=1)
                norms += l1
        hits /= config.steps_per_epoch
        norms /= config.steps_per_epoch
        with torch.no_grad():
            current = _from_tanh(mask_tanh[active]).detach().cpu()
        for row, label in enumerate(active.tolist()):
            state = states[label]
            improved = state.end_epoch(float(hits[row]), float(norms[row]))
            # A class that never reached attack_success keeps its last mask, as the authors' code does.
            if improved or (state.done and state.best_norm == float("inf")):
                best_masks[label] = current[row]
    final_norms = best_masks.sum(dim=(1, 2, 3)).numpy().astype(np.float64)
    index, flagged = anomaly_index(final_norms)
    return NeuralCleanseReport(
        mask_norms=final_norms,
        anomaly_index=index,
        flagged_class=flagged,
        epochs=np.array([s.epochs for s in states]),
        converged=np.array([s.converged for s in states]),
        reached_success=np.array([s.best_norm < float("inf") for s in states]),
    )
