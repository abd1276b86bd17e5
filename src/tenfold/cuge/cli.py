"""``tenfold cuge ...``: check and score submissions, build and run CUGE-mini, write and serve the board.

Every path and number is checked before any work starts; outputs are written atomically (a folder
output is staged beside its target and renamed into place), so a refused or failed command leaves
nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.cache import cache_dir
from tenfold.core.errors import BadConfigError, BadInputError

app = typer.Typer(help="CUGE: hierarchical Chinese benchmark scoring, submission checks, CUGE-mini and a leaderboard.",
                  no_args_is_help=True)
mini_app = typer.Typer(help="Build CUGE-mini from shipped text and run its included systems.", no_args_is_help=True)
app.add_typer(mini_app, name="mini")

DEFAULT_CACHE = cache_dir("cuge-mini")
RegistryOption = Annotated[str, typer.Option("--registry", help="'mini' (CUGE-mini), 'cuge' (full CUGE v2) or a registry JSON file.")]
SelectOption = Annotated[str | None, typer.Option("--select", help="Labels to keep: cap:NLU-DL,task:ner,ds:MiniCloze,domain:news,lite.")]
ModeOption = Annotated[str, typer.Option("--mode", help="mean (the report's text) or ratio_of_sums (reproduces Table 2).")]
SubmissionArgument = Annotated[Path, typer.Argument(help="Folder of <Dataset>.jsonl prediction files (and metadata.json), or a .zip of it.")]


def _registry(name: str):  # noqa: ANN202 - returns tenfold.cuge.registry.Registry
    from tenfold.core.io import check_input_file
    from tenfold.cuge.registry import Registry, cuge_registry, mini_registry

    if name == "mini":
        return mini_registry()
    if name == "cuge":
        return cuge_registry()
    return Registry.load(check_input_file(name, option="--registry", what="registry JSON file"))


def _mode(mode: str) -> str:
    from tenfold.cuge.scoring import MODES

    if mode not in MODES:
        raise BadConfigError(f"--mode {mode!r} is unknown; use one of: {', '.join(MODES)}")
    return mode


def _echo(text: str) -> None:
    """Print data lines as plain text: names come from users, and rich would read '[...]' as markup."""
    typer.echo(text)


def _replaceable_folder(path: Path, option: str, markers: tuple[str, ...]) -> Path:
    """A folder output is staged and swapped in whole, so an existing folder is replaced only if it
    is empty or holds what this command writes (one of ``markers``); anything else is refused."""
    from tenfold.core.io import check_output_path

    check_output_path(path, option=option, kind="directory")
    if path.is_dir() and any(path.iterdir()) and not any((path / m).exists() for m in markers):
        raise BadInputError(f"{option} {path} is a folder with other content; it would be replaced as a whole. "
                            f"Give a new or empty folder (or one this command wrote before)")
    # the same rule the publish step applies (files tenfold did not write are never replaced), checked now
    # so a folder the user added files to is refused before the work, not after it
    check_output_path(path, option=option, kind="directory", replaced=True)
    if path.resolve() in (Path.home().resolve(), Path.cwd().resolve(), Path(path.anchor).resolve()):
        raise BadInputError(f"{option} {path} is the home, current or root folder; give a folder of its own")
    return path


def _data_dir(path: Path) -> Path:
    from tenfold.core.io import check_input_dir

    return check_input_dir(path, option="--data", what="benchmark folder (<Dataset>/test_public.jsonl, test_private.jsonl)")


def _submission(path: Path) -> Path:
    """A submission folder or zip that exists (a missing path, an empty file or a non-zip file is refused)."""
    import zipfile

    from tenfold.core.errors import MissingDataError

    if path.is_file():
        if path.stat().st_size == 0:
            raise BadInputError(f"submission {path} is an empty file; give the submission folder or a .zip of it")
        if not zipfile.is_zipfile(path):
            raise BadInputError(f"submission {path} is a file but not a zip archive; give the submission folder "
                                f"or a .zip of its <Dataset>.jsonl files")
        return path
    if not path.exists():
        raise MissingDataError(f"submission {path} does not exist; check the path")
    if not path.is_dir():
        raise BadInputError(f"submission {path} is neither a folder nor a zip file")
    return path


@app.command("validate")
def validate_command(
    submission: SubmissionArgument,
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with <Dataset>/test_public.jsonl, test_private.jsonl.")] = DEFAULT_CACHE,
    registry: RegistryOption = "mini",
) -> None:
    """Check a submission: file names, encoding, JSON lines, ids, counts and field types."""
    reg = _registry(registry)
    submission, data = _submission(submission), _data_dir(data)
    from tenfold.cuge.submission import score_submission

    result = score_submission(submission, data, reg)
    _echo(f"ok: {len(result.raw)} dataset file(s) valid: {', '.join(result.raw)}")
    if result.missing:
        _echo(f"partial submission; missing: {', '.join(result.missing)}")
    for warning in result.warnings:
        _echo(f"warning: {warning}")


def _baseline_raw(path: Path, reg) -> dict[str, float]:  # noqa: ANN001 - Registry
    from tenfold.cuge.board import read_score_file

    record = read_score_file(path, option="--baseline")
    return record["raw"]


@app.command("score")
def score_command(
    submission: SubmissionArgument,
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with the private test files.")] = DEFAULT_CACHE,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the score file (JSON) here.")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Baseline score file; prints the normalised tree.")] = None,
    select: SelectOption = None,
    mode: ModeOption = "mean",
    registry: RegistryOption = "mini",
    system: Annotated[str | None, typer.Option("--system", help="System name (default: metadata.json or folder name).")] = None,
) -> None:
    """Score a submission; with --baseline also normalise and aggregate to tasks, capabilities and the Index."""
    from tenfold.core.io import atomic_write_text, check_output_path

    if output is not None:
        check_output_path(output, option="--output", kind="file")  # a folder is named as such first
        check_output_path(output, option="--output", kind="file", suffixes=(".json",))
    mode = _mode(mode)
    reg = _registry(registry)
    submission, data = _submission(submission), _data_dir(data)
    base = _baseline_raw(baseline, reg) if baseline is not None else None
    if select is not None:
        reg.select(select)  # an unknown label is refused before scoring
    from tenfold.cuge.scoring import format_cell, score_tree
    from tenfold.cuge.submission import check_system_name, score_submission

    if system is not None:
        check_system_name(system, "--system")
    result = score_submission(submission, data, reg, system=system)
    record = result.to_json(reg)
    if base is not None:
        tree = score_tree(result.raw, base, reg, selection=select, mode=mode)
        record["tree"] = tree
        for code, cap in tree["capabilities"].items():
            _echo(f"{code}: {format_cell(cap['raw'], cap['norm'])}")
        index = "-" if tree["index"] is None else f"{tree['index']:.2f}"
        _echo(f"Index ({mode}): {index}")
    for name, value in result.raw.items():
        _echo(f"{name} {reg.datasets[name].metric} = {value:.2f}")
    if output is not None:
        atomic_write_text(output, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=False) + "\n")
        _echo(f"wrote {output}")


@mini_app.command("build")
def mini_build_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to build CUGE-mini into.")] = DEFAULT_CACHE,
    size: Annotated[str, typer.Option("--size", help="smoke, small (default) or full.")] = "small",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the splits and the generators.")] = 0,
) -> None:
    """Build the ten CUGE-mini datasets (train/valid/test_public/test_private) and a SHA-256 manifest."""
    from tenfold.core.io import atomic_directory
    from tenfold.core.validation import check_number
    from tenfold.cuge.mini.build import MiniSize

    _replaceable_folder(output, "--output", ("manifest.json",))
    MiniSize.named(size)
    check_number("--seed", seed, low=0, high=2**32 - 1, integer=True)
    from tenfold.cuge.mini.build import build_mini

    with _console().status("building CUGE-mini"), atomic_directory(output) as staging:
        manifest = build_mini(staging, seed=seed, size=size)
    _echo(f"built {len(manifest['counts'])} datasets into {output}")


def _console():  # noqa: ANN202
    from rich.console import Console

    return Console(stderr=True)


@mini_app.command("run")
def mini_run_command(
    data: Annotated[Path, typer.Option("--data", help="A CUGE-mini build.")] = DEFAULT_CACHE,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Work folder for submissions/ and scores/ (default DATA/runs).")] = None,
    systems: Annotated[str, typer.Option("--systems", help="'all' or a comma list of mini-small, mini-ngram, mini-lr.")] = "all",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the systems' sampling.")] = 0,
) -> None:
    """Run the included systems, write their official submissions and score files."""
    from tenfold.core.errors import MissingDataError
    from tenfold.core.io import atomic_directory
    from tenfold.core.validation import check_number
    from tenfold.cuge.mini.systems import SYSTEMS

    work = output if output is not None else data / "runs"
    _replaceable_folder(work, "--output", ("scores", "submissions"))
    _data_dir(data)
    if not (data / "manifest.json").is_file():
        raise MissingDataError(f"--data {data} is not a CUGE-mini build (no manifest.json); run `tenfold cuge mini build`")
    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    unknown = [s for s in chosen if s != "all" and s not in SYSTEMS]
    if not chosen or unknown:
        raise BadConfigError(f"--systems {systems!r}: use 'all' or a comma list of {', '.join(SYSTEMS)}")
    check_number("--seed", seed, low=0, high=2**32 - 1, integer=True)
    from rich.progress import Progress

    from tenfold.cuge.mini.pipeline import run_mini

    with Progress(transient=True, console=_console()) as progress, atomic_directory(work) as staging:
        task = progress.add_task("systems", total=None)
        scores = run_mini(data, staging, systems=chosen, seed=seed,
                          progress=lambda message: progress.update(task, description=message))
    for s in scores:
        _echo(f"{s['system']}: " + ", ".join(f"{d} {v:.1f}" for d, v in s["raw"].items()))


@app.command("board")
def board_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for index.html, leaderboard.json and leaderboard.csv.")],
    scores: Annotated[Path, typer.Option("--scores", help="Folder of score files.")] = DEFAULT_CACHE / "runs" / "scores",
    select: SelectOption = None,
    mode: ModeOption = "mean",
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline system (default: the registry's).")] = None,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Rank partial rows over the datasets they have.")] = False,
    registry: RegistryOption = "mini",
) -> None:
    """Write the static leaderboard site (self-contained HTML with filters, radar and drill-down)."""
    from tenfold.core.io import atomic_directory, check_input_dir

    _replaceable_folder(output, "--output", ("index.html", "leaderboard.json"))
    mode = _mode(mode)
    reg = _registry(registry)
    check_input_dir(scores, option="--scores", what="folder of score files (*.json)")
    from tenfold.cuge.board import build_leaderboard, load_scores
    from tenfold.cuge.site import write_site

    loaded = load_scores(scores)
    board = build_leaderboard(loaded, reg, baseline=baseline, mode=mode, selection=select, allow_partial=allow_partial)
    with atomic_directory(output) as staging:
        write_site(staging, board, loaded, reg)
    for row in board["rows"]:
        rank = "base" if row["baseline"] else (row["rank"] or "-")
        _echo(f"{rank:>4} {row['system']:<16} Index {row['index_text']}")
    _echo(f"wrote {output / 'index.html'}")


@app.command("table2")
def table2_command(mode: ModeOption = "ratio_of_sums") -> None:
    """Reproduce the published lite-CUGE Table 2 from its raw scores."""
    mode = _mode(mode)
    from tenfold.cuge.table2 import reproduce_table2

    for system, row in reproduce_table2(mode).items():
        _echo(f"{system:<10} " + " ".join(f"{n:>4}" for n in row["norm"]) + f"  Index {row['index']:.2f} ({row['index_int']})")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command("serve")
def serve_command(
    scores: Annotated[Path, typer.Option("--scores", help="Score store (uploads are added here).")] = DEFAULT_CACHE / "runs" / "scores",
    data: Annotated[Path, typer.Option("--data", help="Benchmark folder with private test files.")] = DEFAULT_CACHE,
    host: Annotated[str, typer.Option("--host", help="Interface; loopback only (127.0.0.1, localhost, ::1).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port, 1-65535.")] = 8000,
    registry: RegistryOption = "mini",
) -> None:
    """Serve the leaderboard and the submission API (FastAPI + uvicorn) on 127.0.0.1."""
    from tenfold.core.errors import MissingDataError
    from tenfold.core.io import check_input_dir
    from tenfold.core.validation import check_number

    check_input_dir(scores, option="--scores", what="score store (run `tenfold cuge mini run` first)")
    _data_dir(data)
    check_number("--port", port, low=1, high=65535, integer=True)
    if host not in LOOPBACK:
        raise BadConfigError(f"--host {host!r}: the board serves on the loopback interface only "
                             f"({', '.join(LOOPBACK)}); put a reverse proxy in front to publish it")
    reg = _registry(registry)
    lacking = [d for d in reg.datasets
               if not all((data / d / f).is_file() for f in ("test_public.jsonl", "test_private.jsonl"))]
    if lacking:
        raise MissingDataError(f"--data {data} lacks the test files of {', '.join(lacking[:5])}"
                               f"{' ...' if len(lacking) > 5 else ''}; uploads could not be scored "
                               f"(build CUGE-mini with `tenfold cuge mini build`)")
    from tenfold.cuge.board import build_leaderboard, load_scores

    build_leaderboard(load_scores(scores), reg, with_comparison=False)  # a broken store fails here, not per request
    import uvicorn

    from tenfold.cuge.web import create_app

    uvicorn.run(create_app(scores, data, reg), host=host, port=port)
