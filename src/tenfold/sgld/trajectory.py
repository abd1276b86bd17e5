"""Train with SGLD and accumulate the leakage terms of every bound along the actual trajectory.

At each step the per-example gradients of all training and held-out records are computed once (torch.func);
they give the mini-batch update (clipped, summed, divided by the expected batch size b, as in DP-SGD), the
B-KL term E||g(w_t, z_i) - g(w_t, z'_i)||^2 over (training, held-out) pairs, Li et al.'s mean ||g||^2 and
Negrea et al.'s incoherence term. Snapshots at the requested steps record losses and the running sums.
With ``leakage=False`` only the batch's gradients are computed (the same trajectory, for studies that
need the gap alone); the leakage sums are then NaN.

Randomness: ``seed=None`` (the default) draws the noise and the Poisson batches from OS entropy, the only
setting in which the DP reading of a clipped run (bounds.B-DP) holds against someone who knows the code;
an integer seed makes the run replayable, for studies that publish statistics, not weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.core.randomness import secret_generator
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.optimizer import SGLD
from tenfold.sgld.per_example import (
    check_per_example_compatible,
    clip_per_example,
    linear_softmax_factors,
    linear_softmax_gradients,
    per_example_gradients,
)


@dataclass
class Snapshot:
    """State of the run after ``step`` updates: running sums for the bounds and the losses of interest."""

    step: int
    sum_eta: float
    sum_eta_sq_diff: float  # sum_t eta_t E||delta grad_t||^2 (B-KL)
    sum_beta_eta_gradsq: float  # Li et al.
    sum_beta_eta_incoherence: float  # Negrea et al.
    etas: list[float]
    train_error: float
    population_error: float
    member_losses: np.ndarray
    nonmember_losses: np.ndarray

    @property
    def gap(self) -> float:
        """Generalization gap in 0-1 loss: population error - training error."""
        return self.population_error - self.train_error


@dataclass
class LangevinRun:
    beta: float
    batch: float
    clip: float | None
    n: int
    dim: int
    snapshots: list[Snapshot] = field(default_factory=list)


def _errors(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        logits = model(x)
        losses = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        return float((logits.argmax(dim=1) != y).float().mean()), losses.cpu().numpy()


def run_sgld(
    model: torch.nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_heldout: np.ndarray,
    y_heldout: np.ndarray,
    x_population: np.ndarray,
    y_population: np.ndarray,
    *,
    beta: float,
    lr: float,
    steps: int,
    batch: int = 32,
    sampling: str = "poisson",
    clip: float | None = 1.0,
    snapshot_at: list[int] | None = None,
    seed: int | None = None,
    gradients: str = "auto",
    leakage: bool = True,
) -> LangevinRun:
    """SGLD on ``model`` with Poisson (rate b/n) or fixed-size batches; snapshots at ``snapshot_at`` steps.

    ``gradients``: "torch.func" (any model), "closed-form" (bias-free :class:`LinearSoftmax` only, ~10x faster)
    or "auto" (closed form where it applies).
    """
    check_per_example_compatible(model)
    closed_form_ok = isinstance(model, LinearSoftmax) and model.linear.bias is None
    if gradients == "auto":
        gradients = "closed-form" if closed_form_ok else "torch.func"
    if gradients not in ("torch.func", "closed-form") or (gradients == "closed-form" and not closed_form_ok):
        raise BadConfigError(f"gradients={gradients!r}: use 'torch.func', or 'closed-form' with a bias-free LinearSoftmax")
    if sampling not in ("poisson", "fixed"):
        raise BadConfigError(f"sampling must be 'poisson' or 'fixed', got {sampling!r}")
    n = x_train.shape[0]
    if not (1 <= batch <= n):
        raise BadConfigError(f"batch size must lie in 1..n={n}, got {batch}")
    if steps < 1:
        raise BadConfigError(f"steps must be at least 1, got {steps}")
    if x_heldout.shape[0] < 1:
        raise BadConfigError("the leakage terms need at least one held-out record")
    snapshot_at = sorted(set(snapshot_at or [steps]))
    if snapshot_at[-1] > steps or snapshot_at[0] < 1:
        raise BadConfigError(f"snapshot steps must lie in 1..{steps}")
    if seed is None:
        rng = secret_generator(what="the SGLD noise and batch sampling")
        optimizer = SGLD(model.parameters(), lr=lr, beta=beta, generator=rng)
    else:
        rng = np.random.default_rng(seed)
        optimizer = SGLD(model.parameters(), lr=lr, beta=beta, generator=torch.Generator().manual_seed(seed))
    device = next(model.parameters()).device  # runs wherever the model lives (CPU or GPU)
    xt, yt = torch.as_tensor(x_train, device=device), torch.as_tensor(y_train, device=device)
    xh, yh = torch.as_tensor(x_heldout, device=device), torch.as_tensor(y_heldout, device=device)
    xp, yp = torch.as_tensor(x_population, device=device), torch.as_tensor(y_population, device=device)
    pairs = min(n, xh.shape[0])
    both_x, both_y = torch.cat([xt, xh[:pairs]]), torch.cat([yt, yh[:pairs]])
    params = list(model.parameters())
    dim = sum(p.numel() for p in params)
    run = LangevinRun(beta=float(beta), batch=float(batch), clip=clip, n=n, dim=dim)
    sums = dict(eta=0.0, kl=0.0, li=0.0, negrea=0.0)
    etas: list[float] = []
    nan = float("nan")
    if not leakage:
        sums.update(kl=nan, li=nan, negrea=nan)

    def gradients_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if gradients == "closed-form":
            return clip_per_example(linear_softmax_gradients(model.linear.weight, x, y), clip)
        return clip_per_example(per_example_gradients(model, x, y), clip)

    factored = gradients == "closed-form"
    x_both64 = both_x.double()

    for t in range(1, steps + 1):
        eta = optimizer.current_lr()
        if leakage and factored:
            # g_i = outer(a_i, x_i): the same sums as the branch below from (N, K) and (N, d) matrices
            a = linear_softmax_factors(model.linear.weight, both_x, both_y, clip).double()
            a_train, x_train64 = a[:n], x_both64[:n]
            squared = a.pow(2).sum(dim=1) * x_both64.pow(2).sum(dim=1)
            cross = (a_train[:pairs] * a[n:]).sum(dim=1) * (x_train64[:pairs] * x_both64[n:]).sum(dim=1)
            sums["kl"] += eta * (squared[:pairs] + squared[n:] - 2.0 * cross).mean().item()
            sums["li"] += beta * eta * squared[:n].mean().item()
            j = int(rng.integers(n))
            g_j = torch.outer(a_train[j], x_train64[j])
            rest_mean = (a_train.T @ x_train64 - g_j) / (n - 1) if n > 1 else torch.zeros_like(g_j)
            sums["negrea"] += beta * eta * ((rest_mean - g_j) / n).pow(2).sum().item()
        elif leakage:
            grads = gradients_of(both_x, both_y)  # (n + pairs, P)
            g_train, g_out = grads[:n], grads[n:]
            # leakage terms at w_t (before the update), as in the chain rule over the kernel at step t
            diff = (g_train[:pairs] - g_out).pow(2).sum(dim=1).mean().item()
            sums["kl"] += eta * diff
            sums["li"] += beta * eta * g_train.pow(2).sum(dim=1).mean().item()
        if not leakage or not factored:
            j = int(rng.integers(n))  # drawn in every mode so all follow the same random stream
        if leakage and not factored:
            rest_mean = (g_train.sum(dim=0) - g_train[j]) / (n - 1) if n > 1 else torch.zeros_like(g_train[j])
            sums["negrea"] += beta * eta * ((rest_mean - g_train[j]) / n).pow(2).sum().item()
        sums["eta"] += eta
        etas.append(eta)
        if sampling == "poisson":
            chosen = torch.as_tensor(np.flatnonzero(rng.random(n) < batch / n), device=device)
        else:
            chosen = torch.as_tensor(rng.choice(n, size=batch, replace=False), device=device)
        # mean over the *expected* batch size: the summed-gradient sensitivity argument needs a fixed divisor
        if leakage and factored:
            update = (a_train[chosen].T @ x_train64[chosen]).reshape(-1).to(xt.dtype) / batch
        elif leakage:
            update = g_train[chosen].sum(dim=0) / batch
        elif chosen.numel():
            update = gradients_of(xt[chosen], yt[chosen]).sum(dim=0) / batch
        else:  # an empty Poisson batch: a pure noise step
            update = torch.zeros(dim, dtype=xt.dtype, device=device)
        offset = 0
        for p in params:
            p.grad = update[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        optimizer.step()
        if t in snapshot_at:
            train_error, member_losses = _errors(model, xt, yt)
            population_error, _ = _errors(model, xp, yp)
            _, nonmember_losses = _errors(model, xh, yh)
            run.snapshots.append(Snapshot(
                step=t, sum_eta=sums["eta"], sum_eta_sq_diff=sums["kl"], sum_beta_eta_gradsq=sums["li"],
                sum_beta_eta_incoherence=sums["negrea"], etas=list(etas), train_error=train_error,
                population_error=population_error, member_losses=member_losses, nonmember_losses=nonmember_losses,
            ))
    return run
