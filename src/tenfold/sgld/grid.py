"""The spec's E5 study: gap, bounds and membership leakage over a grid of inverse temperatures and step counts.

For each (beta, seed) one SGLD run of max(steps) steps is made with a constant step size, and the smaller step
counts are read off its snapshots (a run of T steps is a prefix of a longer one), so the grid costs
len(betas) x seeds runs. Seeds fan out over processes with ``workers`` > 1 (results do not depend on it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.core.parallel import run_parallel
from tenfold.sgld import bounds
from tenfold.sgld.audit import membership_audit

BOUND_NAMES = ("B-KL", "B-Lip", "B-DP")
CLASSIC_NAMES = ("Mou", "Li", "Negrea", "Pensia")


class FewSeedsWarning(UserWarning):
    """Fewer than 5 seeds: the expected gap and its standard error are unreliable."""


@dataclass
class Cell:
    beta: float
    steps: int
    gap: float
    gap_se: float
    bounds: dict[str, float]
    classic: dict[str, float]
    auc: float
    advantage: float
    null_advantage: float
    train_error: float
    population_error: float


@dataclass
class GridResult:
    betas: list[float]
    steps: list[int]
    seeds: int
    lr: float
    batch: int
    clip: float
    n: int
    cells: list[Cell] = field(default_factory=list)

    def cell(self, beta: float, steps: int) -> Cell:
        return next(c for c in self.cells if c.beta == beta and c.steps == steps)

    def to_json(self) -> dict:
        return asdict(self)


def _one_seed(args: tuple) -> list[dict]:
    import torch

    from tenfold.sgld.digits_task import digits_task
    from tenfold.sgld.models import LinearSoftmax
    from tenfold.sgld.trajectory import run_sgld

    beta, steps, seed, lr, batch, clip, n_train, n_heldout = args
    torch.set_num_threads(1)
    task = digits_task(n_train, n_heldout, seed=seed)
    torch.manual_seed(seed)
    model = LinearSoftmax(task.x_train.shape[1], task.n_classes)
    run = run_sgld(
        model, task.x_train, task.y_train, task.x_heldout, task.y_heldout, task.x_population, task.y_population,
        beta=beta, lr=lr, steps=max(steps), batch=batch, clip=clip, snapshot_at=list(steps), seed=seed,
    )
    rows = []
    for snap in run.snapshots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audit = membership_audit(snap.member_losses, snap.nonmember_losses, permutations=100, bootstrap=0, seed=seed)
        n = run.n
        rows.append(dict(
            beta=beta, steps=snap.step, seed=seed, gap=snap.gap, train_error=snap.train_error,
            population_error=snap.population_error, auc=audit.auc, advantage=audit.advantage,
            null_advantage=audit.null_advantage_mean,
            bounds={
                "B-KL": bounds.bound_kl(1.0, beta, n, batch, snap.sum_eta_sq_diff),
                "B-Lip": bounds.bound_lipschitz(1.0, clip, beta, n, batch, snap.sum_eta),
                "B-DP": bounds.bound_dp(1.0, clip, beta, lr, batch, n, snap.step),
            },
            classic={
                "Mou": bounds.bound_mou(1.0, clip, beta, n, snap.sum_eta),
                "Li": bounds.bound_li(1.0, n, snap.sum_beta_eta_gradsq),
                "Negrea": bounds.bound_negrea(1.0, snap.sum_beta_eta_incoherence),
                "Pensia": bounds.bound_pensia(1.0, clip, beta, n, run.dim, snap.etas),
            },
        ))
    return rows


def check_grid_arguments(betas: list[float], steps: list[int], seeds: int, lr: float) -> None:
    """Refuse a grid that cannot run (before any progress bar or output appears)."""
    if not betas or not steps:
        raise BadConfigError("give at least one beta and one step count")
    for b in betas:
        if not b > 0:
            raise BadConfigError(f"beta must be positive, got {b}")
    if not lr > 0:
        raise BadConfigError(f"lr must be positive, got {lr}")
    if min(steps) < 1:
        raise BadConfigError(f"step counts must be positive, got {steps}")
    if seeds < 1:
        raise BadConfigError(f"seeds must be at least 1, got {seeds}")


def grid_study(
    betas: list[float],
    steps: list[int],
    *,
    seeds: int = 10,
    lr: float = 0.5,
    batch: int = 32,
    clip: float = 1.0,
    n_train: int = 300,
    n_heldout: int = 300,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> GridResult:
    """E5: for every (beta, steps), mean 0-1 gap with SE, the bounds (mean over seeds) and the MIA numbers."""
    check_grid_arguments(betas, steps, seeds, lr)
    if seeds < 5:
        warnings.warn(f"only {seeds} seeds: E[gap] and its standard error are unreliable (use >= 5)", FewSeedsWarning,
                      stacklevel=2)
    steps = sorted(set(int(s) for s in steps))
    jobs = [(float(b), tuple(steps), seed * 1000 + s, lr, batch, clip, n_train, n_heldout) for b in betas for s in range(seeds)]
    finished = 0

    def count(_index: int, _rows: list[dict]) -> None:
        nonlocal finished
        finished += 1
        if progress:
            progress(finished, len(jobs))

    rows = [row for result in run_parallel(_one_seed, jobs, workers=workers, on_done=count) for row in result]
    out = GridResult([float(b) for b in betas], steps, seeds, lr, batch, clip, n_train)
    for b in betas:
        for t in steps:
            mine = [r for r in rows if r["beta"] == float(b) and r["steps"] == t]
            gaps = np.array([r["gap"] for r in mine])
            out.cells.append(Cell(
                beta=float(b), steps=t, gap=float(gaps.mean()),
                gap_se=float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else float("nan"),
                bounds={k: float(np.mean([r["bounds"][k] for r in mine])) for k in BOUND_NAMES},
                classic={k: float(np.mean([r["classic"][k] for r in mine])) for k in CLASSIC_NAMES},
                auc=float(np.mean([r["auc"] for r in mine])),
                advantage=float(np.mean([r["advantage"] for r in mine])),
                null_advantage=float(np.mean([r["null_advantage"] for r in mine])),
                train_error=float(np.mean([r["train_error"] for r in mine])),
                population_error=float(np.mean([r["population_error"] for r in mine])),
            ))
    return out
