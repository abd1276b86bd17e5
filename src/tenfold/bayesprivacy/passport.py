"""Private passport layers (DeepIPR's passport convolution, used as a privacy defence by Bayesian-privacy FL).

``out = gamma * N(conv(x, W)) + beta`` with ``gamma_c = mean_hw conv(s_gamma, W)_c`` and
``beta_c = mean_hw conv(s_beta, W)_c``: the scale and bias come from secret passports ``s`` that
never leave the client. ``W`` is shared and trained as usual; without the passports a server (or an
attacker holding ``W`` and a gradient) does not know the function the client computes.

Passports are non-persistent buffers: they are never in ``state_dict()`` and so never in a checkpoint
or an FL payload; they live in a separate :class:`~tenfold.bayesprivacy.keystore.PassportKeystore`.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError

DEAD_GAMMA = 1e-3  # |gamma| below this leaves a channel with (almost) no signal


class MissingPassportError(BadInputError):
    """A passport layer was used (or saved/loaded) without its secret passports."""


class PassportConv2d(nn.Module):
    """A bias-free convolution whose per-channel scale and bias come from secret passports.

    ``input_shape`` = (C_in, H, W) of the layer input: passports have exactly that shape.
    ``norm``: "none" (default; use passports with mean about 1), "batch" (BatchNorm, affine=False,
    as DeepIPR) or "group" (GroupNorm with one group, safe at batch size 1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        input_shape: tuple[int, int, int],
        stride: int = 1,
        padding: int = 0,
        norm: str = "none",
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] != in_channels:
            raise BadConfigError(f"input_shape must be (C_in={in_channels}, H, W), got {tuple(input_shape)}")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.input_shape = tuple(int(v) for v in input_shape)
        if norm == "none":
            self.norm: nn.Module = nn.Identity()
        elif norm == "batch":
            self.norm = nn.BatchNorm2d(out_channels, affine=False)
        elif norm == "group":
            self.norm = nn.GroupNorm(1, out_channels, affine=False)
        else:
            raise BadConfigError(f"unknown norm {norm!r}; use 'none', 'batch' or 'group'")
        self.norm_kind = norm
        # Secrets: not persistent, so never in state_dict(), checkpoints or FL payloads.
        self.register_buffer("passport_gamma", None, persistent=False)
        self.register_buffer("passport_beta", None, persistent=False)
        # An attacker may replace the passport-derived scale/bias by free tensors (the adaptive attack). They are
        # buffer slots (empty by default, never saved) so a batched attack can hand one pair per candidate to
        # torch.func.functional_call.
        self.register_buffer("override_gamma", None, persistent=False)
        self.register_buffer("override_beta", None, persistent=False)

    @property
    def has_passports(self) -> bool:
        return self.passport_gamma is not None and self.passport_beta is not None

    def set_passports(self, gamma_passport: torch.Tensor, beta_passport: torch.Tensor, *, warn_dead: bool = True) -> None:
        """Install passports of shape (1, C_in, H, W) (or (C_in, H, W)); checks shape and finiteness."""
        tensors = []
        for name, tensor in (("gamma", gamma_passport), ("beta", beta_passport)):
            tensor = torch.as_tensor(tensor, dtype=self.conv.weight.dtype).to(self.conv.weight.device)
            if tensor.dim() == 3:
                tensor = tensor.unsqueeze(0)
            if tuple(tensor.shape) != (1, *self.input_shape):
                raise BadInputError(
                    f"{name} passport has shape {tuple(tensor.shape)} but this layer's input is {self.input_shape}: "
                    "passports must match (1, C_in, H, W) of the layer input"
                )
            if not torch.isfinite(tensor).all():
                raise BadInputError(f"{name} passport contains NaN or infinite values")
            tensors.append(tensor)
        self.passport_gamma, self.passport_beta = tensors
        if warn_dead:
            gamma = self.scale_and_bias()[0]
            dead = int((gamma.abs() < DEAD_GAMMA).sum())
            if dead:
                warnings.warn(f"{dead} channel(s) have |gamma| < {DEAD_GAMMA:g} and carry no signal; resample the passports",
                              stacklevel=2)

    def clear_passports(self) -> None:
        self.passport_gamma = None
        self.passport_beta = None

    def scale_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma, beta), each (C_out,): spatial means of the passports convolved with the shared weight."""
        if self.override_gamma is not None and self.override_beta is not None:
            return self.override_gamma, self.override_beta
        if not self.has_passports:
            raise MissingPassportError(
                "this passport layer has no passports; install them from the client's keystore "
                "(passports are secrets and are never stored in the model's state dict)"
            )
        gamma = self.conv(self.passport_gamma).mean(dim=(0, 2, 3))
        beta = self.conv(self.passport_beta).mean(dim=(0, 2, 3))
        return gamma, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C_in, H, W) -> (B, C_out, H', W')
        if tuple(x.shape[1:]) != self.input_shape:
            raise BadInputError(f"input has shape {tuple(x.shape[1:])} but the passports were made for {self.input_shape}")
        gamma, beta = self.scale_and_bias()
        return gamma[None, :, None, None] * self.norm(self.conv(x)) + beta[None, :, None, None]


def passport_layers(model: nn.Module) -> dict[str, PassportConv2d]:
    """The passport layers of a model by module name."""
    return {name: module for name, module in model.named_modules() if isinstance(module, PassportConv2d)}
