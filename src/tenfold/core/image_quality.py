"""Image fidelity numbers shared by methods that compare images (reshaping, triggers, restorations)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tenfold.core.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np


def psnr(reference: np.ndarray, image: np.ndarray, *, data_range: float = 1.0, max_db: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range^2 / MSE)``.

    Identical images give ``inf`` (the honest value); ``max_db`` caps it where a mean over many images
    must stay finite (restoration studies cap at 100 dB). Use ``data_range=255`` for uint8 pixels.
    """
    import numpy as np

    reference = np.asarray(reference, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    if reference.shape != image.shape:
        raise BadInputError(f"psnr: shapes differ, {reference.shape} vs {image.shape}")
    if not (data_range > 0 and math.isfinite(data_range)):
        raise BadInputError(f"psnr: data_range must be a positive number, got {data_range}")
    mse = float(np.mean((reference - image) ** 2))
    value = math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
    return value if max_db is None else min(value, max_db)
