"""The client-side keystore of secret passports: sampled from OS entropy, installed into a model, saved to its
own owner-only file, never part of the model's state dict or the FL payload.

The passports are the whole secret of the defence: an attacker who can regenerate them runs the oracle
attack, which restores images as well as on an undefended model. So they are drawn from core's
:func:`~tenfold.core.randomness.secret_generator` (ChaCha20 keyed with 256 bits of OS entropy); a replayable
seed is used only when a caller opts in with ``insecure_seed`` (experiments, tests), and the file records
which of the two it was. Loading never falls back to drawing new passports.
"""

from __future__ import annotations

import math
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tenfold.bayesprivacy.passport import DEAD_GAMMA, MissingPassportError, passport_layers
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

if TYPE_CHECKING:
    import numpy as np

KEYSTORE_FORMAT = "tenfold-bayesprivacy-passport-keystore"
RESAMPLE_DEAD = 20  # draws per layer before a passport with a near-zero gamma channel is kept anyway
KEYSTORE_VERSION = "1"


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

    def sample(self, shape: tuple[int, ...], generator: np.random.Generator) -> torch.Tensor:
        """Draws of ``shape`` (float32) from a numpy generator (float64 draws, rounded once)."""
        if self.distribution == "uniform":
            values = generator.uniform(-1.0, 1.0, size=shape)
        else:
            values = generator.normal(self.mu, self.sigma, size=shape)
        return torch.from_numpy(values).to(torch.float32)


