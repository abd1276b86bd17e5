"""Baseline backdoor triggers for the side-by-side rows: BadNets patch, Blended, SIG.

Each is a callable ``trigger(images) -> images`` on float NHWC batches in [0, 1], like
:class:`~tenfold.ftrojan.trigger.FrequencyTrigger`, so the same poisoner and evaluation apply.
"""

from __future__ import annotations

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.ftrojan.trigger import to_nhwc, validate_pixels


def _checked(images: np.ndarray) -> np.ndarray:
    return validate_pixels(to_nhwc(np.asarray(images), "NHWC"), 1.0) / 255.0


class BadNetsTrigger:
    """BadNets (Gu et al. 2017): a visible ``size x size`` black-and-white checker patch in the bottom-right corner."""

    def __init__(self, size: int = 3) -> None:
        if size < 1:
            raise BadConfigError(f"patch size must be positive, got {size}")
        self.size = int(size)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = _checked(images).copy()
        if self.size > min(x.shape[1:3]):
            raise BadConfigError(f"a {self.size}px patch does not fit {x.shape[1]}x{x.shape[2]} images")
        checker = (np.add.outer(np.arange(self.size), np.arange(self.size)) % 2 == 0).astype(np.float64)
        x[:, -self.size :, -self.size :, :] = checker[None, :, :, None]
        return x


class BlendedTrigger:
    """Blended (Chen et al. 2017): ``(1 - alpha) x + alpha k`` with a fixed seeded uniform-noise key image."""

    def __init__(self, alpha: float = 0.1, seed: int = 1234) -> None:
        if not 0.0 < alpha < 1.0:
            raise BadConfigError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = float(alpha)
        self.seed = int(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = _checked(images)
        key = np.random.default_rng(self.seed).random(x.shape[1:])
        return (1.0 - self.alpha) * x + self.alpha * key[None]


class SIGTrigger:
    """SIG (Barni et al. 2019): a horizontal sinusoid ``delta * sin(2 pi j f / W)`` (0..255 scale), as in the
    official FTrojan baseline ``poison_sin_one(delta=20, f=6)``."""

    def __init__(self, delta: float = 20.0, frequency: float = 6.0) -> None:
        if delta <= 0 or frequency <= 0:
            raise BadConfigError(f"delta and frequency must be positive, got {delta}, {frequency}")
        self.delta = float(delta)
        self.frequency = float(frequency)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = _checked(images)
        width = x.shape[2]
        wave = self.delta / 255.0 * np.sin(2 * np.pi * np.arange(width) * self.frequency / width)
        return np.clip(x + wave[None, None, :, None], 0.0, 1.0)
