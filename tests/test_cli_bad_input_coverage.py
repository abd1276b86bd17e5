"""Every command of every method has a bad-input table, so a new command inherits the checks.

Each method keeps ``tests/<method>/test_<method>_bad_input.py`` with ``COMMANDS = (...)``, the command
paths its table covers (``"release"``, ``"infmoe run"``), and cases built with the ``bad_input``
fixture (see tests/conftest.py).
"""

import ast
from pathlib import Path

import pytest

from tenfold.core.experiment import METHODS

TESTS = Path(__file__).resolve().parent


def _commands(method: str) -> set[str]:
    import typer

    import tenfold.cli as cli

    cli._mount_method_commands()
    root = typer.main.get_command(cli.app)
    group = root.commands[method]
    found = set()

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*path, name])
        else:
            found.add(" ".join(path))

    walk(group, [])
    return found


def _covered(method: str) -> set[str] | None:
    path = TESTS / method / f"test_{method}_bad_input.py"
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMMANDS" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


@pytest.mark.parametrize("method", METHODS)
def test_every_command_has_a_bad_input_table(method):
    covered = _covered(method)
    assert covered is not None, f"tests/{method}/test_{method}_bad_input.py is missing"
    commands = _commands(method)
    assert commands - covered == set(), f"{method}: commands without bad-input cases: {sorted(commands - covered)}"
    assert covered - commands == set(), f"{method}: the table names commands that do not exist: {sorted(covered - commands)}"
