"""``tenfold cuge ...``: check and score submissions, build and run CUGE-mini, write and serve the board."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.cache import cache_dir
from tenfold.core.errors import BadConfigError

app = typer.Typer(help="CUGE: hierarchical Chinese benchmark scoring, submission checks, CUGE-mini and a leaderboard.",
                  no_args_is_help=True)
mini_app = typer.Typer(help="Build CUGE-mini from shipped text and run its included systems.", no_args_is_help=True)
app.add_typer(mini_app, name="mini")

DEFAULT_CACHE = cache_dir("cuge-mini")
RegistryOption = Annotated[str, typer.Option("--registry", help="'mini' (CUGE-mini), 'cuge' (full CUGE v2) or a registry JSON file.")]
SelectOption = Annotated[str | None, typer.Option("--select", help="Labels to keep: cap:NLU-DL,task:ner,ds:MiniCloze,domain:news,lite.")]
ModeOption = Annotated[str, typer.Option("--mode", help="mean (the report's text) or ratio_of_sums (reproduces Table 2).")]


def _registry(name: str):  # noqa: ANN202 - returns tenfold.cuge.registry.Registry
    from tenfold.cuge.registry import Registry, cuge_registry, mini_registry

    if name == "mini":
        return mini_registry()
    if name == "cuge":
        return cuge_registry()
    return Registry.load(name)


def _console():  # noqa: ANN202
    from rich.console import Console

    return Console()


@app.command("validate")
def validate_command(
    submission: Annotated[Path, typer.Argument(help="Folder of <Dataset>.jsonl prediction files (and metadata.json).")],
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with <Dataset>/test_public.jsonl, test_private.jsonl.")] = DEFAULT_CACHE,
    registry: RegistryOption = "mini",
) -> None:
    """Check a submission: file names, encoding, JSON lines, ids, counts and field types."""
    from tenfold.cuge.submission import score_submission

    result = score_submission(submission, data, _registry(registry))
    console = _console()
    console.print(f"[green]ok[/green]: {len(result.raw)} dataset file(s) valid: {', '.join(result.raw)}")
    if result.missing:
        console.print(f"partial submission; missing: {', '.join(result.missing)}")
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")


@app.command("score")
def score_command(
    submission: Annotated[Path, typer.Argument(help="Folder of <Dataset>.jsonl prediction files.")],
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with the private test files.")] = DEFAULT_CACHE,
    out: Annotated[Path | None, typer.Option("--out", help="Write the score file (JSON) here.")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Baseline score file; prints the normalised tree.")] = None,
    select: SelectOption = None,
    mode: ModeOption = "mean",
    registry: RegistryOption = "mini",
    system: Annotated[str | None, typer.Option("--system", help="System name (default: metadata.json or folder name).")] = None,
) -> None:
    """Score a submission; with --baseline also normalise and aggregate to tasks, capabilities and the Index."""
    from tenfold.cuge.jsonl import write_text_atomic
    from tenfold.cuge.scoring import format_cell, score_tree
    from tenfold.cuge.submission import score_submission

    reg = _registry(registry)
    result = score_submission(submission, data, reg, system=system)
    record = result.to_json(reg)
    console = _console()
    if baseline is not None:
        try:
            base = json.loads(baseline.read_text(encoding="utf-8"))["raw"]
        except (OSError, ValueError, KeyError) as error:
            raise BadConfigError(f"baseline score file {baseline} is unreadable: {error}") from None
        tree = score_tree(result.raw, base, reg, selection=select, mode=mode)
        record["tree"] = tree
        for code, cap in tree["capabilities"].items():
            console.print(f"{code}: {format_cell(cap['raw'], cap['norm'])}")
        index = "-" if tree["index"] is None else f"{tree['index']:.2f}"
        console.print(f"Index ({mode}): {index}")
    for name, value in result.raw.items():
        console.print(f"{name} {reg.datasets[name].metric} = {value:.2f}")
    if out is not None:
        write_text_atomic(out, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        console.print(f"wrote {out}")


@mini_app.command("build")
def mini_build_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to build CUGE-mini into.")] = DEFAULT_CACHE,
    size: Annotated[str, typer.Option("--size", help="smoke, small (default) or full.")] = "small",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Build the ten CUGE-mini datasets (train/valid/test_public/test_private) and a SHA-256 manifest."""
    from tenfold.cuge.mini.build import build_mini

    with _console().status("building CUGE-mini"):
        manifest = build_mini(out, seed=seed, size=size)
    _console().print(f"built {len(manifest['counts'])} datasets into {out}")


