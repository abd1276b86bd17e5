"""The client-side keystore of secret passports: sampled from a seeded prior, installed into a model,
saved to and loaded from its own file, never part of the model's state dict or the FL payload."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tenfold.bayesprivacy.passport import MissingPassportError, passport_layers
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError


@dataclass(frozen=True)
class PassportPrior:
    """The distribution passports are drawn from: ``normal(mu, sigma^2)`` or ``uniform(-1, 1)`` (DeepIPR)."""

    distribution: str = "normal"
    mu: float = 1.0
    sigma: float = 5.0

    def __post_init__(self) -> None:
        if self.distribution not in ("normal", "uniform"):
            raise BadConfigError(f"unknown passport distribution {self.distribution!r}; use 'normal' or 'uniform'")
        if self.distribution == "normal" and not (math.isfinite(self.sigma) and self.sigma > 0 and math.isfinite(self.mu)):
            raise BadConfigError(f"passport prior needs a finite mu and sigma > 0, got mu={self.mu}, sigma={self.sigma}")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        if self.distribution == "uniform":
            return torch.rand(shape, generator=generator) * 2 - 1
        return self.mu + self.sigma * torch.randn(shape, generator=generator)


@dataclass
class PassportKeystore:
    """Passports by layer name: ``{name: (gamma_passport, beta_passport)}``, each (1, C_in, H, W)."""

    passports: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @classmethod
    def sample(cls, model: nn.Module, prior: PassportPrior = PassportPrior(), seed: int = 0) -> PassportKeystore:
        """Draw fresh passports for every passport layer of ``model`` (seeded)."""
        generator = torch.Generator().manual_seed(seed)
        passports = {}
        for name, layer in passport_layers(model).items():
            shape = (1, *layer.input_shape)
            passports[name] = (prior.sample(shape, generator), prior.sample(shape, generator))
        return cls(passports)

    def install(self, model: nn.Module) -> nn.Module:
        """Put the passports into the model's passport layers; every layer must get its own."""
        layers = passport_layers(model)
        missing = sorted(set(layers) - set(self.passports))
        if missing:
            raise MissingPassportError(f"the keystore has no passports for layer(s) {', '.join(missing)}")
        extra = sorted(set(self.passports) - set(layers))
        if extra:
            raise BadInputError(f"the keystore has passports for unknown layer(s) {', '.join(extra)}")
        for name, layer in layers.items():
            layer.set_passports(*self.passports[name])
        return model

    def save(self, path: str | Path) -> None:
        """Write the keystore (safetensors) atomically; keep this file on the client."""
        from safetensors.torch import save

        from tenfold.core.io import atomic_write_bytes

        tensors = {}
        for name, (gamma, beta) in self.passports.items():
            tensors[f"{name}::gamma"] = gamma.contiguous()
            tensors[f"{name}::beta"] = beta.contiguous()
        atomic_write_bytes(Path(path), save(tensors))

    @classmethod
    def load(cls, path: str | Path) -> PassportKeystore:
        """Read a keystore written by :meth:`save`; a missing file is an error, never a random re-init."""
        from safetensors import SafetensorError
        from safetensors.torch import load

        path = Path(path)
        if not path.exists():
            raise MissingDataError(
                f"passport keystore {path} does not exist; without it the model cannot be used "
                "(passports are never re-drawn silently)"
            )
        try:
            tensors = load(path.read_bytes())
        except (SafetensorError, ValueError) as error:
            raise BadInputError(f"{path} is not a passport keystore ({error})") from None
        names = sorted({key.rsplit("::", 1)[0] for key in tensors})
        try:
            return cls({name: (tensors[f"{name}::gamma"], tensors[f"{name}::beta"]) for name in names})
        except KeyError as error:
            raise BadInputError(f"{path} lacks passport {error}; the keystore is incomplete") from None


def shared_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a client may send: the state dict, checked to hold no passport."""
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    leaked = [key for key in state if "passport" in key]
    if leaked:  # passports are non-persistent buffers; this guards against a future change
        raise AssertionError(f"passports would leave the client: {leaked}")
    return state
