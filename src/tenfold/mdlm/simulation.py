"""Seeded overdamped Langevin dynamics on the slow 4-well + fast double-well model (spec 5.1).

The slow coordinate x crosses three Gaussian barriers between four flat-bottomed wells
(centres -1.5, -0.5, 0.5, 1.5); each of ``n_fast`` extra coordinates y flips in its own fast
double well. This reproduces the property of real MD that matters here (a rare slow event
hidden among fast, noisy degrees of freedom, like alanine dipeptide's phi flip beside psi).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError

try:  # numba is the [md] extra; without it the same kernel runs as vectorised numpy
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is installed with tenfold[md]
    numba = None
    HAVE_NUMBA = False

BASIN_CENTRES = np.array([-1.5, -0.5, 0.5, 1.5])


@dataclass(frozen=True)
class FourWellPotential:
    """Parameters of V(x) + sum_k U(y_k), in units of kT (spec 5.1)."""

    barrier_positions: tuple[float, ...] = (-1.0, 0.0, 1.0)
    barrier_heights: tuple[float, ...] = (4.0, 5.0, 4.0)
    barrier_width: float = 0.2
    wall_start: float = 1.7
    wall_stiffness: float = 20.0
    fast_height: float = 1.0
    friction_slow: float = 1.0
    friction_fast: float = 0.1

    def energy(self, x: np.ndarray) -> np.ndarray:
        """V(x) of the slow coordinate (kT)."""
        x = np.asarray(x, dtype=float)
        v = np.zeros_like(x)
        for b, h in zip(self.barrier_positions, self.barrier_heights, strict=True):
            v += h * np.exp(-((x - b) ** 2) / (2 * self.barrier_width**2))
        return v + self.wall_stiffness * np.maximum(np.abs(x) - self.wall_start, 0.0) ** 2

    def slow_force(self, x: np.ndarray) -> np.ndarray:
        """-dV/dx."""
        x = np.asarray(x, dtype=float)
        f = np.zeros_like(x)
        for b, h in zip(self.barrier_positions, self.barrier_heights, strict=True):
            f += h * (x - b) / self.barrier_width**2 * np.exp(-((x - b) ** 2) / (2 * self.barrier_width**2))
        excess = np.maximum(np.abs(x) - self.wall_start, 0.0)
        return f - 2 * self.wall_stiffness * excess * np.sign(x)

    def fast_force(self, y: np.ndarray) -> np.ndarray:
        """-dU/dy for U(y) = h_f (y^2 - 1)^2."""
        return -4.0 * self.fast_height * y * (y * y - 1.0)


def true_basins(x: np.ndarray) -> np.ndarray:
    """Ground-truth basin of each frame (0..3 from left to right), split at the barrier tops."""
    return np.digitize(np.asarray(x), [-1.0, 0.0, 1.0]).astype(np.int64)


def _kernel_numpy(state, noise, dt, steps_per_frame, params, out):
    """Advance ``state`` (W, 1+d) through ``noise`` (F, steps, W, 1+d); write one frame per block."""
    positions, heights, width, wall_start, stiffness, fast_h, g_slow, g_fast = params
    scale = np.empty(state.shape[1])
    scale[0] = np.sqrt(2.0 * dt / g_slow)
    scale[1:] = np.sqrt(2.0 * dt / g_fast)
    for frame in range(noise.shape[0]):
        for step in range(steps_per_frame):
            x = state[:, 0]
            f = np.zeros_like(x)
            for b, h in zip(positions, heights, strict=True):
                f += h * (x - b) / width**2 * np.exp(-((x - b) ** 2) / (2 * width**2))
            f -= 2 * stiffness * np.maximum(np.abs(x) - wall_start, 0.0) * np.sign(x)
            y = state[:, 1:]
            state[:, 0] += dt / g_slow * f + scale[0] * noise[frame, step, :, 0]
            state[:, 1:] += dt / g_fast * (-4.0 * fast_h * y * (y * y - 1.0)) + scale[1:] * noise[frame, step, :, 1:]
        out[:, frame] = state


if HAVE_NUMBA:

    @numba.njit(cache=True, fastmath=False)
    def _kernel_numba(state, noise, dt, steps_per_frame, positions, heights, width, wall_start, stiffness,
                      fast_h, g_slow, g_fast, out):  # pragma: no cover - compiled
        n_walkers, n_dims = state.shape
        s_slow = np.sqrt(2.0 * dt / g_slow)
        s_fast = np.sqrt(2.0 * dt / g_fast)
        for w in range(n_walkers):
            for frame in range(noise.shape[0]):
                for step in range(steps_per_frame):
                    x = state[w, 0]
                    f = 0.0
                    for k in range(positions.shape[0]):
                        d = x - positions[k]
                        f += heights[k] * d / (width * width) * np.exp(-d * d / (2 * width * width))
                    excess = abs(x) - wall_start
                    if excess > 0.0:
                        f -= 2 * stiffness * excess * (1.0 if x > 0 else -1.0)
                    state[w, 0] = x + dt / g_slow * f + s_slow * noise[frame, step, w, 0]
                    for k in range(1, n_dims):
                        y = state[w, k]
                        state[w, k] = y + dt / g_fast * (-4.0 * fast_h * y * (y * y - 1.0)) + s_fast * noise[frame, step, w, k]
                out[w, frame] = state[w]


def simulate(
    n_walkers: int = 64,
    n_frames: int = 20_000,
    n_fast: int = 2,
    *,
    steps_per_frame: int = 20,
    dt: float = 1e-3,
    potential: FourWellPotential | None = None,
    seed: int = 0,
    backend: str = "auto",
    chunk_frames: int = 500,
) -> np.ndarray:
    """Simulate walkers; returns float32 frames of shape (n_walkers, n_frames, 1 + n_fast), x first.

    Walkers start at random well centres (fast coordinates at +-1). The Gaussian noise comes from one
    numpy Generator in chunks, so the numba and numpy back ends give the same trajectory for a seed.
    """
    for name, value in (("n_walkers", n_walkers), ("n_frames", n_frames), ("steps_per_frame", steps_per_frame)):
        if int(value) < 1:
            raise BadConfigError(f"{name} must be >= 1, got {value}")
    if n_fast < 0:
        raise BadConfigError(f"n_fast must be >= 0, got {n_fast}")
    if not dt > 0:
        raise BadConfigError(f"dt must be > 0, got {dt}")
    if backend not in ("auto", "numba", "numpy"):
        raise BadConfigError(f"backend must be auto, numba or numpy, got {backend!r}")
    if backend == "numba" and not HAVE_NUMBA:
        raise BadConfigError("backend='numba' needs numba: pip install 'tenfold[md]'")
    use_numba = HAVE_NUMBA and backend != "numpy"
    pot = potential or FourWellPotential()
    rng = np.random.default_rng(seed)
    n_dims = 1 + n_fast
    state = np.empty((n_walkers, n_dims))
    state[:, 0] = rng.choice(BASIN_CENTRES, size=n_walkers)
    state[:, 1:] = rng.choice([-1.0, 1.0], size=(n_walkers, n_fast))
    frames = np.empty((n_walkers, n_frames, n_dims), dtype=np.float32)
    positions = np.asarray(pot.barrier_positions, dtype=float)
    heights = np.asarray(pot.barrier_heights, dtype=float)
    for start in range(0, n_frames, chunk_frames):
        stop = min(start + chunk_frames, n_frames)
        noise = rng.standard_normal((stop - start, steps_per_frame, n_walkers, n_dims))
        block = np.empty((n_walkers, stop - start, n_dims))
        if use_numba:
            _kernel_numba(state, noise, dt, steps_per_frame, positions, heights, pot.barrier_width,
                          pot.wall_start, pot.wall_stiffness, pot.fast_height, pot.friction_slow,
                          pot.friction_fast, block)
        else:
            params = (positions, heights, pot.barrier_width, pot.wall_start, pot.wall_stiffness,
                      pot.fast_height, pot.friction_slow, pot.friction_fast)
            _kernel_numpy(state, noise, dt, steps_per_frame, params, block)
        frames[:, start:stop] = block
    return frames