@mini_app.command("run")
def mini_run_command(
    data: Annotated[Path, typer.Option("--data", help="A CUGE-mini build.")] = DEFAULT_CACHE,
    out: Annotated[Path | None, typer.Option("--out", help="Work folder for submissions/ and scores/ (default DATA/runs).")] = None,
    systems: Annotated[str, typer.Option("--systems", help="'all' or a comma list of mini-small, mini-ngram, mini-lr.")] = "all",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Run the included systems, write their official submissions and score files."""
    from rich.progress import Progress

    from tenfold.cuge.mini.pipeline import run_mini

    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    with Progress(transient=True) as progress:
        task = progress.add_task("systems", total=None)
        scores = run_mini(data, out or data / "runs", systems=chosen, seed=seed,
                          progress=lambda message: progress.update(task, description=message))
    for s in scores:
        _console().print(f"{s['system']}: " + ", ".join(f"{d} {v:.1f}" for d, v in s["raw"].items()))


@app.command("board")
def board_command(
    out: Annotated[Path, typer.Argument(help="Folder for index.html, leaderboard.json and leaderboard.csv.")],
    scores: Annotated[Path, typer.Option("--scores", help="Folder of score files.")] = DEFAULT_CACHE / "runs" / "scores",
    select: SelectOption = None,
    mode: ModeOption = "mean",
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline system (default: the registry's).")] = None,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Rank partial rows over the datasets they have.")] = False,
    registry: RegistryOption = "mini",
) -> None:
    """Write the static leaderboard site (self-contained HTML with filters, radar and drill-down)."""
    from tenfold.cuge.board import build_leaderboard, load_scores
    from tenfold.cuge.site import write_site

    reg = _registry(registry)
    loaded = load_scores(scores)
    board = build_leaderboard(loaded, reg, baseline=baseline, mode=mode, selection=select, allow_partial=allow_partial)
    page = write_site(out, board, loaded, reg)
    for row in board["rows"]:
        _console().print(f"{row['rank'] or 'base':>4} {row['system']:<16} Index {row['index_text']}")
    _console().print(f"wrote {page}")


@app.command("table2")
def table2_command(mode: ModeOption = "ratio_of_sums") -> None:
    """Reproduce the published lite-CUGE Table 2 from its raw scores."""
    from tenfold.cuge.table2 import reproduce_table2

    for system, row in reproduce_table2(mode).items():
        _console().print(f"{system:<10} " + " ".join(f"{n:>4}" for n in row["norm"]) + f"  Index {row['index']:.2f} ({row['index_int']})")


@app.command("serve")
def serve_command(
    scores: Annotated[Path, typer.Option("--scores", help="Score store (uploads are added here).")] = DEFAULT_CACHE / "runs" / "scores",
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with private test files.")] = DEFAULT_CACHE,
    host: Annotated[str, typer.Option("--host", help="Interface; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    registry: RegistryOption = "mini",
) -> None:
    """Serve the leaderboard and the submission API (FastAPI + uvicorn) on 127.0.0.1."""
    import uvicorn

    from tenfold.cuge.web import create_app

    if not scores.is_dir():
        raise BadConfigError(f"score store {scores} does not exist; run `tenfold cuge mini run` first")
    uvicorn.run(create_app(scores, data, _registry(registry)), host=host, port=port)
