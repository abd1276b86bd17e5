"""The ``tenfold`` command: ``list``, ``reproduce`` and one sub-command group per method.

A method mounts its commands by exposing ``app: typer.Typer`` in ``tenfold/<method>/cli.py``;
method CLIs import heavy libraries inside their commands so ``tenfold --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from tenfold.core.errors import BadConfigError, TenfoldError, UnknownExperimentError
from tenfold.core.experiment import METHODS, Scale, get_experiment, list_experiments, load_experiments

app = typer.Typer(
    name="tenfold",
    help="Ten ML papers as software: library APIs, per-method commands and a measured reproduction report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_MOUNT_ERRORS: dict[str, str] = {}
_MOUNTED: set[str] = set()


def _mount_method_commands() -> None:
    """Mount each method's Typer app once per process (``main`` may be called many times in tests)."""
    for method in METHODS:
        if method in _MOUNTED or method in _MOUNT_ERRORS:
            continue
        name = f"tenfold.{method}.cli"
        try:
            if importlib.util.find_spec(f"tenfold.{method}") is None or importlib.util.find_spec(name) is None:
                continue
            module = importlib.import_module(name)
        except Exception as error:  # one broken method must not take the whole CLI down
            _MOUNT_ERRORS[method] = f"{type(error).__name__}: {error}"
            app.add_typer(_unavailable(method, _MOUNT_ERRORS[method]), name=method)
            continue
        sub_app = getattr(module, "app", None)
        if isinstance(sub_app, typer.Typer):
            app.add_typer(sub_app, name=method)
            _MOUNTED.add(method)


def _unavailable(method: str, reason: str) -> typer.Typer:
    """A stand-in group that explains why a method's commands could not be loaded."""
    stand_in = typer.Typer(help=f"(unavailable: {reason})")

    @stand_in.callback(invoke_without_command=True)
    def explain() -> None:
        raise TenfoldError(
            f"the {method} commands could not be loaded ({reason}); reinstall with `pip install -e '.[all]'`"
        )

    return stand_in


@app.command("list")
def list_command() -> None:
    """List the methods, their papers and the claims each experiment checks."""
    from rich.console import Console
    from rich.table import Table

    import_errors = load_experiments()
    specs = list_experiments()
    console = Console()
    if not specs and not import_errors:
        console.print("No experiments are registered yet.")
        return
    table = Table(title="tenfold methods")
    table.add_column("experiment")
    table.add_column("paper", overflow="fold")
    table.add_column("claims", overflow="fold")
    for spec in specs:
        table.add_row(spec.name, spec.paper, "\n".join(f"- {c}" for c in spec.claims) or "-")
    for method, error in import_errors.items():
        table.add_row(method, f"[red]could not be imported: {error}[/red]", "-")
    console.print(table)


@app.command("reproduce")
def reproduce_command(
    names: Annotated[list[str] | None, typer.Argument(help="Experiments to run (see `tenfold list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every registered experiment.")] = False,
    scale: Annotated[str, typer.Option(help="smoke (seconds), small (minutes, default) or full (GPU).")] = "small",
    out: Annotated[Path, typer.Option(help="Folder for result.json files, figures and index.html.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Random seed; runs are deterministic on CPU for a seed.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Skip experiments whose result for this scale and seed exists.")] = False,
) -> None:
    """Reproduce papers' central claims in miniature and write out/index.html."""
    from rich.console import Console

    from tenfold.core.report import print_table, write_index
    from tenfold.core.runner import run_many

    chosen_scale = Scale.parse(scale)
    import_errors = load_experiments()
    if all_ and names:
        raise BadConfigError("give experiment names or --all, not both")
    if not all_ and not names:
        raise BadConfigError("name the experiments to run (see `tenfold list`) or pass --all")
    if all_:
        selected = [spec.name for spec in list_experiments()]
    else:
        selected = list(dict.fromkeys(names or []))
        for name in selected:
            if name in import_errors:
                raise UnknownExperimentError(f"experiment {name!r} could not be imported: {import_errors[name]}")
            get_experiment(name)
    console = Console(stderr=True)
    if all_ and not selected and not import_errors:
        console.print("No experiments are registered yet; writing an empty report.")
    with console.status("starting") as status:

        def announce(name: str) -> None:
            status.update(f"running [bold]{name}[/bold] at scale {chosen_scale.value}")

        summary = run_many(selected, chosen_scale, out, seed=seed, resume=resume, on_start=announce)
    if all_:
        summary.failures.update({m: f"import failed: {e}" for m, e in import_errors.items()})
    if summary.skipped:
        console.print(f"resumed (kept earlier results): {', '.join(summary.skipped)}")
    # Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
    table_console = Console() if sys.stdout.isatty() else Console(width=160)
    print_table(summary.results, summary.failures, table_console)
    index = write_index(out, summary.results, summary.failures, scale=chosen_scale.value)
    table_console.print(f"report: {index}")
    if not summary.ok:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: a TenfoldError becomes one line on stderr and exit code 2."""
    _mount_method_commands()
    try:
        code = app(args=argv, standalone_mode=False)
    except TenfoldError as error:
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
