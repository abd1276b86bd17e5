"""``tenfold sgld``: the gap/bound/leakage grid and a calculator for the a-priori bounds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="SGLD generalization bounds from privacy leakage, with a membership-inference audit.",
    no_args_is_help=True,
)


def _numbers(values: list[str], what: str, cast=float) -> list:
    from tenfold.core.errors import BadConfigError

    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(cast(float(part)))
            except ValueError:
                raise BadConfigError(f"--{what}: {part!r} is not a number") from None
    if not out:
        raise BadConfigError(f"--{what}: give at least one value")
    return out


@app.command("grid")
def grid_command(
    beta: Annotated[list[str], typer.Option(help="Inverse temperatures (repeat or comma-separate).")] = ["1e2,1e3,1e4"],  # noqa: B006
    steps: Annotated[list[str], typer.Option(help="Step counts (repeat or comma-separate).")] = ["100,400,1600"],  # noqa: B006
    seeds: Annotated[int, typer.Option(help="Seeds per cell (>= 5 recommended).")] = 10,
    lr: Annotated[float, typer.Option(help="Constant step size eta.")] = 0.5,
    batch: Annotated[int, typer.Option(help="Expected Poisson batch size b.")] = 32,
    clip: Annotated[float, typer.Option(help="Per-example gradient clip L.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Base seed.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes to fan seeds out over.")] = 1,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for grid.json and grid.png.")] = Path("sgld_grid"),
) -> None:
    """Train SGLD on digits over a beta x steps grid; write gap, bounds and MIA numbers (JSON) and a plot (PNG)."""
    import os
    import tempfile
    import warnings

    from rich.console import Console
    from rich.progress import Progress

    from tenfold.core.errors import BadConfigError
    from tenfold.core.io import atomic_write_text
    from tenfold.sgld.experiment import _plot_bounds
    from tenfold.sgld.grid import check_grid_arguments, grid_study

    betas = _numbers(beta, "beta")
    step_counts = _numbers(steps, "steps", int)
    if workers < 1:
        raise BadConfigError(f"--workers must be at least 1, got {workers}")
    check_grid_arguments(betas, step_counts, seeds, lr)
    with warnings.catch_warnings(record=True) as caught, Progress(console=Console(stderr=True)) as progress:
        warnings.simplefilter("always")
        task = progress.add_task("SGLD runs", total=len(betas) * max(seeds, 0))
        grid = grid_study(
            betas, step_counts, seeds=seeds, lr=lr, batch=batch, clip=clip, seed=seed, workers=workers,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for warning in {str(w.message) for w in caught}:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {warning}")
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output) as staging:
        name = _plot_bounds(grid, Path(staging))
        atomic_write_text(output / "grid.json", json.dumps(grid.to_json(), indent=2))
        os.replace(Path(staging) / name, output / "grid.png")
    console = Console()
    for c in grid.cells:
        console.print(
            f"beta={c.beta:g} T={c.steps}: gap={c.gap:.4f}±{c.gap_se:.4f} "
            + " ".join(f"{k}={v:.3f}" for k, v in c.bounds.items())
            + f" AUC={c.auc:.3f}"
        )
    console.print(f"wrote {output / 'grid.json'} and {output / 'grid.png'}")


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
    """A-priori bounds that need no trajectory: B-Lip, B-DP (TV via PLD), Mou et al., Pensia et al."""
    from rich.console import Console

    from tenfold.core.errors import BadConfigError
    from tenfold.sgld import bounds

    if not (beta > 0 and lr > 0):
        raise BadConfigError(f"beta and lr must be positive, got beta={beta}, lr={lr}")
    if steps < 1:
        raise BadConfigError(f"steps must be at least 1, got {steps}")
    c = bounds.check_loss_bound(loss_bound)
    total = lr * steps
    rows = {
        "B-Lip": bounds.bound_lipschitz(c, clip, beta, n, batch, total),
        "B-DP": bounds.bound_dp(c, clip, beta, lr, batch, n, steps),
        "Mou": bounds.bound_mou(c, clip, beta, n, total),
    }
    if dim is not None:
        rows["Pensia"] = bounds.bound_pensia(c, clip, beta, n, dim, [lr] * steps)
    console = Console()
    console.print(f"DP-SGD noise multiplier sigma = {bounds.dp_noise_multiplier(clip, beta, lr, batch):.4f}")
    for name, value in rows.items():
        console.print(f"{name}: |E gen| <= {value:.4f}")
