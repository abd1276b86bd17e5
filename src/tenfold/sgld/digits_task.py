"""The miniature's data: scikit-learn digits, rows normalised to ||x|| = 1 with a bias feature included.

Unit-norm inputs make the linear-softmax per-example gradient norm at most sqrt(2), so clipping at L = 1 is
active but mild. Each seed draws disjoint train (n), held-out (for the attack and the KL pairs) and
population (the rest, for the test error) sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError


@dataclass
class Task:
    x_train: np.ndarray
    y_train: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    x_population: np.ndarray
    y_population: np.ndarray
    n_classes: int


def unit_digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 65) float32 rows of norm 1 (64 pixels + a bias feature), labels 0..9."""
    from tenfold.core.data import digits8

    images, labels = digits8()
    x = np.c_[images.reshape(images.shape[0], -1), np.ones(images.shape[0])]
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def digits_task(n_train: int = 300, n_heldout: int = 300, *, seed: int = 0) -> Task:
    x, y = unit_digits()
    if n_train < 2 or n_heldout < 1 or n_train + n_heldout >= x.shape[0]:
        raise BadConfigError(f"n_train={n_train} and n_heldout={n_heldout} must leave records for the test error")
    order = np.random.default_rng(seed).permutation(x.shape[0])
    a, b = order[:n_train], order[n_train : n_train + n_heldout]
    rest = order[n_train + n_heldout :]
    return Task(x[a], y[a], x[b], y[b], x[rest], y[rest], 10)
