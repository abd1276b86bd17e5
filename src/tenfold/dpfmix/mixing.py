"""The random mixup mechanism: a sparse T x n Poisson mixing matrix with fixed 1/m weights, the noise split,
and the Gaussian noise itself.

Row j of the matrix holds 1/m at each record Poisson-sampled (rate p = m/n) into mixture j. The weight is
the fixed 1/m, not 1/|S_j|: with it one record moves one mixture by at most (C_x/m, C_y/m), which is what
the Gaussian-mechanism sensitivity needs. Memory is O(T m), never the official code's dense n x n.

Both the matrix and the noise are secrets: whoever can regenerate them can subtract the noise and invert
the mixing, recovering every clipped record. They are drawn from the generator the caller passes, which
the release takes from :func:`tenfold.core.randomness.secret_generator` (ChaCha20 keyed from OS entropy).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from tenfold.core.errors import BadConfigError
from tenfold.core.randomness import secret_gaussian


def poisson_mixing_matrix(
    n: int, releases: int, m: float, rng: np.random.Generator, *, rate: float | None = None
) -> sparse.csr_matrix:
    """CSR (releases x n): entry (j, i) = 1/m when record i is in mixture j (independently, prob ``rate``).

    ``rate`` defaults to m/n; a release accounted under add/remove passes m / n_public, fixed before the
    data are seen, so it does not depend on the private record count.
    """
    if n < 1 or releases < 1:
        raise BadConfigError(f"need n >= 1 records and T >= 1 releases, got n={n}, T={releases}")
    if not (math.isfinite(m) and m > 0):
        raise BadConfigError(f"mixup degree m={m} must be positive")
    rate = m / n if rate is None else float(rate)
    if not (0 < rate < 1):
        raise BadConfigError(f"mixup degree m={m} must satisfy 0 < m < n={n} (sampling rate {rate:g} must lie in (0, 1))")
    # Poisson sampling of every (mixture, record) pair is a Bernoulli(p) process over the T*n flattened
    # pairs; its successes are found by cumulating Geometric(p) gaps, so the cost is O(T m), vectorised.
    total = releases * n
    pieces = []
    last = -1
    while True:
        expected = (total - last) * rate
        chunk = int(expected + 6 * math.sqrt(expected + 1) + 16)
        new = last + np.cumsum(rng.geometric(rate, size=chunk).astype(np.int64))
        inside = new[new < total]
        pieces.append(inside)
        if inside.shape[0] < chunk:
            break
        last = int(new[-1])
    rows, cols = np.divmod(np.concatenate(pieces), n)
    indptr = np.zeros(releases + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=releases), out=indptr[1:])
    data = np.full(cols.shape[0], 1.0 / m, dtype=np.float64)
    return sparse.csr_matrix((data, cols, indptr), shape=(releases, n))


def dense_mixing_matrix(n: int, releases: int, m: float, rng: np.random.Generator) -> np.ndarray:
    """The official code's dense construction (uniform(0,1) < p, times 1/m); for benchmarks only."""
    return (rng.random((releases, n), dtype=np.float32) < (m / n)).astype(np.float32) / np.float32(m)


# Gaussian draws summed per noise value (Holohan & Braghin 2021, section 5.1; Opacus' secure_mode uses 4).
NOISE_SUMMANDS = 4


def gaussian_noise(generator: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """N(0, std^2) values drawn as core's secure sum of four Gaussians (Opacus' secure mode).

    A single floating-point Gaussian sample leaks the low-order bits of the generator's output, which
    floating-point attacks (Jin et al. 2022) use to tell neighbouring data sets apart; a sum of several
    draws spreads that structure over 2^(53 (2k - 1)) candidates. This mitigates, it does not prove: an
    exact discrete Gaussian would be needed for a formal guarantee on floating-point hardware.
    """
    if not (math.isfinite(std) and std >= 0):
        raise BadConfigError(f"noise standard deviation must be finite and >= 0, got {std!r}")
    return secret_gaussian(generator, shape, std=std, summands=NOISE_SUMMANDS)


def split_noise(sigma: float, lam: float = 1.0) -> tuple[float, float]:
    """(sigma_x, sigma_y) with 1/sigma_x^2 + 1/sigma_y^2 = 1/sigma^2: features and labels share the budget."""
    if not (lam > 0 and math.isfinite(lam)):
        raise BadConfigError(f"noise split lambda must be positive and finite, got {lam!r}")
    return sigma * math.sqrt(1 + 1 / lam**2), sigma * math.sqrt(1 + lam**2)


def clip_rows(x: np.ndarray, bound: float) -> tuple[np.ndarray, float]:
    """Rescale each row to L2 norm <= bound; returns the clipped rows and the fraction that were clipped."""
    norms = np.linalg.norm(x, axis=1)
    factor = np.minimum(1.0, bound / np.maximum(norms, 1e-300))
    clipped = float(np.mean(norms > bound * (1 + 1e-12))) if x.shape[0] else 0.0
    return x * factor[:, None], clipped
