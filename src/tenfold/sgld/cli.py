"""``tenfold sgld``: the gap/bound/leakage grid and a calculator for the a-priori bounds.

Every argument is checked before any work starts; the grid's folder is published whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="SGLD generalization bounds from privacy leakage, with a membership-inference audit.",
    no_args_is_help=True,
)


def _numbers(values: list[str], option: str, integer: bool = False) -> list:
    from tenfold.core.errors import BadConfigError
    from tenfold.core.validation import check_number

    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                number = float(part)
            except ValueError:
                raise BadConfigError(f"{option}: {part!r} is not a number") from None
            check_number(option, number, low=1 if integer else 0.0, low_open=not integer, integer=integer,
                         high=10**6 if integer else None)
            out.append(int(number) if integer else number)
    if not out:
        raise BadConfigError(f"{option}: give at least one value")
    return out


@app.command("grid")
def grid_command(
    beta: Annotated[list[str], typer.Option(help="Inverse temperatures (repeat or comma-separate).")] = ["1e2,1e3,1e4"],  # noqa: B006
    steps: Annotated[list[str], typer.Option(help="Step counts (repeat or comma-separate).")] = ["100,400,1600"],  # noqa: B006
    seeds: Annotated[int, typer.Option(help="Seeds per cell (>= 5 recommended).")] = 10,
    trend_seeds: Annotated[int, typer.Option(help="Extra gap-only seeds at the lowest beta (step-count trend).")] = 0,
    lr: Annotated[float, typer.Option(help="Constant step size eta.")] = 0.5,
    batch: Annotated[int, typer.Option(help="Expected Poisson batch size b (1..300).")] = 32,
    clip: Annotated[float, typer.Option(help="Per-example gradient clip L.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Base seed of the study (it publishes statistics, not trained weights).")] = 0,
    workers: Annotated[int, typer.Option(help="Processes to fan the runs out over.")] = 1,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for grid.json and grid.png.")] = Path("sgld_grid"),
) -> None:
    """Train SGLD on digits over a beta x steps grid; write gap, bounds and MIA numbers (JSON) and a plot (PNG)."""
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    betas = _numbers(beta, "--beta")
    step_counts = _numbers(steps, "--steps", integer=True)
    check_number("--seeds", seeds, low=1)
    check_number("--trend-seeds", trend_seeds, low=0)
    check_number("--lr", lr, low=0.0, low_open=True)
    check_number("--batch", batch, low=1, high=300)
    check_number("--clip", clip, low=0.0, low_open=True)
    check_number("--seed", seed, low=0)
    check_number("--workers", workers, low=1)
    output = check_output_path(output, option="--output", kind="directory", owned=GRID_FILES)

    from rich.console import Console
    from rich.progress import Progress

    from tenfold.core.io import atomic_directory, atomic_write_json
    from tenfold.sgld.experiment import _plot_bounds
    from tenfold.sgld.grid import grid_study

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("SGLD runs", total=len(betas) * seeds + trend_seeds)
        grid = grid_study(
            betas, step_counts, seeds=seeds, trend_seeds=trend_seeds, lr=lr, batch=batch, clip=clip, seed=seed,
            workers=workers, progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    with atomic_directory(output) as staging:
        _plot_bounds(grid, staging)
        (staging / "gap_and_bounds.png").rename(staging / "grid.png")
        atomic_write_json(staging / "grid.json", grid.to_json())
    console = Console()
    for c in grid.cells:
        console.print(
            f"beta={c.beta:g} T={c.steps}: gap={c.gap:.4f}±{c.gap_se:.4f} "
            + " ".join(f"{k}={v:.3f}" for k, v in c.bounds.items())
            + f" AUC={c.auc:.3f}"
        )
    console.print(f"wrote {output / 'grid.json'} and {output / 'grid.png'}")


GRID_FILES = ("grid.json", "grid.png")


@app.command("bounds")
def bounds_command(
    beta: Annotated[float, typer.Option(help="Inverse temperature.")],
    lr: Annotated[float, typer.Option(help="Constant step size eta.")],
    steps: Annotated[int, typer.Option(help="Number of SGLD steps T.")],
    n: Annotated[int, typer.Option(help="Training-set size n.")],
    batch: Annotated[float, typer.Option(help="(Expected) batch size b; b = n for full batch.")],
    clip: Annotated[float | None, typer.Option(help="Per-example clip L (required for B-Lip/B-DP).")] = None,
    loss_bound: Annotated[float | None, typer.Option(help="Loss range C (1 for 0-1 loss).")] = None,
    dim: Annotated[int | None, typer.Option(help="Parameter count d (for Pensia et al.).")] = None,
) -> None:
    """A-priori bounds that need no trajectory: B-Lip, B-DP (TV via PLD, replace-one), Mou et al., Pensia et al."""
    from tenfold.core.errors import BadConfigError
    from tenfold.core.validation import check_number

    check_number("--beta", beta, low=0.0, low_open=True)
    check_number("--lr", lr, low=0.0, low_open=True)
    check_number("--steps", steps, low=1, high=10**6)
    check_number("--n", n, low=1)
    check_number("--batch", batch, low=0.0, high=float(n), low_open=True)
    check_number("--clip", clip, low=0.0, low_open=True, allow_none=True)
    check_number("--loss-bound", loss_bound, low=0.0, low_open=True, allow_none=True)
    check_number("--dim", dim, low=1, allow_none=True)
    if clip is None:
        raise BadConfigError("--clip is required: B-Lip and B-DP need per-example gradient clipping (without it "
                             "SGLD has no DP guarantee, Heller & Fetaya 2021; only the trajectory's B-KL applies)")
    if loss_bound is None:
        raise BadConfigError("--loss-bound is required: the bounds need a bounded evaluation loss in [0, C] "
                             "(C = 1 for the 0-1 loss)")

    from rich.console import Console

    from tenfold.sgld import bounds

    c = bounds.check_loss_bound(loss_bound)
    total = lr * steps
    sigma = bounds.dp_noise_multiplier(clip, beta, lr, batch)
    rows: dict[str, float | str] = {"B-Lip": bounds.bound_lipschitz(c, clip, beta, n, batch, total)}
    try:
        rows["B-DP"] = bounds.bound_dp(c, clip, beta, lr, batch, n, steps)
    except BadConfigError as error:  # a vacuous B-DP must not hide the other bounds
        rows["B-DP"] = f"not computed ({error})"
    rows["Mou"] = bounds.bound_mou(c, clip, beta, n, total)
    if dim is not None:
        rows["Pensia"] = bounds.bound_pensia(c, clip, beta, n, dim, [lr] * steps)
    console = Console()
    console.print(f"DP-SGD noise multiplier sigma = {sigma:.4f}")
    for name, value in rows.items():
        console.print(f"{name}: |E gen| <= {value:.4f}" if isinstance(value, float) else f"{name}: {value}", soft_wrap=True)
