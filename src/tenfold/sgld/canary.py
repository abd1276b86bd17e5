"""Optional empirical-epsilon audit: retrain R times with and R times without a canary record.

The attack score is minus the canary's loss under the final weights; :func:`empirical_epsilon` turns the two
score samples into a (1 - alpha)-confidence lower bound on epsilon, to set beside the PLD epsilon of the
equivalent DP-SGD run. Costly (2R trainings), so it is kept out of the default experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.sgld.audit import empirical_epsilon
from tenfold.sgld.bounds import dp_noise_multiplier
from tenfold.sgld.digits_task import digits_task
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.trajectory import run_sgld


@dataclass
class CanaryAudit:
    eps_lower: float  # empirical lower bound (confidence 1 - alpha)
    eps_upper: float  # PLD epsilon of the equivalent clipped DP-SGD run at the same delta
    scores_in: np.ndarray
    scores_out: np.ndarray


def canary_audit(
    *,
    beta: float,
    lr: float,
    steps: int,
    runs: int = 50,
    batch: int = 32,
    clip: float = 1.0,
    n_train: int = 300,
    delta: float = 1e-5,
    alpha: float = 0.05,
    seed: int = 0,
) -> CanaryAudit:
    """Train ``runs`` models with a mislabelled canary added and ``runs`` without; bound epsilon from below."""
    if runs < 2:
        raise BadConfigError(f"the canary audit needs at least 2 runs per side, got {runs}")
    import dp_accounting
    from dp_accounting import pld

    task = digits_task(n_train, 1, seed=seed)
    canary_x = task.x_population[:1]
    canary_y = (task.y_population[:1] + 1) % task.n_classes  # a wrong label: the most memorable record
    scores = {True: [], False: []}
    for r in range(runs):
        for include in (True, False):
            x = np.r_[task.x_train, canary_x] if include else task.x_train
            y = np.r_[task.y_train, canary_y] if include else task.y_train
            model = LinearSoftmax(x.shape[1], task.n_classes)
            run_sgld(model, x, y, task.x_heldout, task.y_heldout, task.x_population[1:50], task.y_population[1:50],
                     beta=beta, lr=lr, steps=steps, batch=batch, clip=clip, seed=seed * 10000 + 2 * r + include)
            with torch.no_grad():
                loss = torch.nn.functional.cross_entropy(model(torch.as_tensor(canary_x)), torch.as_tensor(canary_y))
            scores[include].append(-float(loss))
    # adding/removing the canary moves the clipped gradient sum by at most L: add/remove, multiplier sigma
    sigma = dp_noise_multiplier(clip, beta, lr, batch)
    accountant = pld.PLDAccountant(neighboring_relation=dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE,
                                   value_discretization_interval=1e-3)
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(batch / n_train, dp_accounting.GaussianDpEvent(sigma)), steps))
    s_in, s_out = np.array(scores[True]), np.array(scores[False])
    return CanaryAudit(
        eps_lower=empirical_epsilon(s_in, s_out, delta=delta, alpha=alpha),
        eps_upper=float(accountant.get_epsilon(delta)),
        scores_in=s_in,
        scores_out=s_out,
    )
