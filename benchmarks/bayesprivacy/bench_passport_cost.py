"""Cost of privacy: a training step of the passport LeNet vs the plain LeNet (the paper's "low computational
complexity" claim), and one FedAvg round driven through Flower's messages vs the in-process loop.

Run: .venv/bin/python benchmarks/bayesprivacy/bench_passport_cost.py
"""

from __future__ import annotations

import time

import torch

from tenfold.bayesprivacy import (
    Defence,
    FedConfig,
    LeNet,
    PassportKeystore,
    PassportPrior,
    make_clients,
    run_fedavg,
)
from tenfold.bayesprivacy.flower import flower_round


def step_time(model: torch.nn.Module, steps: int = 60) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    plain = step_time(LeNet())
    model = LeNet(passports=(0, 1, 2))
    PassportKeystore.sample(model, PassportPrior(sigma=5.0), seed=0).install(model)
    passport = step_time(model)
    print(f"train step (batch 32): plain {1e3 * plain:.2f} ms | passport {1e3 * passport:.2f} ms "
          f"(x{passport / plain:.2f})")

    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    config = FedConfig(rounds=1, local_steps=10, batch_size=32)
    factory = lambda: LeNet(passports=(0, 1, 2))  # noqa: E731
    defence = Defence("passport", prior=PassportPrior(sigma=5.0))
    initial = factory().state_dict()
    timings = {}
    for name in ("in-process", "flower"):
        clients = make_clients(x, y, 4, factory, defence, config)
        start = time.perf_counter()
        for _ in range(3):
            if name == "flower":
                flower_round(clients, initial)
            else:
                run_fedavg(clients, initial, config)
        timings[name] = (time.perf_counter() - start) / 3
    print(f"FedAvg round (4 clients x 10 steps): in-process {timings['in-process']:.3f} s | Flower messages "
          f"{timings['flower']:.3f} s (x{timings['flower'] / timings['in-process']:.2f})")


if __name__ == "__main__":
    main()
