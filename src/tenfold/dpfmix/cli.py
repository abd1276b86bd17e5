"""``tenfold dpfmix``: release a private labelled feature set under (eps, delta)-DP; compute the optimal m.

Every argument is checked before any work starts; the release draws its mixing and noise from OS entropy
unless ``--insecure-seed`` asks for a replayable seed (warned about, and written into the release).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="DPFMix: differentially private data release by random feature mixup (tight PLD accounting).",
    no_args_is_help=True,
)


def _parse_m(text: str) -> float | str:
    from tenfold.core.errors import BadConfigError
    from tenfold.core.validation import check_number

    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise BadConfigError(f"--m must be a positive number or 'auto', got {text!r}") from None
    return check_number("--m", value, low=0.0, low_open=True)


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
    adjacency: Annotated[str | None, typer.Option(help="Neighbouring relation of epsilon: replace-one (default; n is published) or add-remove (needs --n-public).")] = None,
    n_public: Annotated[int | None, typer.Option(help="Record count fixed before seeing the data; sets m/n and T, and is the only count published (add-remove).")] = None,
    insecure_seed: Annotated[int | None, typer.Option(help="INSECURE: replayable seed for the mixing and noise (experiments and tests only; recorded in the release).")] = None,
    interval: Annotated[float, typer.Option(help="PLD discretisation in (0, 0.1] (coarser = faster, still an upper bound).")] = 1e-4,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .npz (features, labels, meta).")] = Path(
        "release.npz"
    ),
) -> None:
    """Release FEATURES/LABELS as T noisy Poisson mixtures; prints epsilon (with its adjacency), m and sigma."""
    from tenfold.core.errors import BadConfigError
    from tenfold.core.io import check_output_path, read_npy
    from tenfold.core.validation import check_array, check_number

    check_number("--eps", eps, low=0.0, low_open=True)
    check_number("--delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    check_number("--interval", interval, low=0.0, high=0.1, low_open=True)
    check_number("--lam", lam, low=0.0, low_open=True)
    check_number("--clip", clip, low=0.0, low_open=True)
    check_number("--T", releases, low=1, allow_none=True)
    check_number("--n-classes", n_classes, low=2, allow_none=True)
    check_number("--n-public", n_public, low=2, allow_none=True)
    check_number("--insecure-seed", insecure_seed, low=0, allow_none=True)
    if adjacency is not None and adjacency not in ("replace-one", "add-remove"):
        raise BadConfigError(f"--adjacency {adjacency!r}: use replace-one or add-remove")
    if n_classes is None:
        raise BadConfigError("--n-classes is required: the class count is public and must not be read off private labels")
    m_value = _parse_m(m)
    output = check_output_path(output, option="--output", suffixes=(".npz",))
    x = check_array(read_npy(features, option="FEATURES"), name=f"FEATURES {features}", ndim=2)
    y = check_array(read_npy(labels, option="LABELS"), name=f"LABELS {labels}", ndim=1)

    from rich.console import Console

    from tenfold.dpfmix.release import DPFMixRelease

    mechanism = DPFMixRelease(
        eps, delta, m=m_value, releases=releases, lam=lam, clip_features=clip, n_classes=n_classes,
        interval=interval, adjacency=adjacency, n_public=n_public, insecure_seed=insecure_seed,
    )
    mechanism.check()
    with Console(stderr=True).status("calibrating noise with the PLD accountant and mixing"):
        release = mechanism.fit(x, y)
    release.save(output)
    out = Console()
    out.print(
        f"released {release.releases} mixtures to {output} (published record count {release.n_public})\n"
        f"epsilon (PLD, {release.adjacency}) = {release.eps:.4f} at delta = {release.delta:g}; "
        f"mu (GDP-CLT, add-remove theory) = {release.mu_clt:.4f}\n"
        f"m = {release.m:g}, sigma = {release.sigma:.4f} (sigma_x = {release.sigma_x:.4f}, sigma_y = {release.sigma_y:.4f})\n"
        f"randomness: {release.randomness['randomness']}",
        soft_wrap=True,
    )
    Console(stderr=True).print(
        f"for the data owner only (an exact statistic of the private data, not written to the release): "
        f"{release.diagnostics['clipped_fraction']:.3f} of the records were clipped to C_x = {clip:g}",
        soft_wrap=True,
    )


@app.command("mstar")
def mstar_command(
    eps: Annotated[list[float], typer.Option(help="Epsilon values (repeat the option).")] = [1.0, 4.0],  # noqa: B006
    n: Annotated[int, typer.Option(help="Number of private records n.")] = 60000,
    releases: Annotated[int | None, typer.Option("--T", "--releases", help="Number of mixtures T (default n).")] = None,
    delta: Annotated[float, typer.Option(help="Delta.")] = 1e-5,
    numeric: Annotated[bool, typer.Option(help="Also the grid argmax of m / sigma_PLD(m)^2 (slower).")] = False,
    adjacency: Annotated[str, typer.Option(help="Neighbouring relation of the numeric (PLD) argmax: add-remove or replace-one.")] = "add-remove",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Optional JSON output file.")] = None,
) -> None:
    """Optimal mixup degree m*: closed form mu n / sqrt(u* T) and, with --numeric, the PLD grid argmax."""
    from tenfold.core.errors import BadConfigError
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    for value in eps:
        check_number("--eps", value, low=0.0, low_open=True)
    check_number("--n", n, low=2)
    check_number("--T", releases, low=1, allow_none=True)
    check_number("--delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    if adjacency not in ("replace-one", "add-remove"):
        raise BadConfigError(f"--adjacency {adjacency!r}: use replace-one or add-remove")
    if output is not None:
        output = check_output_path(output, option="--output", suffixes=(".json",))

    from rich.console import Console
    from rich.table import Table

    from tenfold.core.io import atomic_write_json
    from tenfold.dpfmix.mstar import optimal_m

    rows = []
    console = Console()
    for value in eps:
        with Console(stderr=True).status(f"eps={value:g}"):
            result = optimal_m(value, delta, n, releases, numeric=numeric, adjacency=adjacency)
        rows.append({"eps": value, "delta": delta, "n": n, "T": releases or n, "mu": result.mu,
                     "m_star_closed_form": result.closed_form, "m_star_numeric": result.numeric,
                     "numeric_adjacency": adjacency if numeric else None})
    table = Table(title="optimal mixup degree")
    for column in ("eps", "mu", "m* closed form (GDP-CLT)", f"m* numeric (PLD, {adjacency})"):
        table.add_column(column)
    for row in rows:
        numeric_text = "-" if row["m_star_numeric"] is None else f"{row['m_star_numeric']:g}"
        table.add_row(f"{row['eps']:g}", f"{row['mu']:.4f}", f"{row['m_star_closed_form']:.2f}", numeric_text)
    console.print(table)
    if output is not None:
        atomic_write_json(output, rows)
