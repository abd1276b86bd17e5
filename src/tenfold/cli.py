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
    """List the experiments, their papers and every claim with the rule that decides it."""
    from rich.console import Console
    from rich.table import Table

    import_errors = load_experiments()
    specs = list_experiments()
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if not specs and not import_errors:
        console.print("No experiments are registered yet.")
        return
    for spec in specs:
        table = Table(title=f"{spec.name}: {spec.paper}", title_justify="left")
        for column in ("claim", "statement", "paper", "rule", "kind", "decided from"):
            table.add_column(column, overflow="fold")
        for claim in spec.claims:
            table.add_row(
                claim.id, claim.statement, "-" if claim.paper_value is None else str(claim.paper_value),
                claim.threshold_text, "required" if claim.required else "soft", claim.decisive_from.value,
            )
        console.print(table)
    for method, error in import_errors.items():
        console.print(f"[red]{method}: could not be imported: {error}[/red]")


@app.command("reproduce")
def reproduce_command(
    names: Annotated[list[str] | None, typer.Argument(help="Experiments to run (see `tenfold list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every registered experiment.")] = False,
    scale: Annotated[str, typer.Option(help="smoke (seconds), small (minutes, default) or full (GPU).")] = "small",
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for result.json files, figures and index.html.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Random seed; runs are deterministic on CPU for a seed.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Skip experiments whose result for this scale and seed exists.")] = False,
) -> None:
    """Reproduce papers' central claims in miniature and write out/index.html."""
    from rich.console import Console

    from tenfold.core.io import check_output_path
    from tenfold.core.report import print_table, write_index
    from tenfold.core.runner import is_result_folder, run_many

    chosen_scale = Scale.parse(scale)
    out = check_output_path(output, option="--output", kind="directory")
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
    for name in selected:  # each out/<name> is replaced whole: never a folder of the user's own files
        if not is_result_folder(out / name):
            check_output_path(out / name, option="--output", kind="directory", replaced=True)
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


def _one_line_warnings() -> None:
    """Warnings reach the terminal as one ``warning: ...`` line, not as ``<string>:13: UserWarning: ...``."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings' signature
        print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)

    warnings.showwarning = show


def _fail(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every bad input ends in one ``error: ...`` line on stderr and exit code 2."""
    _mount_method_commands()
    _one_line_warnings()
    try:
        code = app(args=argv, standalone_mode=False, prog_name="tenfold")
    except TenfoldError as error:
        _fail(str(error))
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "tenfold"
        _fail(f"{error.format_message()} (see `{command} --help`)")
    except click.exceptions.ClickException as error:
        _fail(error.format_message())
    except click.exceptions.Abort as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, EOFError):  # click turns EOFError (a truncated input file) into Abort
            _fail(f"an input ended early ({cause or 'EOFError'}); check that the file is complete")
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except OSError as error:  # the disk filled, a permission changed mid-run: one line, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        _fail(f"{error.strerror or error}{where}; check the path, free space and permissions")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
