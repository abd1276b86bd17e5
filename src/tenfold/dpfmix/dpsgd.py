"""The side-by-side peer: DP-SGD (Opacus) on the same features, noise calibrated by the same PLD accountant.

DP-SGD pays privacy per trained model; a DPFMix release pays once and serves any number of models.

Secret randomness: Opacus' own remedy, ``PrivacyEngine(secure_mode=True)``, needs torchcsprng, which is
archived and not installable here. So the peer uses the two pieces of secure mode that do not need it:
the optimizer's secure noise (each value a sum of four Gaussian draws, against floating-point attacks)
and generators keyed from OS entropy, drawn through :func:`tenfold.core.randomness.secret_generator`
(ChaCha20) into torch Generators for the Poisson batch sampling and the noise. What remains: torch's
Generator is a Mersenne Twister, so its state could in principle be rebuilt from 624 consecutive raw
outputs; the noise values are never published, only the trained weights, so that needs an attack on the
training itself. Replaying a seed, the attack a seeded generator invites, needs the 63-bit key.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.core.randomness import secret_generator
from tenfold.dpfmix.accounting import calibrate_sigma, pld_epsilon


@dataclass
class DPSGDResult:
    model: object  # torch.nn.Linear
    eps: float  # PLD epsilon of the whole training run
    noise_multiplier: float
    steps: int
    adjacency: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(x, dtype=torch.float32)).argmax(dim=1).numpy()

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == labels))


def _torch_generators(insecure_seed: int | None, count: int) -> list:
    """torch Generators keyed from the ChaCha20 stream (OS entropy) or, if asked for, from a replayable seed."""
    import torch

    source = secret_generator(insecure_seed, what="the DP-SGD noise and batch sampling")
    return [torch.Generator().manual_seed(int(source.integers(2**63))) for _ in range(count)]


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
    interval: float = 1e-3,
    adjacency: str = "add-remove",
    insecure_seed: int | None = None,
) -> DPSGDResult:
    """Linear softmax trained with Opacus DP-SGD (Poisson batches at rate b/n, per-example clipping, secure
    noise) to PLD-(eps, delta) under ``adjacency``."""
    import torch
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader
    from torch.utils.data import TensorDataset

    n = features.shape[0]
    if not (1 <= batch_size < n):
        raise BadConfigError(f"batch_size={batch_size} must lie in 1..n-1 (n={n})")
    rate = batch_size / n
    sampling, noise = _torch_generators(insecure_seed, 2)
    loader = DPDataLoader(
        TensorDataset(torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.long)),
        sample_rate=rate, generator=sampling,
    )
    steps = epochs * len(loader)
    sigma = calibrate_sigma(eps, delta, rate, steps, interval=interval, adjacency=adjacency)
    model = torch.nn.Linear(features.shape[1], n_classes)
    with torch.no_grad():  # a fixed start: the guarantee does not rest on it, reproducibility does
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Secure RNG turned off.*")  # secure noise is switched on below
        engine = PrivacyEngine(accountant="rdp")  # Opacus' accountant is unused: the PLD one below is reported
        model, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=sigma, max_grad_norm=clip,
            poisson_sampling=False,  # the loader above already Poisson-samples with the secret generator
            noise_generator=noise,
        )
    optimizer.secure_mode = True  # sum-of-four-Gaussians noise, what PrivacyEngine(secure_mode=True) would use
    loss_fn = torch.nn.CrossEntropyLoss()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Full backward hook.*")  # the inputs need no gradient
        for _ in range(epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                # an empty Poisson batch still takes a noisy step (zero gradient), as the accountant assumes
                loss_fn(model(xb), yb).backward()
                optimizer.step()
    linear = model._module if hasattr(model, "_module") else model
    return DPSGDResult(
        model=linear,
        eps=pld_epsilon(sigma, rate, steps, delta, interval=interval, adjacency=adjacency),
        noise_multiplier=sigma,
        steps=steps,
        adjacency=adjacency,
    )
