"""Cost of privacy and of the attack, as ratios measured in one process (ABBA-interleaved, process CPU time):

1. a training step of the passport LeNet vs the plain LeNet (the paper's "low computational complexity");
2. one FedAvg round driven through Flower's messages vs the in-process loop;
3. Inverting Gradients on 16 candidates batched with torch.func.vmap vs one candidate at a time (same steps).

Run: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bayesprivacy/bench_passport_cost.py
"""

from __future__ import annotations

import numpy as np
import torch

from tenfold.bayesprivacy import (
    AttackConfig,
    Defence,
    FedConfig,
    LeNet,
    PassportKeystore,
    PassportPrior,
    exposed_gradient,
    invert,
    make_clients,
    run_fedavg,
)
from tenfold.bayesprivacy.attacks import _batched_inverting_gradients
from tenfold.bayesprivacy.flower import flower_round
from tenfold.core.timing import interleaved_timing


def train_steps(model: torch.nn.Module, steps: int = 20):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))

    def run() -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    return run


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    passport = LeNet(passports=(0, 1, 2))
    PassportKeystore.sample(passport, PassportPrior(sigma=5.0)).install(passport)
    step = interleaved_timing(train_steps(passport), train_steps(LeNet()), pairs=10)
    print(f"train step (batch 32), passport / plain: x{step.ratio:.2f}")

    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    config = FedConfig(rounds=1, local_steps=10, batch_size=32)
    factory = lambda: LeNet(passports=(0, 1, 2))  # noqa: E731
    clients = make_clients(x, y, 4, factory, Defence("passport", prior=PassportPrior(sigma=5.0)), config)
    initial = factory().state_dict()
    rounds = interleaved_timing(lambda: flower_round(clients, initial), lambda: run_fedavg(clients, initial, config),
                                pairs=6, warmup=1)
    print(f"FedAvg round (4 clients x 10 steps), Flower messages / in process: x{rounds.ratio:.2f}")

    model = LeNet().eval()
    candidates, iterations = 16, 20
    images, labels = torch.rand(candidates, 1, 28, 28), torch.randint(0, 10, (candidates,))
    targets = [exposed_gradient(model, images[i : i + 1], labels[i : i + 1]) for i in range(candidates)]
    attack = AttackConfig(iterations=iterations, restarts=1)
    starts = torch.from_numpy(np.random.default_rng(0).random((candidates, 1, 28, 28))).to(torch.float32)
    stacked = [torch.stack([t[j] for t in targets]) for j in range(len(targets[0]))]

    def batched() -> None:
        _batched_inverting_gradients(model, stacked, labels, starts, {}, attack)

    def one_by_one() -> None:
        for i in range(candidates):
            invert(model, targets[i], int(labels[i]), (1, 28, 28), attack, seed=i)

    restoration = interleaved_timing(one_by_one, batched, pairs=4, warmup=1)
    print(f"Inverting Gradients, {candidates} candidates x {iterations} steps, one at a time / batched: "
          f"x{restoration.ratio:.2f}")


if __name__ == "__main__":
    main()
