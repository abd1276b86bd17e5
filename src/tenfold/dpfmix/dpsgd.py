"""The side-by-side peer: DP-SGD (Opacus) on the same features, noise calibrated by the same PLD accountant.

DP-SGD pays privacy per trained model; a DPFMix release pays once and serves any number of models.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.dpfmix.accounting import calibrate_sigma, pld_epsilon


@dataclass
class DPSGDResult:
    model: object  # torch.nn.Linear
    eps: float  # PLD epsilon of the whole training run
    noise_multiplier: float
    steps: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(x, dtype=torch.float32)).argmax(dim=1).numpy()

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == labels))


def train_dpsgd_linear(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    eps: float,
    delta: float = 1e-5,
    epochs: int = 30,
    batch_size: int = 64,
    clip: float = 1.0,
    lr: float = 0.5,
    seed: int = 0,
    interval: float = 1e-3,
) -> DPSGDResult:
    """Linear softmax trained with Opacus DP-SGD (Poisson batches, per-example clipping) to PLD-(eps, delta)."""
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    n = features.shape[0]
    if not (1 <= batch_size < n):
        raise BadConfigError(f"batch_size={batch_size} must lie in 1..n-1 (n={n})")
    rate = batch_size / n
    steps_per_epoch = int(round(1 / rate))
    steps = epochs * steps_per_epoch
    sigma = calibrate_sigma(eps, delta, rate, steps, interval=interval)
    torch.manual_seed(seed)
    model = torch.nn.Linear(features.shape[1], n_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    dataset = TensorDataset(torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.long))
    loader = DataLoader(dataset, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about secure RNG; we want seeded runs
        engine = PrivacyEngine(accountant="rdp")
        model, optimizer, loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=sigma,
            max_grad_norm=clip,
            poisson_sampling=True,
            noise_generator=torch.Generator().manual_seed(seed + 1),
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        taken = 0
        for _ in range(epochs):
            for xb, yb in loader:
                if xb.shape[0] == 0:
                    continue
                optimizer.zero_grad()
                loss_fn(model(xb), yb).backward()
                optimizer.step()
                taken += 1
    steps_done = epochs * len(loader)
    linear = model._module if hasattr(model, "_module") else model
    return DPSGDResult(
        model=linear,
        eps=pld_epsilon(sigma, rate, steps_done, delta, interval=interval),
        noise_multiplier=sigma,
        steps=steps_done,
    )
