"""Secret Gaussian noise for the noise and DP-SGD defences.

The noise protects an exposed gradient only while nobody can regenerate it, so it is drawn from core's
:func:`~tenfold.core.randomness.secret_generator` (ChaCha20 keyed from OS entropy; a replayable seed only
when a caller opts in) and never from torch's Mersenne Twister.

Each draw is the sum of four independent N(0, std^2) samples halved, which is N(0, std^2) again: the
defence Opacus' ``secure_mode`` applies against floating-point attacks on Gaussian samplers (Holohan and
Braghin 2021, sec. 5.1; Jin et al. 2022), which recover the sampler's state or the noiseless value from
the low bits of one float sample; summing four raises the attacker's search from about 2^53 to 2^159.
The draws are made in float64 and rounded once to the model's dtype.

What this does not mitigate: the result is still a rounded float Gaussian, not a discrete Gaussian, so the
formal DP guarantee holds for the idealised real-valued mechanism only; and timing or cache side channels of
the machine are out of scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tenfold.core.errors import BadConfigError

if TYPE_CHECKING:
    import numpy as np

SUMMANDS = 4


def secure_gaussian(
    shape: tuple[int, ...] | torch.Size, generator: np.random.Generator, *, std: float, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """N(0, std^2) noise of ``shape`` from ``generator``, drawn as half the sum of four Gaussians (float64)."""
    from tenfold.core.randomness import secret_normal

    if not (std >= 0 and std < float("inf")):
        raise BadConfigError(f"noise std must be a finite number >= 0, got {std}")
    shape = tuple(int(s) for s in shape)
    total = torch.zeros(shape, dtype=torch.float64)
    if std == 0:
        return total.to(dtype or torch.get_default_dtype())
    for _ in range(SUMMANDS):
        total += secret_normal(shape, generator, std=std, dtype=torch.float64)
    return (total / (SUMMANDS**0.5)).to(dtype or torch.get_default_dtype())
