"""Secret randomness for privacy mechanisms: OS entropy by default, a seed only when asked for.

A privacy guarantee that rests on noise or on a secret mixing matrix holds only if an attacker
cannot regenerate that randomness. A seeded ``default_rng(0)`` can be replayed from the code alone,
so every mechanism here draws from :func:`secret_generator`: numpy's Generator over randomgen's
ChaCha20 stream, keyed with 256 bits from the OS CSPRNG (``secrets``). ChaCha20 is a cryptographic
stream cipher, so its outputs do not reveal the key or later outputs (numpy's PCG64 and torch's
Mersenne Twister are fast but not designed to resist that). randomgen is Kevin Sheppard's library of
bit generators for numpy's Generator, so all of numpy's distributions stay available.

Reproducible runs (experiments, tests) opt in with an explicit ``insecure_seed``: the randomness is
then a plain PCG64 stream, a warning is emitted, and :func:`randomness_record` says so in the output's
metadata. What remains unmitigated is stated where each mechanism documents its guarantee: attacks on
the floating-point representation of Gaussian noise (mitigated only where noise is drawn as a sum of
several Gaussians, as Opacus' secure mode does), and side channels of the machine.
"""

from __future__ import annotations

import secrets
import warnings
from typing import TYPE_CHECKING, Any

from tenfold.core.errors import BadConfigError

if TYPE_CHECKING:
    import numpy as np
    import torch

SECURE_SOURCE = "os-csprng: ChaCha20 (randomgen) keyed with 256 bits from the OS (secrets.token_bytes)"


class InsecureSeedWarning(UserWarning):
    """A privacy mechanism ran on a replayable seed: fine for experiments and tests, never for a release."""


def check_insecure_seed(insecure_seed: int | None) -> int | None:
    if insecure_seed is None:
        return None
    if isinstance(insecure_seed, bool) or not isinstance(insecure_seed, int) or insecure_seed < 0:
        raise BadConfigError(f"insecure seed {insecure_seed!r}: give a whole number >= 0, or no seed for OS entropy")
    return insecure_seed


def secret_generator(insecure_seed: int | None = None, *, what: str = "the secret randomness") -> np.random.Generator:
    """A numpy Generator for secrets: ChaCha20 keyed from OS entropy, or PCG64(seed) if the caller opts in."""
    import numpy as np

    seed = check_insecure_seed(insecure_seed)
    if seed is not None:
        warnings.warn(
            f"{what} comes from the replayable seed {seed}: anyone with the seed can regenerate it. "
            "Use no seed for a real release.",
            InsecureSeedWarning,
            stacklevel=2,
        )
        return np.random.Generator(np.random.PCG64(seed))
    from randomgen import ChaCha

    key = int.from_bytes(secrets.token_bytes(32), "little")
    return np.random.Generator(ChaCha(key=key, counter=0, rounds=20))


def randomness_record(insecure_seed: int | None) -> dict[str, Any]:
    """Metadata for an output file: where its secret randomness came from (never the key itself)."""
    seed = check_insecure_seed(insecure_seed)
    if seed is None:
        return {"randomness": SECURE_SOURCE, "insecure_seed": None}
    return {"randomness": f"INSECURE: numpy PCG64 seeded with {seed} (replayable; for experiments and tests only)",
            "insecure_seed": seed}


def secret_gaussian(
    generator: np.random.Generator, size: int | tuple[int, ...], *, std: float = 1.0, summands: int = 4
) -> np.ndarray:
    """N(0, std^2) noise drawn as the scaled sum of ``summands`` Gaussians (float64).

    Four summands follow Opacus' secure mode (Holohan and Braghin, 2021): a sum of several draws hides
    the floating-point lattice of a single Gaussian sample, which otherwise lets an attacker who sees
    value + noise narrow down the value. It mitigates that attack; it is not an exact discrete Gaussian.
    """
    import math

    import numpy as np

    if summands < 1:
        raise BadConfigError(f"summands must be at least 1, got {summands}")
    values = generator.standard_normal(size=size, dtype=np.float64)
    for _ in range(summands - 1):
        values += generator.standard_normal(size=size, dtype=np.float64)
    values *= float(std) / math.sqrt(summands)
    return values


def secret_normal(
    shape: tuple[int, ...],
    generator: np.random.Generator,
    *,
    std: float = 1.0,
    dtype: torch.dtype | None = None,
    summands: int = 1,
) -> torch.Tensor:
    """A torch tensor of N(0, std^2) draws from ``generator`` (torch's own generators are not cryptographic);
    ``summands=4`` draws it as :func:`secret_gaussian` does."""
    import torch

    values = secret_gaussian(generator, shape, std=std, summands=summands)
    return torch.from_numpy(values).to(dtype or torch.get_default_dtype())


def torch_generator(insecure_seed: int | None = None) -> torch.Generator:
    """A torch Generator seeded from 64 bits of OS entropy (or the opted-in seed), for libraries that only
    take a torch Generator. Its Mersenne Twister stream is not cryptographic: prefer :func:`secret_normal`
    where the draws themselves must stay secret."""
    import torch

    seed = check_insecure_seed(insecure_seed)
    generator = torch.Generator()
    generator.manual_seed(secrets.randbits(63) if seed is None else seed)
    return generator
