"""DP-SGD for one client's local training: Opacus' per-sample gradients, clipping and RDP accounting, with
the secret parts (Poisson sampling of the batch and the Gaussian noise) drawn from core's ChaCha stream.

Why not ``PrivacyEngine(secure_mode=True)``: Opacus' secure mode needs ``torchcsprng``, which is archived and
does not install on current torch. Its two ingredients are kept here instead: the noise is the four-Gaussian
sum of :mod:`tenfold.bayesprivacy.noise` (the same float-attack mitigation as Opacus' secure mode) and both
the noise and the batch sampling come from a cryptographic generator keyed from OS entropy (Opacus' secure
mode used torchcsprng's urandom generator for the same purpose). What remains unmitigated is listed in
:mod:`tenfold.bayesprivacy.noise`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer
from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed
from torch import nn

from tenfold.bayesprivacy.noise import secure_gaussian
from tenfold.core.errors import BadConfigError

if TYPE_CHECKING:
    import numpy as np


class SecretNoiseDPOptimizer(DPOptimizer):
    """Opacus' DPOptimizer whose noise comes from a secret numpy generator (four-Gaussian sum, float64)."""

    def __init__(self, optimizer: torch.optim.Optimizer, *, secrets: np.random.Generator, **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        self.secrets = secrets

    def add_noise(self) -> None:
        std = self.noise_multiplier * self.max_grad_norm
        for parameter in self.params:
            summed = parameter.summed_grad
            _check_processed_flag(summed)  # Opacus' guard: a clipped sum is noised once, never reused
            noise = secure_gaussian(summed.shape, self.secrets, std=std, dtype=summed.dtype)
            parameter.grad = (summed + noise).view_as(parameter)
            _mark_as_processed(summed)


def dp_local_training(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    noise_multiplier: float,
    max_grad_norm: float,
    secrets: np.random.Generator,
    accountant: RDPAccountant,
) -> None:
    """``steps`` DP-SGD (Adam) steps on (x, y): Poisson batches of expected size ``batch_size``, per-sample
    clipping to ``max_grad_norm``, noise std ``noise_multiplier * max_grad_norm``; each step is recorded in
    ``accountant``. The model is trained in place and left without Opacus' hooks."""
    if not (noise_multiplier > 0 and max_grad_norm > 0):
        raise BadConfigError("DP-SGD needs a positive noise multiplier and clipping norm")
    n = len(y)
    sample_rate = min(1.0, batch_size / n)
    wrapped = GradSampleModule(model, loss_reduction="sum")
    optimizer = SecretNoiseDPOptimizer(
        torch.optim.Adam(wrapped.parameters(), lr=lr), secrets=secrets, noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm, expected_batch_size=batch_size, loss_reduction="mean",
    )
    try:
        with warnings.catch_warnings():
            # Opacus' hooks fire on modules whose inputs need no gradient (the images): harmless, said every step.
            warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
            for _ in range(steps):
                # Poisson sampling (each sample in with probability q), the sampling the RDP accountant assumes;
                # an empty batch is still a step: its update is noise only.
                chosen = torch.from_numpy((secrets.random(n) < sample_rate).nonzero()[0])
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(wrapped(x[chosen]), y[chosen], reduction="sum")
                loss.backward()
                optimizer.step()
                accountant.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
    finally:
        wrapped._close()  # removes the hooks so the plain module is reused next round
