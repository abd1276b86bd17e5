"""Release speed and peak memory: sparse Poisson mixing (ours) vs the official dense n x n matrix; and the
price of secret randomness (ChaCha20 from OS entropy, four Gaussian draws per noise value) against the
replayable single-draw PCG64 noise it replaced.

    .venv/bin/python benchmarks/dpfmix/bench_release.py [--n-dense 6000] [--n-sparse 60000] [--d 512]

Noise calibration is left out (it is the same for both); this times mixing + noise on 512-d features at
m = 64, T = n. Peak memory is numpy's allocation peak from tracemalloc. Times are process CPU time, each
the median of interleaved repeats, so the ratios hold on a shared machine.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from tenfold.core.randomness import secret_generator
from tenfold.dpfmix.mixing import dense_mixing_matrix, gaussian_noise, poisson_mixing_matrix


def _release(features: np.ndarray, m: float, sigma: float, dense: bool, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = features.shape[0]
    tracemalloc.start()
    start = time.perf_counter()
    matrix = dense_mixing_matrix(n, n, m, rng) if dense else poisson_mixing_matrix(n, n, m, rng)
    mixed = matrix @ features
    mixed += rng.normal(0.0, sigma / m, size=mixed.shape).astype(mixed.dtype)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20


def _noise_cost(shape: tuple[int, int], repeats: int = 5) -> dict[str, float]:
    """Median CPU seconds of the noise for one release: secure (ChaCha20, 4 draws), 4 draws from PCG64, and
    the old single PCG64 draw, interleaved so machine load hits all three alike."""
    secure = secret_generator()
    seeded = np.random.default_rng(0)
    arms = {
        "secure: ChaCha20 x 4 draws": lambda: gaussian_noise(secure, shape, 1.0),
        "PCG64 x 4 draws": lambda: gaussian_noise(seeded, shape, 1.0),
        "old: PCG64 x 1 draw": lambda: seeded.normal(0.0, 1.0, size=shape),
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):
        for name, draw in arms.items():
            start = time.process_time()
            draw()
            times[name].append(time.process_time() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-dense", type=int, default=6000)
    parser.add_argument("--n-sparse", type=int, default=60000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--m", type=float, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    small = rng.normal(size=(args.n_dense, args.d)).astype(np.float32)
    small /= np.linalg.norm(small, axis=1, keepdims=True)
    t_sparse, mem_sparse = _release(small, args.m, 1.0, dense=False)
    t_dense, mem_dense = _release(small, args.m, 1.0, dense=True)
    print(f"n = T = {args.n_dense}, d = {args.d}, m = {args.m:g}")
    print(f"  sparse (ours): {t_sparse:7.2f} s, peak {mem_sparse:8.1f} MiB")
    print(f"  dense (official): {t_dense:7.2f} s, peak {mem_dense:8.1f} MiB")
    print(f"  speed-up x{t_dense / t_sparse:.1f}, memory saving x{mem_dense / mem_sparse:.1f}")
    big = rng.normal(size=(args.n_sparse, args.d)).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    t_big, mem_big = _release(big, args.m, 1.0, dense=False)
    dense_bytes = args.n_sparse**2 * 4 / 2**20
    print(f"n = T = {args.n_sparse}: sparse {t_big:.2f} s, peak {mem_big:.1f} MiB; "
          f"the dense matrix alone would need {dense_bytes:,.0f} MiB (x{dense_bytes / mem_big:.0f} more)")
    costs = _noise_cost((args.n_dense, args.d))
    baseline = costs["old: PCG64 x 1 draw"]
    print(f"noise for one release of {args.n_dense} x {args.d} (CPU s, median of 5, ratio to the old draw):")
    for name, seconds in costs.items():
        print(f"  {name:28s} {seconds:7.3f} s  x{seconds / baseline:.1f}")


if __name__ == "__main__":
    main()
