"""Federated learning with Bayesian privacy (Gu et al., arXiv 2109.13012): private passport layers whose
secrets never leave the client, FedAvg (in process or on Flower), restoration attacks and a leakage estimate.

Security model (what is and is not mitigated)
---------------------------------------------
Secrets are drawn from :func:`tenfold.core.randomness.secret_generator`: ChaCha20 keyed with 256 bits from
the OS CSPRNG, a fresh key per federation (or per keystore, or per attack command).

- Passports (the defence's whole secret) are sampled from that stream, kept in a client-side keystore file
  written owner-only (0600) whose metadata records where the randomness came from, never in a state dict,
  checkpoint or FL payload; loading a keystore never falls back to drawing new passports. Mitigated: an
  attacker who replays the code's seeding (the oracle attack, as good as no defence). Not mitigated: theft of
  the keystore file or of the client's memory; the adaptive attack that optimises every layer's scale and
  bias with the image (measured, reported as a limitation where it succeeds).
- The noise defence and DP-SGD draw their Gaussian noise from the same kind of stream as half the sum of four
  float64 Gaussians, rounded once (:mod:`tenfold.bayesprivacy.noise`): Opacus' ``secure_mode`` mitigation of
  floating-point attacks on Gaussian samplers. DP-SGD's Poisson batch sampling uses the stream too, and its
  (epsilon, delta) comes from Opacus' RDP accountant. Opacus' own ``secure_mode`` is not used: it needs the
  archived ``torchcsprng``. Not mitigated: the noise is a rounded float Gaussian, not a discrete Gaussian, so
  the DP guarantee is that of the idealised real-valued mechanism (the four-draw sum raises the cost of the
  known float attacks, it does not prove them impossible); timing and cache side channels.
- Not secret, and seeded for reproducible training: the data split, the minibatch order of the non-DP
  defences (``FedConfig.seed``, ``--seed``) and the attacker's own randomness.
- Reproducible runs (experiments, tests) opt in with ``FedConfig.insecure_seed`` / ``--insecure-seed``: a
  replayable PCG64 stream, warned about and recorded in the output's metadata (``config.json``, keystores).
"""

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
