"""Speed of the mdlm building blocks, each against a baseline run in the same process.

    .venv/bin/python benchmarks/mdlm/bench_mdlm.py

1. Langevin simulation: the numba kernel and the walker-vectorised numpy kernel vs a per-step
   Python loop over walkers (steps per second).
2. Language-model sampling: LSTM with a carried hidden state, and the Transformer with its key/value
   cache, vs the Transformer re-encoding its full window every token (states per second).
3. MFPT counting: the vectorised run-based passage times vs a per-frame Python loop.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from tenfold.mdlm import FourWellPotential, StateLanguageModel, passage_times, simulate


def timed(function, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def python_loop_simulation(n_walkers: int, n_frames: int, n_fast: int, steps_per_frame: int = 20) -> np.ndarray:
    """The naive baseline: one Python-level update per walker per integrator step."""
    pot = FourWellPotential()
    rng = np.random.default_rng(0)
    dt = 1e-3
    state = rng.choice([-1.5, -0.5, 0.5, 1.5], size=n_walkers).astype(float)
    fast = np.ones((n_walkers, n_fast))
    out = np.empty((n_walkers, n_frames, 1 + n_fast))
    for frame in range(n_frames):
        for _ in range(steps_per_frame):
            for w in range(n_walkers):
                x = state[w]
                f = float(pot.slow_force(np.array([x]))[0])
                state[w] = x + dt * f + np.sqrt(2 * dt) * rng.standard_normal()
                y = fast[w]
                fast[w] = y + dt / 0.1 * pot.fast_force(y) + np.sqrt(2 * dt / 0.1) * rng.standard_normal(n_fast)
        out[:, frame, 0] = state
        out[:, frame, 1:] = fast
    return out


def naive_passage_times(d: np.ndarray, i: int, j: int) -> list[int]:
    times, start = [], None
    for t, s in enumerate(d):
        if s == j and start is not None:
            times.append(t - start)
            start = None
        elif s == i and start is None:
            start = t
    return times


def main() -> None:
    torch.set_num_threads(1)
    walkers, frames = 64, 2000
    steps = walkers * frames * 20
    simulate(2, 10, 2)  # compile (or load the numba cache) outside the timing
    t_numba = timed(lambda: simulate(walkers, frames, 2, backend="numba"), 2)
    t_numpy = timed(lambda: simulate(walkers, frames // 10, 2, backend="numpy")) * 10
    t_loop = timed(lambda: python_loop_simulation(walkers, 5, 2)) * frames / 5
    print(f"simulation, {walkers} walkers x {frames} frames x 20 steps (d=2):")
    print(f"  numba              {steps / t_numba:12.0f} walker-steps/s")
    print(f"  numpy (vectorised) {steps / t_numpy:12.0f} walker-steps/s   numba/numpy = {t_numpy / t_numba:.1f}x")
    print(f"  python loop        {steps / t_loop:12.0f} walker-steps/s   numba/loop = {t_loop / t_numba:.0f}x, "
          f"numpy/loop = {t_loop / t_numpy:.0f}x")

    tokens = [np.random.default_rng(1).integers(0, 100, 5000)]
    chains, length = 64, 2000
    seeds = np.random.default_rng(2).integers(0, 100, (chains, 100))
    lstm = StateLanguageModel("lstm", window=100, steps=1, n_states=100).fit(tokens)
    transformer = StateLanguageModel("transformer", hidden_dim=32, window=100, steps=1, n_states=100).fit(tokens)
    t_lstm = timed(lambda: lstm.generate(seeds, length))
    t_cache = timed(lambda: transformer.generate(seeds, length))

    def full_window():
        net = transformer.network.eval()
        window = torch.as_tensor(seeds)
        with torch.inference_mode():
            for _ in range(length):
                logits, _ = net(window)
                nxt = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)
                window = torch.cat([window, nxt], 1)[:, -100:]

    t_full = timed(full_window)
    states = chains * length
    print(f"sampling, {chains} chains x {length} tokens (V=100, context 100):")
    print(f"  LSTM, carried state          {states / t_lstm:10.0f} states/s")
    print(f"  Transformer, KV cache        {states / t_cache:10.0f} states/s   cache/full-window = {t_full / t_cache:.1f}x")
    print(f"  Transformer, full window     {states / t_full:10.0f} states/s   LSTM/Transformer(cache) = {t_cache / t_lstm:.1f}x")

    d = np.random.default_rng(3).integers(0, 4, 200_000)
    t_vec = timed(lambda: [passage_times(d, i, j) for i in range(4) for j in range(4) if i != j], 3)
    t_naive = timed(lambda: [naive_passage_times(d, i, j) for i in range(4) for j in range(4) if i != j])
    print(f"MFPT counting, 200,000 frames x 12 pairs: vectorised {t_vec * 1e3:.1f} ms, "
          f"python loop {t_naive * 1e3:.0f} ms, ratio {t_naive / t_vec:.0f}x")


if __name__ == "__main__":
    main()
