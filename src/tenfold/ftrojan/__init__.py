"""FTrojan (Wang et al., ECCV 2022): an invisible backdoor written into mid/high DCT coefficients of the
chroma channels, with poisoning, baseline attacks and an attacks x defences harness."""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "BadNetsTrigger": "baselines",
    "BlendedTrigger": "baselines",
    "DEFAULT_POSITIONS": "trigger",
    "FrequencyTrigger": "trigger",
    "NeuralCleanseConfig": "neural_cleanse",
    "PoisonedSet": "poison",
    "SIGTrigger": "baselines",
    "analytic_psnr": "trigger",
    "block_dct": "dct",
    "block_idct": "dct",
    "dct_matrix": "dct",
    "neural_cleanse": "neural_cleanse",
    "official_trigger": "official",
    "poison_clean_label": "poison",
    "poison_count": "poison",
    "poison_dirty_label": "poison",
    "rgb_to_ycrcb": "dct",
    "ycrcb_to_rgb": "dct",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.ftrojan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.ftrojan.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
