"""Training-set poisoning: dirty-label (the paper's main setting) and clean-label variants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError

Trigger = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PoisonedSet:
    """A poisoned copy of a training set and which rows were changed."""

    x: np.ndarray
    y: np.ndarray
    indices: np.ndarray  # rows of x that carry the trigger

    @property
    def mask(self) -> np.ndarray:
        flags = np.zeros(len(self.y), dtype=bool)
        flags[self.indices] = True
        return flags


def _check_labels(x: np.ndarray, y: np.ndarray, target: int) -> np.ndarray:
    y = np.asarray(y)
    if len(x) == 0:
        raise BadInputError("the training set is empty; give at least one image")
    if y.ndim != 1 or len(y) != len(x):
        raise BadInputError(f"labels must be a vector with one entry per image: {len(x)} images, labels {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise BadInputError(f"labels must be integers, got dtype {y.dtype}")
    if target not in set(np.unique(y).tolist()):
        raise BadConfigError(f"target label {target} is not among the labels {sorted(np.unique(y).tolist())}")
    return y


def poison_count(n_train: int, rate: float) -> int:
    """``floor(rate * n_train)``, the official code's count (rate is over the whole training set)."""
    if not 0.0 < rate < 1.0:
        raise BadConfigError(f"poisoning rate must be in (0, 1), got {rate}")
    return int(np.floor(rate * n_train))


def poison_dirty_label(
    x: np.ndarray,
    y: np.ndarray,
    trigger: Trigger,
    *,
    target: int,
    rate: float,
    selection: str = "random",
    seed: int = 0,
) -> PoisonedSet:
    """Trigger ``floor(rate * N)`` non-target samples and relabel them ``target``.

    ``selection="random"`` draws them with ``seed``; ``"first"`` takes the first ones (official-code parity).
    """
    y = _check_labels(x, y, target)
    count = poison_count(len(y), rate)
    candidates = np.flatnonzero(y != target)
    if count < 1:
        raise BadConfigError(f"rate {rate} of {len(y)} samples poisons no sample; raise the rate")
    if count > len(candidates):
        raise BadConfigError(f"rate {rate} asks for {count} poisoned samples but only {len(candidates)} are non-target")
    if selection == "random":
        chosen = np.sort(np.random.default_rng(seed).choice(candidates, size=count, replace=False))
    elif selection == "first":
        chosen = candidates[:count]
    else:
        raise BadConfigError(f"unknown selection {selection!r}; use 'random' or 'first'")
    x_out = np.array(x, copy=True)
    y_out = np.array(y, copy=True)
    x_out[chosen] = np.asarray(trigger(x_out[chosen]), dtype=x_out.dtype)
    y_out[chosen] = target
    return PoisonedSet(x_out, y_out, chosen)


def poison_clean_label(
    x: np.ndarray,
    y: np.ndarray,
    trigger: Trigger,
    *,
    target: int,
    rate: float,
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    degree: float = 0.0,
    seed: int = 0,
) -> PoisonedSet:
    """Clean-label variant: trigger ``floor(rate * N)`` target-class samples, labels unchanged.

    With ``gradient(x, y)`` (loss gradient of a clean model, NHWC) and ``degree`` > 0, first take the
    official adversarial step ``x + degree/255 * g / ||g||_2`` so the natural features are harder to use.
    """
    y = _check_labels(x, y, target)
    count = poison_count(len(y), rate)
    candidates = np.flatnonzero(y == target)
    if count < 1 or count > len(candidates):
        raise BadConfigError(
            f"rate {rate} asks for {count} clean-label samples; the target class has {len(candidates)} (need 1..that)"
        )
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, size=count, replace=False))
    x_out = np.array(x, copy=True)
    batch = x_out[chosen].astype(np.float64)
    if gradient is not None and degree > 0:
        g = np.asarray(gradient(batch, y[chosen]), dtype=np.float64)
        norms = np.sqrt((g**2).reshape(len(g), -1).sum(axis=1)).reshape(-1, *([1] * (g.ndim - 1)))
        batch = np.clip(batch + degree / 255.0 * g / np.maximum(norms, 1e-12), 0.0, 1.0)
    x_out[chosen] = np.asarray(trigger(batch), dtype=x_out.dtype)
    return PoisonedSet(x_out, np.array(y, copy=True), chosen)
