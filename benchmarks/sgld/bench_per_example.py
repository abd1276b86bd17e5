"""Per-example gradients for the leakage terms: torch.func vmap vs a naive per-sample backward loop,
and the closed form for the linear softmax; a whole run with the leakage terms from torch.func, from the
factored closed form (never materialising the (N, K d) gradients), and without them (the trend seeds);
plus the grid's snapshot reuse vs one run per step count. CPU times, interleaved, medians.

    .venv/bin/python benchmarks/sgld/bench_per_example.py
"""

from __future__ import annotations

import time

import torch

from tenfold.sgld.digits_task import digits_task
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.per_example import linear_softmax_gradients, per_example_gradients
from tenfold.sgld.trajectory import run_sgld


def _timed(function, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def _naive(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    rows = []
    for i in range(x.shape[0]):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    return torch.stack(rows)


def main() -> None:
    torch.set_num_threads(1)
    task = digits_task(300, 300, seed=0)
    x = torch.as_tensor(task.x_train).repeat(2, 1)
    y = torch.as_tensor(task.y_train).repeat(2)
    model = LinearSoftmax(65, 10)
    torch.nn.init.normal_(model.linear.weight, std=0.1)
    naive = _timed(lambda: _naive(model, x, y), 2)
    vmapped = _timed(lambda: per_example_gradients(model, x, y), 20)
    closed = _timed(lambda: linear_softmax_gradients(model.linear.weight, x, y), 50)
    print("per-example gradients of 600 records (650 parameters):")
    print(f"  naive loop {naive * 1e3:8.2f} ms | torch.func vmap {vmapped * 1e3:6.2f} ms | closed form {closed * 1e3:6.2f} ms")
    print(f"  vmap speed-up over loop x{naive / vmapped:.0f}; closed form over vmap x{vmapped / closed:.1f}")

    def run(steps: int, snapshots: list[int], **kwargs) -> None:
        run_sgld(LinearSoftmax(65, 10), task.x_train, task.y_train, task.x_heldout, task.y_heldout,
                 task.x_population, task.y_population, beta=1e3, lr=0.5, steps=steps, snapshot_at=snapshots,
                 seed=0, **kwargs)

    modes = {"leakage via torch.func": dict(gradients="torch.func"), "leakage factored (default)": {},
             "gap only (trend seeds)": dict(leakage=False)}
    cpu: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(3):
        for name, kwargs in modes.items():
            start = time.process_time()
            run(200, [200], **kwargs)
            cpu[name].append(time.process_time() - start)
    reference = sorted(cpu["leakage via torch.func"])[1]
    print("one 200-step run (CPU s, median of 3):")
    for name, values in cpu.items():
        print(f"  {name:28s} {sorted(values)[1]:6.3f} s  x{reference / sorted(values)[1]:.1f} faster than torch.func")

    start = time.perf_counter()
    run(400, [25, 100, 400])
    reuse = time.perf_counter() - start
    start = time.perf_counter()
    for t in (25, 100, 400):
        run(t, [t])
    separate = time.perf_counter() - start
    print(f"grid over T in (25, 100, 400): snapshots of one run {reuse:.2f} s vs separate runs {separate:.2f} s "
          f"(x{separate / reuse:.2f})")


if __name__ == "__main__":
    main()
