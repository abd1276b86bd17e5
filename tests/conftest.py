"""Shared test set-up: one torch thread per test process (xdist runs two), a headless matplotlib, and
the table-driven bad-input harness every method's CLI tests use (``bad_input`` fixture)."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a core dependency
    pass


@dataclass
class CliOutcome:
    code: int
    out: str
    err: str


def run_cli(argv: list[str]) -> CliOutcome:
    """Run ``tenfold ARGV`` in this process and capture its exit code, stdout and stderr."""
    from tenfold.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return CliOutcome(code, out.getvalue(), err.getvalue())


@dataclass
class Case:
    """One bad invocation: the arguments, what the error line must mention, and paths that must not appear."""

    name: str
    argv: list[str]
    mentions: tuple[str, ...]
    absent: tuple[Path, ...] = ()


class BadInput:
    """Builds the standard bad inputs and checks that a command rejects each in one named line, exit 2.

    A method's table gives one valid invocation per command and says which of its arguments are input
    files, which is the output, and which numbers to break; :meth:`cases` derives the standard cases
    (missing, empty, folder, wrong format for each input; a path below a file, a folder where a file
    goes or a file where a folder goes for the output; NaN/inf/out-of-range numbers) and each method
    adds its own wrong-shape and NaN-content cases.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.folder = root / "a_folder"
        self.folder.mkdir(exist_ok=True)
        self.plain_file = root / "plain_file"
        self.plain_file.write_text("not a folder")

    def missing(self, suffix: str = "") -> Path:
        return self.root / f"does_not_exist{suffix}"

    def empty(self, suffix: str = "") -> Path:
        path = self.root / f"empty{suffix}"
        path.write_bytes(b"")
        return path

    def garbage(self, suffix: str = "") -> Path:
        path = self.root / f"garbage{suffix}"
        path.write_bytes(b"\x89PNG\r\n\x1a\n this is not what the command reads \x00\xff" * 3)
        return path

    def cases(
        self,
        valid: list,
        *,
        inputs: dict[str, str] | None = None,
        output: tuple[Path, str] | None = None,
        numbers: dict[str, list[str]] | None = None,
    ) -> list[Case]:
        """Standard cases derived from a ``valid`` argv.

        ``inputs``: {value in valid argv: suffix of that file}; ``output``: (path in valid argv, 'file' or
        'directory'); ``numbers``: {option: bad values}, each value replacing the option's argument.
        """
        valid = [str(a) for a in valid]
        out_path = output[0] if output else None
        absent = (out_path,) if out_path else ()
        result: list[Case] = []

        def replace(old: str, new: str) -> list[str]:
            assert old in valid, f"{old} is not in the valid argv {valid}"
            return [new if a == old else a for a in valid]

        for value, suffix in (inputs or {}).items():
            for label, path in (
                ("missing", self.missing(suffix)),
                ("empty", self.empty(suffix)),
                ("folder", self.folder),
                ("wrong format", self.garbage(suffix)),
            ):
                result.append(Case(f"{Path(value).name} {label}", replace(str(value), str(path)), (str(path),), absent))
        if output:
            path, kind = output
            below = self.plain_file / Path(path).name
            result.append(Case("output below a file", replace(str(path), str(below)), ("plain_file",), (below,)))
            if kind == "file":
                result.append(Case("output is a folder", replace(str(path), str(self.folder)), (str(self.folder),)))
            else:
                result.append(Case("output is a file", replace(str(path), str(self.plain_file)), ("plain_file",)))
        for option, values in (numbers or {}).items():
            index = valid.index(option)
            for value in values:
                argv = list(valid)
                argv[index + 1] = value
                result.append(Case(f"{option} {value}", argv, (option,), absent))
        return result

    def check(self, case: Case) -> None:
        """Exit 2, one ``error:`` line naming what ``case.mentions``, no traceback, nothing written."""
        watched = {p: (sorted(p.parent.iterdir()) if p.parent.is_dir() else None) for p in case.absent}
        outcome = run_cli(case.argv)
        lines = [line for line in outcome.err.splitlines() if line.strip()]
        assert outcome.code == 2, f"{case.name}: exit {outcome.code}, stderr:\n{outcome.err[-2000:]}"
        assert len(lines) == 1 and lines[0].startswith("error:"), f"{case.name}: not one error line:\n{outcome.err[-2000:]}"
        assert "Traceback" not in outcome.err
        assert any(m in lines[0] for m in case.mentions), f"{case.name}: {lines[0]!r} names none of {case.mentions}"
        for path, before in watched.items():
            assert not Path(path).exists(), f"{case.name}: {path} was written"
            if before is not None:
                assert sorted(path.parent.iterdir()) == before, f"{case.name}: files left beside {path}"


@pytest.fixture
def bad_input(tmp_path: Path) -> BadInput:
    return BadInput(tmp_path / "bad_input")


@pytest.fixture
def cli():
    """``cli(argv) -> CliOutcome``: run the tenfold command in this process."""
    return run_cli
