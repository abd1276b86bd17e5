"""Federated averaging in process, with the defences compared in the paper: none, Gaussian gradient noise,
DP-SGD (Opacus) and private passports (shared or per-client secrets).

Semantics match the Flower adapter (:mod:`tenfold.bayesprivacy.flower`): the server broadcasts the shared
state, each client trains ``local_steps`` Adam steps with its own passports and returns its shared state
(never the passports), and the server averages weighted by sample counts.

Secrets (passports, defence noise, DP-SGD's noise and batch sampling) come from one secret stream per
federation, keyed from OS entropy unless ``FedConfig.insecure_seed`` opts in to a replayable seed.
``FedConfig.seed`` drives only what is not secret: the data split and the minibatch order of the
non-DP defences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from tenfold.bayesprivacy.keystore import PassportKeystore, PassportPrior, shared_state
from tenfold.bayesprivacy.noise import secure_gaussian
from tenfold.bayesprivacy.passport import passport_layers
from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.randomness import check_insecure_seed, randomness_record, secret_generator
from tenfold.core.validation import check_number

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
        for name in ("noise_std", "dp_noise_multiplier", "dp_max_grad_norm"):
            check_number(name, getattr(self, name), low=0)
        if self.kind == "noise" and not self.noise_std > 0:
            raise BadConfigError("the noise defence needs noise_std > 0")
        if self.kind == "dp" and not (self.dp_noise_multiplier > 0 and self.dp_max_grad_norm > 0):
            raise BadConfigError("DP-SGD needs a positive noise multiplier and clipping norm")

    @property
    def needs_secrets(self) -> bool:
        return self.kind in ("noise", "dp", "passport")


@dataclass(frozen=True)
class FedConfig:
    """FedAvg schedule (spec B5: 4 clients, 10-20 rounds, 50 local Adam steps of batch 32, lr 1e-3)."""

    rounds: int = 10
    local_steps: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0  # data split and minibatch order (not secret)
    insecure_seed: int | None = None  # secrets from a replayable seed: experiments and tests only

    def __post_init__(self) -> None:
        for name in ("rounds", "local_steps", "batch_size"):
            check_number(name, getattr(self, name), low=1, integer=True)
        check_number("lr", self.lr, low=0, low_open=True)
        check_number("seed", self.seed, low=0, integer=True)
        check_insecure_seed(self.insecure_seed)


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
        secrets: np.random.Generator | None = None,
    ) -> None:
        """``secrets``: the stream for defence noise and DP sampling (default: a new one keyed from OS entropy)."""
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
            keystore.install(self.model, warn_dead=False)  # weights are placeholders until the first broadcast
        self.keystore = keystore
        # Minibatch order of the non-DP defences: not a secret, seeded for reproducible training.
        self.generator = torch.Generator().manual_seed(config.seed * 1000 + client_id)
        if secrets is None and defence.kind in ("noise", "dp"):
            secrets = secret_generator(config.insecure_seed, what="the defence noise")
        self.secrets = secrets
        self.dp_accountant: Any = None

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
                        parameter.grad += secure_gaussian(parameter.shape, self.secrets, std=self.defence.noise_std,
                                                          dtype=parameter.dtype)
                optimizer.step()
        return shared_state(self.model), self.num_examples

    def _fit_dp(self) -> None:
        from opacus.accountants import RDPAccountant

        from tenfold.bayesprivacy.dpsgd import dp_local_training

        if self.dp_accountant is None:
            self.dp_accountant = RDPAccountant()
        dp_local_training(
            self.model, self.x, self.y, steps=self.config.local_steps, batch_size=self.config.batch_size,
            lr=self.config.lr, noise_multiplier=self.defence.dp_noise_multiplier,
            max_grad_norm=self.defence.dp_max_grad_norm, secrets=self.secrets, accountant=self.dp_accountant,
        )

    def dp_epsilon(self, delta: float) -> float | None:
        """This client's (epsilon, delta)-DP guarantee so far (RDP accounting), or None without DP-SGD."""
        if self.dp_accountant is None:
            return None
        return float(self.dp_accountant.get_epsilon(delta))

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
    shards = client_shards(len(x), n_clients, config.seed)
    secrets, record = None, None
    if defence.needs_secrets:
        # One secret stream for the federation, so an opted-in seed warns once and every client's secrets
        # follow from it in a fixed order; without a seed it is keyed from OS entropy.
        secrets = secret_generator(config.insecure_seed, what="the passports and defence noise")
        record = randomness_record(config.insecure_seed)
    probe = model_factory()
    shared = None
    clients = []
    for client_id, shard in enumerate(shards):
        keystore = None
        if defence.kind == "passport":
            if defence.scope == "per_client" or shared is None:
                keystore = PassportKeystore.sample(probe, defence.prior, generator=secrets, record=record)
                shared = keystore
            else:
                keystore = shared
        index = torch.as_tensor(shard)
        clients.append(FedClient(client_id, x[index], y[index], model_factory, defence, config, keystore, secrets))
    return clients


def client_shards(n_samples: int, n_clients: int, seed: int) -> list[np.ndarray]:
    """The IID split of sample indices into ``n_clients`` shards (seeded; the split is not a secret)."""
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.array_split(order, n_clients)


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
