"""The spec's E5 study: gap, bounds and membership leakage over a grid of inverse temperatures and step counts.

For each (beta, seed) one SGLD run of max(steps) steps is made with a constant step size, and the smaller step
counts are read off its snapshots (a run of T steps is a prefix of a longer one), so the grid costs
len(betas) x seeds runs. Seed s draws its own train / held-out / population split, shared by every beta, so
per-seed statistics across the grid (rank correlations, trends) are paired. ``trend_seeds`` extra runs at the
lowest beta record the gap alone (no leakage terms, same trajectory law, ~10x cheaper) for the step-count
trend test. Runs fan out over processes with ``workers`` > 1 (results do not depend on it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.core.parallel import run_parallel
from tenfold.sgld import bounds
from tenfold.sgld.audit import membership_audit

BOUND_NAMES = ("B-KL", "B-Lip", "B-DP")
# Classic bounds reported beside ours; Li's is the full-batch form, computed only for full-batch runs
CLASSIC_NAMES = ("Mou", "Li (full batch)", "Negrea (mini-batch)", "Pensia")


class FewSeedsWarning(UserWarning):
    """Fewer than 5 seeds: the expected gap and its standard error are unreliable."""


@dataclass
class Cell:
    beta: float
    steps: int
    gap: float
    gap_se: float
    bounds: dict[str, float]
    classic: dict[str, float | None]
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
    rows: list[dict] = field(default_factory=list)  # one per (beta, seed, steps) of the full grid
    trend_rows: list[dict] = field(default_factory=list)  # gap-only runs at the lowest beta

    def cell(self, beta: float, steps: int) -> Cell:
        return next(c for c in self.cells if c.beta == beta and c.steps == steps)

    def per_seed(self, key: str) -> dict[int, dict[tuple[float, int], float]]:
        """{seed: {(beta, steps): value}} for a row field such as 'gap' or 'auc'."""
        out: dict[int, dict[tuple[float, int], float]] = {}
        for row in self.rows:
            out.setdefault(row["seed"], {})[(row["beta"], row["steps"])] = row[key]
        return out

    def to_json(self) -> dict:
        return asdict(self)


def _one_seed(args: tuple) -> list[dict]:
    from tenfold.sgld.digits_task import digits_task
    from tenfold.sgld.models import LinearSoftmax
    from tenfold.sgld.trajectory import run_sgld

    beta, steps, seed, lr, batch, clip, n_train, n_heldout, leakage, permutations = args
    task = digits_task(n_train, n_heldout, seed=seed)
    model = LinearSoftmax(task.x_train.shape[1], task.n_classes)
    run = run_sgld(
        model, task.x_train, task.y_train, task.x_heldout, task.y_heldout, task.x_population, task.y_population,
        beta=beta, lr=lr, steps=max(steps), batch=batch, clip=clip, snapshot_at=list(steps), seed=seed,
        leakage=leakage,
    )
    rows = []
    for snap in run.snapshots:
        row = dict(beta=beta, steps=snap.step, seed=seed, gap=snap.gap, train_error=snap.train_error,
                   population_error=snap.population_error)
        if leakage:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                audit = membership_audit(snap.member_losses, snap.nonmember_losses, permutations=permutations,
                                         bootstrap=0, seed=seed)
            n = run.n
            row.update(
                auc=audit.auc, advantage=audit.advantage, null_advantage=audit.null_advantage_mean,
                bounds={
                    "B-KL": bounds.bound_kl(1.0, beta, n, batch, snap.sum_eta_sq_diff),
                    "B-Lip": bounds.bound_lipschitz(1.0, clip, beta, n, batch, snap.sum_eta),
                    "B-DP": bounds.bound_dp(1.0, clip, beta, lr, batch, n, snap.step),
                },
                classic={
                    "Mou": bounds.bound_mou(1.0, clip, beta, n, snap.sum_eta),
                    "Li (full batch)": (bounds.bound_li(1.0, n, snap.sum_beta_eta_gradsq, batch=batch)
                                        if batch >= n else None),
                    "Negrea (mini-batch)": bounds.bound_negrea(1.0, snap.sum_beta_eta_incoherence, n=n, batch=batch),
                    "Pensia": bounds.bound_pensia(1.0, clip, beta, n, run.dim, snap.etas),
                },
            )
        rows.append(row)
    return rows


def check_grid_arguments(
    betas: list[float], steps: list[int], seeds: int, lr: float, *, batch: int = 32, clip: float = 1.0,
    n_train: int = 300, trend_seeds: int = 0,
) -> None:
    """Refuse a grid that cannot run (before any progress bar or output appears)."""
    if not betas or not steps:
        raise BadConfigError("give at least one beta and one step count")
    for b in betas:
        if not (math.isfinite(b) and b > 0):
            raise BadConfigError(f"beta must be positive and finite, got {b}")
    if not (math.isfinite(lr) and lr > 0):
        raise BadConfigError(f"lr must be positive and finite, got {lr}")
    if min(steps) < 1:
        raise BadConfigError(f"step counts must be positive, got {steps}")
    if seeds < 1:
        raise BadConfigError(f"seeds must be at least 1, got {seeds}")
    if trend_seeds < 0:
        raise BadConfigError(f"trend seeds must be >= 0, got {trend_seeds}")
    if not (1 <= batch <= n_train):
        raise BadConfigError(f"batch must lie in 1..{n_train} (the training-set size), got {batch}")
    if not (math.isfinite(clip) and clip > 0):
        raise BadConfigError(f"clip must be positive and finite, got {clip}")
    for b in betas:  # B-DP is computed in every cell: refuse a beta the accountant cannot hold, before any run
        bounds.check_accountable(bounds.dp_noise_multiplier(clip, b, lr, batch))


def grid_study(
    betas: list[float],
    steps: list[int],
    *,
    seeds: int = 10,
    trend_seeds: int = 0,
    lr: float = 0.5,
    batch: int = 32,
    clip: float = 1.0,
    n_train: int = 300,
    n_heldout: int = 300,
    permutations: int = 100,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GridResult:
    """E5: per (beta, steps, seed) the 0-1 gap, the bounds and the MIA numbers; cells hold their means."""
    check_grid_arguments(betas, steps, seeds, lr, batch=batch, clip=clip, n_train=n_train, trend_seeds=trend_seeds)
    if seeds < 5:
        warnings.warn(f"only {seeds} seeds: E[gap] and its standard error are unreliable (use >= 5)", FewSeedsWarning,
                      stacklevel=2)
    steps = sorted(set(int(s) for s in steps))
    common = (lr, batch, clip, n_train, n_heldout)
    jobs = [(float(b), tuple(steps), seed * 1000 + s, *common, True, permutations) for b in betas for s in range(seeds)]
    low = float(min(betas))
    jobs += [(low, tuple(steps), seed * 1000 + s, *common, False, 0) for s in range(seeds, seeds + trend_seeds)]
    finished = 0

    def count(_index: int, _rows: list[dict]) -> None:
        nonlocal finished
        finished += 1
        if progress:
            progress(finished, len(jobs))

    results = run_parallel(_one_seed, jobs, workers=workers, on_done=count, cost=lambda job: 10.0 if job[8] else 1.0)
    rows = [row for job, result in zip(jobs, results, strict=True) if job[8] for row in result]
    out = GridResult([float(b) for b in betas], steps, seeds, lr, batch, clip, n_train, rows=rows)
    out.trend_rows = [row for job, result in zip(jobs, results, strict=True) if not job[8] for row in result]
    for b in betas:
        for t in steps:
            mine = [r for r in rows if r["beta"] == float(b) and r["steps"] == t]
            gaps = np.array([r["gap"] for r in mine])
            out.cells.append(Cell(
                beta=float(b), steps=t, gap=float(gaps.mean()),
                gap_se=float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else float("nan"),
                bounds={k: float(np.mean([r["bounds"][k] for r in mine])) for k in BOUND_NAMES},
                classic={k: _mean_or_none([r["classic"][k] for r in mine]) for k in CLASSIC_NAMES},
                auc=float(np.mean([r["auc"] for r in mine])),
                advantage=float(np.mean([r["advantage"] for r in mine])),
                null_advantage=float(np.mean([r["null_advantage"] for r in mine])),
                train_error=float(np.mean([r["train_error"] for r in mine])),
                population_error=float(np.mean([r["population_error"] for r in mine])),
            ))
    return out


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def gap_trend_slopes(grid: GridResult) -> tuple[list[int], list[float]]:
    """Per seed at the lowest beta (grid and trend runs): the least-squares slope of the gap on log2(steps),
    i.e. the change in gap per doubling of the step count."""
    low = min(grid.betas)
    gaps: dict[int, dict[int, float]] = {}
    for row in [r for r in grid.rows if r["beta"] == low] + grid.trend_rows:
        gaps.setdefault(row["seed"], {})[row["steps"]] = row["gap"]
    x = np.log2(np.asarray(grid.steps, dtype=np.float64))
    seeds, slopes = [], []
    for seed_value, by_steps in sorted(gaps.items()):
        y = np.asarray([by_steps[t] for t in grid.steps])
        seeds.append(seed_value)
        slopes.append(float(np.polyfit(x, y, 1)[0]) if len(x) > 1 else float("nan"))
    return seeds, slopes
