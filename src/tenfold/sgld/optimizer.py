"""SGLD as a torch optimizer: w <- w - eta_t grad + sqrt(2 eta_t / beta) xi, with an explicit inverse temperature.

The gradient used is whatever ``.grad`` holds (the mean mini-batch gradient, clipped per example if the caller
did so). ``lr`` may be a number or a schedule ``step -> eta_t``; noise comes from a seeded torch Generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from tenfold.core.errors import BadConfigError

Schedule = Callable[[int], float]


class SGLD(torch.optim.Optimizer):
    """Stochastic gradient Langevin dynamics with inverse temperature ``beta`` (temperature = 1 / beta)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float | Schedule,
        beta: float,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        if not (isinstance(beta, int | float) and math.isfinite(beta) and beta > 0):
            raise BadConfigError(f"inverse temperature beta must be positive and finite, got {beta!r}")
        if not callable(lr) and not (isinstance(lr, int | float) and lr > 0):
            raise BadConfigError(f"step size lr must be positive (or a schedule), got {lr!r}")
        self.schedule: Schedule = lr if callable(lr) else (lambda _t, value=float(lr): value)
        self.generator = generator
        self.steps_taken = 0
        super().__init__(params, {"beta": float(beta)})

    def current_lr(self) -> float:
        eta = float(self.schedule(self.steps_taken))
        if not eta > 0:
            raise BadConfigError(f"step size at step {self.steps_taken} is {eta}; it must stay positive")
        return eta

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
                # draw on the generator's device (CPU generator + CUDA weights is allowed), then move
                device = self.generator.device if self.generator is not None else p.device
                noise = torch.randn(p.shape, generator=self.generator, dtype=p.dtype, device=device).to(p.device)
                p.add_(p.grad, alpha=-eta).add_(noise, alpha=scale)
        self.steps_taken += 1
        return loss
