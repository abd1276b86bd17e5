"""Federated learning with Bayesian privacy (Gu et al., arXiv 2109.13012): private passport layers whose
secrets never leave the client, FedAvg (in process or on Flower), restoration attacks and a leakage estimate."""

from tenfold.bayesprivacy.attacks import (
    AttackConfig,
    Restoration,
    exposed_gradient,
    infer_label,
    invert,
    restore,
)
from tenfold.bayesprivacy.fedavg import (
    Defence,
    FedClient,
    FedConfig,
    average_states,
    make_clients,
    run_fedavg,
)
from tenfold.bayesprivacy.keystore import PassportKeystore, PassportPrior, shared_state
from tenfold.bayesprivacy.leakage import epsilon_hat, psnr, ssim
from tenfold.bayesprivacy.model import LeNet
from tenfold.bayesprivacy.passport import MissingPassportError, PassportConv2d, passport_layers

__all__ = [
    "AttackConfig",
    "Defence",
    "FedClient",
    "FedConfig",
    "LeNet",
    "MissingPassportError",
    "PassportConv2d",
    "PassportKeystore",
    "PassportPrior",
    "Restoration",
    "average_states",
    "epsilon_hat",
    "exposed_gradient",
    "infer_label",
    "invert",
    "make_clients",
    "passport_layers",
    "psnr",
    "restore",
    "run_fedavg",
    "shared_state",
    "ssim",
]
