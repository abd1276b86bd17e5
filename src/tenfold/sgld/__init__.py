"""SGLD generalization bounds via information leakage (Wu, Liang, Bian, Chen, Huang, Yao 2021).

Public API: the :class:`SGLD` optimizer with an explicit inverse temperature, temperature conversions,
per-example gradients, the trajectory runner that accumulates leakage, the bounds, and the leakage audit.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "CONVENTIONS": "temperature",
    "CanaryAudit": "canary",
    "GridResult": "grid",
    "LangevinRun": "trajectory",
    "LinearSoftmax": "models",
    "MembershipAudit": "audit",
    "SGLD": "optimizer",
    "Snapshot": "trajectory",
    "bound_dp": "bounds",
    "bound_kl": "bounds",
    "bound_li": "bounds",
    "bound_lipschitz": "bounds",
    "bound_mou": "bounds",
    "bound_negrea": "bounds",
    "bound_pensia": "bounds",
    "canary_audit": "canary",
    "check_per_example_compatible": "per_example",
    "clip_per_example": "per_example",
    "clopper_pearson": "audit",
    "dp_noise_multiplier": "bounds",
    "dp_total_variation": "bounds",
    "empirical_epsilon": "audit",
    "gap_trend_slopes": "grid",
    "grid_study": "grid",
    "inverse_temperature": "temperature",
    "membership_audit": "audit",
    "noise_std": "temperature",
    "per_example_gradients": "per_example",
    "run_sgld": "trajectory",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.sgld' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.sgld.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
