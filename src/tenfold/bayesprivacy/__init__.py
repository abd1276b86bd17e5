"""Federated learning with Bayesian privacy (Gu et al., arXiv 2109.13012): private passport layers whose
secrets never leave the client, FedAvg (in process or on Flower), restoration attacks and a leakage estimate."""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "AttackConfig": "attacks",
    "Defence": "fedavg",
    "FedClient": "fedavg",
    "FedConfig": "fedavg",
    "LeNet": "model",
    "MissingPassportError": "passport",
    "PassportConv2d": "passport",
    "PassportKeystore": "keystore",
    "PassportPrior": "keystore",
    "Restoration": "attacks",
    "average_states": "fedavg",
    "epsilon_hat": "leakage",
    "exposed_gradient": "attacks",
    "infer_label": "attacks",
    "invert": "attacks",
    "make_clients": "fedavg",
    "passport_layers": "passport",
    "restore": "attacks",
    "restore_many": "attacks",
    "secure_gaussian": "noise",
    "SecretNoiseDPOptimizer": "dpsgd",
    "dp_local_training": "dpsgd",
    "client_shards": "fedavg",
    "run_fedavg": "fedavg",
    "shared_state": "keystore",
    "ssim": "leakage",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.bayesprivacy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.bayesprivacy.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
