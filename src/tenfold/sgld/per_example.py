"""Per-example gradients with torch.func (vmap over grad) and per-example clipping.

Batch statistics (BatchNorm) mix examples, so per-example gradients and the leakage analysis break;
such models are refused with a pointer to GroupNorm, as Opacus does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tenfold.core.errors import BadConfigError

LossOfOne = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits (K,), label ()) -> scalar


def check_per_example_compatible(model: torch.nn.Module) -> None:
    """Refuse models whose forward pass couples the examples of a batch."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            raise BadConfigError(
                f"module {name or type(module).__name__} is BatchNorm: it mixes examples, so per-example gradients "
                "and the per-record leakage are undefined; use GroupNorm (or LayerNorm) instead"
            )


def per_example_gradients(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: LossOfOne | None = None
) -> torch.Tensor:
    """Flattened gradient of each example's loss: (N, P) where P is the number of model parameters."""
    from torch.func import functional_call, grad, vmap

    loss = loss or (lambda logits, label: torch.nn.functional.cross_entropy(logits[None], label[None]))
    names = [n for n, _ in model.named_parameters()]
    params = {n: p.detach() for n, p in model.named_parameters()}

    def one(parameters: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss(functional_call(model, parameters, (xi[None],))[0], yi)

    grads = vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([grads[n].reshape(x.shape[0], -1) for n in names], dim=1)


def clip_per_example(grads: torch.Tensor, bound: float | None) -> torch.Tensor:
    """Rescale each row to L2 norm <= bound (no-op when bound is None)."""
    if bound is None:
        return grads
    if not bound > 0:
        raise BadConfigError(f"clipping bound must be positive, got {bound!r}")
    norms = grads.norm(dim=1, keepdim=True)
    return grads * torch.clamp(bound / torch.clamp(norms, min=1e-12), max=1.0)


def linear_softmax_gradients(weight: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Closed form of the per-example cross-entropy gradient of logits = x W^T: (softmax - onehot) outer x.

    Returns (N, K * d) in the same flattened order as :func:`per_example_gradients` for a bias-free Linear.
    """
    with torch.no_grad():
        residual = torch.softmax(x @ weight.T, dim=1)  # (N, K)
        residual[torch.arange(x.shape[0]), y] -= 1.0
        return (residual[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)  # (N, K, d) -> (N, K*d)


def linear_softmax_factors(weight: torch.Tensor, x: torch.Tensor, y: torch.Tensor, bound: float | None) -> torch.Tensor:
    """The clipped per-example gradients of logits = x W^T in factored form: g_i = outer(a_i, x_i), a_i returned.

    ``a_i = c_i (softmax_i - onehot_i)`` with the clip factor ``c_i = min(1, L / (|r_i| |x_i|))`` (the outer
    product's norm is the product of norms), so norms, inner products and batch sums of the gradients come
    from (N, K) and (N, d) matrices instead of an (N, K d) one.
    """
    with torch.no_grad():
        residual = torch.softmax(x @ weight.T, dim=1)
        residual[torch.arange(x.shape[0]), y] -= 1.0
        if bound is not None:
            if not bound > 0:
                raise BadConfigError(f"clipping bound must be positive, got {bound!r}")
            norms = residual.norm(dim=1) * x.norm(dim=1)
            residual = residual * torch.clamp(bound / torch.clamp(norms, min=1e-12), max=1.0)[:, None]
        return residual
