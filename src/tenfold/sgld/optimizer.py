"""SGLD as a torch optimizer: w <- w - eta_t grad + sqrt(2 eta_t / beta) xi, with an explicit inverse temperature.

The gradient used is whatever ``.grad`` holds (the mean mini-batch gradient, clipped per example if the caller
did so). ``lr`` may be a number or a schedule ``step -> eta_t``.

The noise is what makes clipped SGLD a DP-SGD run (bounds.B-DP), so by default it is secret: drawn from
:func:`tenfold.core.randomness.secret_generator` (ChaCha20 keyed from OS entropy), each value a sum of four
Gaussian draws as in Opacus' secure mode (a mitigation of floating-point attacks, not a proof). A seeded
numpy Generator gives the same sampling replayably; a torch Generator gives torch's fast single draws, for
studies that publish statistics rather than trained weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.core.randomness import secret_gaussian, secret_generator

Schedule = Callable[[int], float]
# Gaussian draws summed per noise value (Holohan & Braghin 2021; Opacus' secure_mode uses 4)
NOISE_SUMMANDS = 4


def secure_standard_normal(generator: np.random.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """N(0, 1) values as core's normalised sum of four draws from ``generator`` (float64 torch tensor)."""
    return torch.from_numpy(secret_gaussian(generator, shape, std=1.0, summands=NOISE_SUMMANDS))


class SGLD(torch.optim.Optimizer):
    """Stochastic gradient Langevin dynamics with inverse temperature ``beta`` (temperature = 1 / beta).

    ``generator``: None (secret noise from OS entropy), a numpy Generator (secure sampling from it), or a
    torch Generator (torch's single draws; replayable, for studies).
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float | Schedule,
        beta: float,
        *,
        generator: torch.Generator | np.random.Generator | None = None,
    ) -> None:
        if isinstance(beta, bool) or not (isinstance(beta, int | float) and math.isfinite(beta) and beta > 0):
            raise BadConfigError(f"inverse temperature beta must be positive and finite, got {beta!r}")
        if not callable(lr) and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
            raise BadConfigError(f"step size lr must be positive (or a schedule), got {lr!r}")
        if generator is not None and not isinstance(generator, torch.Generator | np.random.Generator):
            raise BadConfigError(f"generator must be a torch or numpy Generator (or None), got {type(generator).__name__}")
        self.schedule: Schedule = lr if callable(lr) else (lambda _t, value=float(lr): value)
        self.generator: Any = generator if generator is not None else secret_generator(what="the SGLD noise")
        self.steps_taken = 0
        super().__init__(params, {"beta": float(beta)})

    def current_lr(self) -> float:
        eta = float(self.schedule(self.steps_taken))
        if not eta > 0:
            raise BadConfigError(f"step size at step {self.steps_taken} is {eta}; it must stay positive")
        return eta

    def _noise(self, p: torch.Tensor) -> torch.Tensor:
        if isinstance(self.generator, torch.Generator):
            # draw on the generator's device (CPU generator + CUDA weights is allowed), then move
            device = self.generator.device
            return torch.randn(p.shape, generator=self.generator, dtype=p.dtype, device=device).to(p.device)
        return secure_standard_normal(self.generator, tuple(p.shape)).to(device=p.device, dtype=p.dtype)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        eta = self.current_lr()
        for group in self.param_groups:
            scale = math.sqrt(2.0 * eta / group["beta"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad, alpha=-eta).add_(self._noise(p), alpha=scale)
        self.steps_taken += 1
        return loss