@dataclass
class PassportKeystore:
    """Passports by layer name: ``{name: (gamma_passport, beta_passport)}``, each (1, C_in, H, W).

    ``record`` says where the passports' randomness came from (:func:`~tenfold.core.randomness.randomness_record`);
    it is written into the keystore file's metadata.
    """

    passports: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def sample(
        cls,
        model: nn.Module,
        prior: PassportPrior = PassportPrior(),
        *,
        insecure_seed: int | None = None,
        generator: np.random.Generator | None = None,
        record: dict[str, Any] | None = None,
    ) -> PassportKeystore:
        """Draw fresh passports for every passport layer of ``model`` (a draw that leaves some channel's gamma ~0
        under the model's current weights is drawn again).

        Default: a new ChaCha20 stream keyed from OS entropy. ``insecure_seed``: a replayable stream, for
        experiments and tests only (warns). ``generator``: draw from the caller's stream (a federation shares
        one secret stream among its clients); ``record`` then says where that stream came from.
        """
        from tenfold.core.randomness import randomness_record, secret_generator

        if generator is None:
            generator = secret_generator(insecure_seed, what="the passports")
            record = randomness_record(insecure_seed)
        elif insecure_seed is not None:
            raise BadConfigError("give either a generator or an insecure seed for the passports, not both")
        passports = {}
        for name, layer in passport_layers(model).items():
            shape = (1, *layer.input_shape)
            for _ in range(RESAMPLE_DEAD):  # spec B7: a channel whose gamma is ~0 carries no signal; draw again
                pair = (prior.sample(shape, generator), prior.sample(shape, generator))
                with torch.no_grad():
                    gamma = layer.conv(pair[0].to(layer.conv.weight.dtype)).mean(dim=(0, 2, 3))
                if bool((gamma.abs() >= DEAD_GAMMA).all()):
                    break
            passports[name] = pair
        if not passports:
            raise BadConfigError("the model has no passport layers; nothing to sample")
        return cls(passports, dict(record or {"randomness": "a caller-supplied generator"}))

    def install(self, model: nn.Module, *, warn_dead: bool = True) -> nn.Module:
        """Put the passports into the model's passport layers; every layer must get its own.
        ``warn_dead``: warn if a channel's gamma is ~0 under the model's current weights (pass False while the
        weights are placeholders, e.g. before a client receives the global state)."""
        layers = passport_layers(model)
        missing = sorted(set(layers) - set(self.passports))
        if missing:
            raise MissingPassportError(f"the keystore has no passports for layer(s) {', '.join(missing)}")
        extra = sorted(set(self.passports) - set(layers))
        if extra:
            raise BadInputError(f"the keystore has passports for unknown layer(s) {', '.join(extra)}")
        for name, layer in layers.items():
            layer.set_passports(*self.passports[name], warn_dead=warn_dead)
        return model

    def save(self, path: str | Path) -> None:
        """Write the keystore (safetensors) atomically, readable by its owner only (mode 0600)."""
        from safetensors.torch import save

        from tenfold.core.io import atomic_write_bytes

        tensors = {}
        for name, (gamma, beta) in self.passports.items():
            tensors[f"{name}::gamma"] = gamma.detach().contiguous()
            tensors[f"{name}::beta"] = beta.detach().contiguous()
        metadata = {"format": KEYSTORE_FORMAT, "version": KEYSTORE_VERSION}
        metadata.update({key: "" if value is None else str(value) for key, value in self.record.items()})
        atomic_write_bytes(Path(path), save(tensors, metadata=metadata), mode=0o600)

    @classmethod
    def load(cls, path: str | Path, *, option: str = "") -> PassportKeystore:
        """Read a keystore written by :meth:`save`; a missing or damaged file is an error, never a re-draw."""
        from safetensors import SafetensorError, safe_open

        from tenfold.core.io import check_input_file

        path = Path(path)
        label = f"{option} {path}" if option else f"passport keystore {path}"
        if not path.exists() and not path.is_symlink():
            raise MissingDataError(
                f"{label} does not exist; without it the model cannot be used (passports are never re-drawn)"
            )
        check_input_file(path, option=option, what="passport keystore")
        try:
            tensors = {}
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                for key in handle.keys():
                    tensors[key] = handle.get_tensor(key)
        except (SafetensorError, ValueError, OSError, RuntimeError) as error:
            raise BadInputError(f"{label} is not a passport keystore ({' '.join(str(error).split())[:120]})") from None
        if metadata.get("format") not in (None, KEYSTORE_FORMAT):
            raise BadInputError(f"{label} is a {metadata.get('format')!r} file, not a passport keystore")
        if not tensors or not all(key.endswith(("::gamma", "::beta")) for key in tensors):
            raise BadInputError(f"{label} is not a passport keystore (expected tensors named <layer>::gamma/::beta)")
        passports = {}
        for name in sorted({key.rsplit("::", 1)[0] for key in tensors}):
            try:
                gamma, beta = tensors[f"{name}::gamma"], tensors[f"{name}::beta"]
            except KeyError as error:
                raise BadInputError(f"{label} lacks passport {error}; the keystore is incomplete") from None
            if gamma.dim() != 4 or gamma.shape[0] != 1 or gamma.shape != beta.shape:
                raise BadInputError(f"{label}: passports of {name} have shapes {tuple(gamma.shape)} and "
                                    f"{tuple(beta.shape)}; expected two equal (1, C, H, W)")
            if not (torch.isfinite(gamma).all() and torch.isfinite(beta).all()):
                raise BadInputError(f"{label}: passports of {name} hold NaN or infinite values")
            passports[name] = (gamma.to(torch.float32), beta.to(torch.float32))
        _warn_if_shared(path, label)
        record = {key: value for key, value in metadata.items() if key not in ("format", "version")}
        return cls(passports, record)


def _warn_if_shared(path: Path, label: str) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"{label} can be read by other users (mode {stat.S_IMODE(mode):o}); it holds the client's secret "
            f"passports: run `chmod 600 {path}`",
            stacklevel=3,
        )


def shared_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a client may send: the state dict, checked to hold no passport."""
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    leaked = [key for key in state if "passport" in key or "override" in key]
    if leaked:  # passports are non-persistent buffers; this guards against a future change
        raise AssertionError(f"passports would leave the client: {leaked}")
    return state
