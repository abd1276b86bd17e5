"""``tenfold dpfmix``: release a private labelled feature set under (eps, delta)-DP; compute the optimal m."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="DPFMix: differentially private data release by random feature mixup (tight PLD accounting).",
    no_args_is_help=True,
)


def _load_array(path: Path, what: str):
    import numpy as np

    from tenfold.core.errors import BadInputError, MissingDataError

    if not path.is_file():
        raise MissingDataError(f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise BadInputError(f"{what} file {path} is not a readable .npy array ({error})") from None


@app.command("release")
def release_command(
    features: Annotated[Path, typer.Argument(help="Private features, (n, d) .npy, from a public/label-free extractor.")],
    labels: Annotated[Path, typer.Argument(help="Private labels, (n,) .npy of class indices 0..K-1.")],
    eps: Annotated[float, typer.Option(help="Target epsilon (PLD accountant).")] = 1.0,
    delta: Annotated[float, typer.Option(help="Target delta; keep it well below 1/n.")] = 1e-5,
    m: Annotated[str, typer.Option(help="Mixup degree, or 'auto' for the closed-form m*.")] = "auto",
    releases: Annotated[int | None, typer.Option("--T", "--releases", help="Number of mixtures T (default n).")] = None,
    n_classes: Annotated[int | None, typer.Option(help="Number of classes K (required: it is public and must not be read off private labels).")] = None,
    lam: Annotated[float, typer.Option(help="Noise split lambda between features and labels.")] = 1.0,
    clip: Annotated[float, typer.Option(help="Feature L2 clip bound C_x.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the mixing and the noise.")] = 0,
    interval: Annotated[float, typer.Option(help="PLD discretisation (coarser = faster, still an upper bound).")] = 1e-4,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .npz (features, labels, meta).")] = Path(
        "release.npz"
    ),
) -> None:
    """Release FEATURES/LABELS as T noisy Poisson mixtures; prints epsilon, m, sigma and the fraction clipped."""
    import warnings

    from rich.console import Console

    from tenfold.core.errors import BadConfigError
    from tenfold.dpfmix.release import DPFMixRelease

    if output.suffix != ".npz":
        raise BadConfigError(f"output must end in .npz, got {output}")
    x = _load_array(features, "features")
    y = _load_array(labels, "labels")
    m_value: float | str = m if m == "auto" else _parse_m(m)
    console = Console(stderr=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with console.status("calibrating noise with the PLD accountant and mixing"):
            release = DPFMixRelease(
                eps, delta, m=m_value, releases=releases, lam=lam, clip_features=clip, n_classes=n_classes, seed=seed,
                interval=interval,
            ).fit(x, y)
    for warning in caught:
        console.print(f"[yellow]warning:[/yellow] {warning.message}")
    release.save(output)
    out = Console()
    out.print(
        f"released {release.releases} mixtures of {release.n} records to {output}\n"
        f"epsilon (PLD) = {release.eps:.4f} at delta = {release.delta:g}; mu (GDP-CLT, theory) = {release.mu_clt:.4f}\n"
        f"m = {release.m:g}, sigma = {release.sigma:.4f} (sigma_x = {release.sigma_x:.4f}, sigma_y = {release.sigma_y:.4f}), "
        f"fraction clipped = {release.clipped_fraction:.3f}"
    )


def _parse_m(text: str) -> float:
    from tenfold.core.errors import BadConfigError

    try:
        return float(text)
    except ValueError:
        raise BadConfigError(f"--m must be a number or 'auto', got {text!r}") from None


@app.command("mstar")
def mstar_command(
    eps: Annotated[list[float], typer.Option(help="Epsilon values (repeat the option).")] = [1.0, 4.0],  # noqa: B006
    n: Annotated[int, typer.Option(help="Number of private records n.")] = 60000,
    releases: Annotated[int | None, typer.Option("--T", "--releases", help="Number of mixtures T (default n).")] = None,
    delta: Annotated[float, typer.Option(help="Delta.")] = 1e-5,
    numeric: Annotated[bool, typer.Option(help="Also the grid argmax of m / sigma_PLD(m)^2 (slower).")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Optional JSON output file.")] = None,
) -> None:
    """Optimal mixup degree m*: closed form mu n / sqrt(u* T) and, with --numeric, the PLD grid argmax."""
    import warnings

    from rich.console import Console
    from rich.table import Table

    from tenfold.core.io import atomic_write_text
    from tenfold.dpfmix.mstar import optimal_m

    rows = []
    console = Console()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for value in eps:
            with console.status(f"eps={value:g}"):
                result = optimal_m(value, delta, n, releases, numeric=numeric)
            rows.append({"eps": value, "delta": delta, "n": n, "T": releases or n, "mu": result.mu,
                         "m_star_closed_form": result.closed_form, "m_star_numeric": result.numeric})
    for warning in {str(w.message) for w in caught}:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {warning}")
    table = Table(title="optimal mixup degree")
    for column in ("eps", "mu", "m* closed form", "m* numeric (PLD)"):
        table.add_column(column)
    for row in rows:
        numeric_text = "-" if row["m_star_numeric"] is None else f"{row['m_star_numeric']:g}"
        table.add_row(f"{row['eps']:g}", f"{row['mu']:.4f}", f"{row['m_star_closed_form']:.2f}", numeric_text)
    console.print(table)
    if output is not None:
        atomic_write_text(output, json.dumps(rows, indent=2))
