"""DPFMix: differentially private data release by random feature mixup (Li, Cao, Yao 2022).

Public API: :class:`DPFMixRelease` (the release), :func:`optimal_m` (the sweet spot), the PLD/GDP
accounting helpers, public-only feature maps, downstream models and the membership-inference check.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "ADJACENCIES": "accounting",
    "DPFMixRelease": "release",
    "HOGFeatures": "features",
    "OptimalM": "mstar",
    "PixelFeatures": "features",
    "PrivateFitError": "features",
    "PublicPCA": "features",
    "ReleasedData": "release",
    "SoftLabelRidge": "downstream",
    "SoftmaxRegression": "downstream",
    "U_STAR": "mstar",
    "calibrate_sigma": "accounting",
    "closed_form_m": "mstar",
    "gaussian_noise": "mixing",
    "gdp_advantage_bound": "accounting",
    "gdp_auc_bound": "accounting",
    "gdp_mu_from_eps": "accounting",
    "gdp_mu_from_sigma": "accounting",
    "gdp_sigma_from_mu": "accounting",
    "loss_threshold_attack": "downstream",
    "optimal_m": "mstar",
    "pld_epsilon": "accounting",
    "poisson_mixing_matrix": "mixing",
    "prv_epsilon": "accounting",
    "split_noise": "mixing",
    "train_dpsgd_linear": "dpsgd",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.dpfmix' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.dpfmix.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
