"""Federated averaging in process, with the defences compared in the paper: none, Gaussian gradient noise,
DP-SGD (Opacus) and private passports (shared or per-client secrets).

Semantics match the Flower adapter (:mod:`tenfold.bayesprivacy.flower`): the server broadcasts the shared
state, each client trains ``local_steps`` Adam steps with its own passports and returns its shared state
(never the passports), and the server averages weighted by sample counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tenfold.bayesprivacy.keystore import PassportKeystore, PassportPrior, shared_state
from tenfold.bayesprivacy.passport import passport_layers
from tenfold.core.errors import BadConfigError, BadInputError

DEFENCES = ("none", "noise", "dp", "passport")


@dataclass(frozen=True)
class Defence:
    """What protects the exposed updates. ``noise_std``: Gaussian noise added to every gradient the client
    uses or exposes; ``dp_*``: DP-SGD per-sample clipping and noise (Opacus); ``prior``/``scope``: passports."""

    kind: str = "none"
    noise_std: float = 0.0
    dp_noise_multiplier: float = 1.0
    dp_max_grad_norm: float = 1.0
    prior: PassportPrior = PassportPrior()
    scope: str = "shared"

    def __post_init__(self) -> None:
        if self.kind not in DEFENCES:
            raise BadConfigError(f"unknown defence {self.kind!r}; use one of {', '.join(DEFENCES)}")
        if self.scope not in ("shared", "per_client"):
            raise BadConfigError(f"passport scope must be 'shared' or 'per_client', got {self.scope!r}")
        if self.kind == "noise" and not self.noise_std > 0:
            raise BadConfigError("the noise defence needs noise_std > 0")
        if self.kind == "dp" and not (self.dp_noise_multiplier > 0 and self.dp_max_grad_norm > 0):
            raise BadConfigError("DP-SGD needs a positive noise multiplier and clipping norm")


@dataclass(frozen=True)
class FedConfig:
    """FedAvg schedule (spec B5: 4 clients, 10-20 rounds, 50 local Adam steps of batch 32, lr 1e-3)."""

    rounds: int = 10
    local_steps: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.local_steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise BadConfigError(f"rounds, local_steps, batch_size and lr must be positive: {self}")


class FedClient:
    """One client: its private shard, its passports (if any), and local training."""

    def __init__(
        self,
        client_id: int,
        x: torch.Tensor,
        y: torch.Tensor,
        model_factory: Callable[[], nn.Module],
        defence: Defence,
        config: FedConfig,
        keystore: PassportKeystore | None = None,
    ) -> None:
        if len(x) == 0:
            raise BadInputError(f"client {client_id} has an empty data shard; give every client at least one sample")
        if len(x) != len(y):
            raise BadInputError(f"client {client_id}: {len(x)} images but {len(y)} labels")
        self.client_id = client_id
        self.x, self.y = x, y
        self.defence = defence
        self.config = config
        self.model = model_factory()
        layers = passport_layers(self.model)
        if defence.kind == "dp" and layers:
            raise BadConfigError(
                "DP-SGD via Opacus cannot run on passport layers: the layer applies the same convolution to the batch "
                "and to the passports, which Opacus treats as a tied/recurrent module; use DP on the plain model"
            )
        if layers:
            if keystore is None:
                raise BadConfigError(f"client {client_id}: the model has passport layers but no keystore was given")
            keystore.install(self.model)
        self.keystore = keystore
        self.generator = torch.Generator().manual_seed(config.seed * 1000 + client_id)

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, len(self.y), (min(self.config.batch_size, len(self.y)),), generator=self.generator)
        return self.x[index], self.y[index]

    def fit(self, global_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
        """Load the broadcast state, train locally, return (shared state, number of samples)."""
        self.model.load_state_dict(global_state)
        self.model.train()
        if self.defence.kind == "dp":
            self._fit_dp()
        else:
            optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
            for _ in range(self.config.local_steps):
                images, labels = self._batch()
                optimizer.zero_grad()
                nn.functional.cross_entropy(self.model(images), labels).backward()
                if self.defence.kind == "noise":
                    for parameter in self.model.parameters():
                        parameter.grad += self.defence.noise_std * torch.randn(
                            parameter.shape, generator=self.generator
                        )
                optimizer.step()
        return shared_state(self.model), self.num_examples

    def _fit_dp(self) -> None:
        from opacus import PrivacyEngine
        from torch.utils.data import DataLoader, TensorDataset

        engine = PrivacyEngine(accountant="rdp")
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        loader = DataLoader(
            TensorDataset(self.x, self.y),
            batch_size=self.config.batch_size,
            generator=torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=self.generator))),
        )
        private_model, private_optimizer, private_loader = engine.make_private(
            module=self.model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=self.defence.dp_noise_multiplier,
            max_grad_norm=self.defence.dp_max_grad_norm,
            noise_generator=torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=self.generator))),
        )
        steps = 0
        while steps < self.config.local_steps:
            for images, labels in private_loader:
                if len(labels) == 0:
                    continue
                private_optimizer.zero_grad()
                nn.functional.cross_entropy(private_model(images), labels).backward()
                private_optimizer.step()
                steps += 1
                if steps >= self.config.local_steps:
                    break
        private_model._close()  # removes Opacus' hooks so the plain module can be reused next round
        self.model = private_model._module

    @torch.no_grad()
    def evaluate(self, global_state: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy of the global model with this client's passports (evaluation is client-side)."""
        self.model.load_state_dict(global_state)
        self.model.eval()
        predictions = torch.cat([self.model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
        return float((predictions == y).float().mean())


def average_states(states: list[dict[str, torch.Tensor]], weights: list[int]) -> dict[str, torch.Tensor]:
    """FedAvg: the sample-weighted mean of floating-point tensors (integer buffers are taken from the first)."""
    if not states:
        raise BadInputError("no client returned an update")
    total = float(sum(weights))
    averaged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            averaged[key] = sum(state[key] * (w / total) for state, w in zip(states, weights, strict=True))
        else:
            averaged[key] = first.clone()
    return averaged


def make_clients(
    x: torch.Tensor,
    y: torch.Tensor,
    n_clients: int,
    model_factory: Callable[[], nn.Module],
    defence: Defence,
    config: FedConfig,
) -> list[FedClient]:
    """Split (x, y) IID into ``n_clients`` seeded shards and give each its passports (shared or its own)."""
    if n_clients < 1:
        raise BadConfigError(f"need at least one client, got {n_clients}")
    if len(x) < n_clients:
        raise BadInputError(f"{len(x)} samples cannot fill {n_clients} client shards")
    order = np.random.default_rng(config.seed).permutation(len(x))
    shards = np.array_split(order, n_clients)
    probe = model_factory()
    clients = []
    for client_id, shard in enumerate(shards):
        keystore = None
        if defence.kind == "passport":
            passport_seed = config.seed * 7919 + (client_id if defence.scope == "per_client" else 0) + 17
            keystore = PassportKeystore.sample(probe, defence.prior, seed=passport_seed)
        index = torch.as_tensor(shard)
        clients.append(FedClient(client_id, x[index], y[index], model_factory, defence, config, keystore))
    return clients


@dataclass
class FedHistory:
    """Accuracy after each round (client-side evaluation) and optional snapshots of the global state."""

    accuracy: list[float] = field(default_factory=list)
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)


def run_fedavg(
    clients: list[FedClient],
    initial_state: dict[str, torch.Tensor],
    config: FedConfig,
    *,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    snapshot_rounds: tuple[int, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, torch.Tensor], FedHistory]:
    """``config.rounds`` rounds of FedAvg; accuracy is the mean over clients of their own evaluation."""
    state = {key: value.clone() for key, value in initial_state.items()}
    history = FedHistory()
    # With no passports or shared ones every client computes the same function: evaluate once.
    first = clients[0].defence
    evaluators = clients if first.kind == "passport" and first.scope == "per_client" else clients[:1]
    for round_index in range(1, config.rounds + 1):
        results = [client.fit(state) for client in clients]
        state = average_states([r[0] for r in results], [r[1] for r in results])
        if round_index in snapshot_rounds:
            history.snapshots[round_index] = {key: value.clone() for key, value in state.items()}
        if x_test is not None and y_test is not None:
            history.accuracy.append(float(np.mean([c.evaluate(state, x_test, y_test) for c in evaluators])))
        if progress is not None:
            progress(round_index)
    return state, history
