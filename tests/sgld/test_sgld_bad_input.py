"""Bad input for every ``tenfold sgld`` command: one ``error:`` line, exit 2, nothing written, before any work.

The standard output-path and number cases come from the shared ``bad_input`` harness; the method's own
cases cover missing assumptions (no clip, no bounded loss) and grids the accountant cannot hold (issue 17).
"""

import sys
from pathlib import Path

import pytest

COMMANDS = ("grid", "bounds")


def _case(bad_input, name, argv, mentions, absent=()):
    """A Case of the shared harness (tests/conftest.py), which the importlib import mode cannot import by name."""
    case_type = sys.modules[type(bad_input).__module__].Case
    return case_type(name, [str(a) for a in argv], (mentions,), tuple(Path(p) for p in absent))


def _grid(out):
    return [str(a) for a in ["sgld", "grid", "--beta", "1e2", "--steps", "5", "--seeds", "1", "--trend-seeds", "0",
                             "--lr", "0.5", "--batch", "8", "--clip", "1", "--seed", "0", "--workers", "1", "-o", out]]


BOUNDS = ["sgld", "bounds", "--beta", "100", "--lr", "0.5", "--steps", "100", "--n", "300", "--batch", "32",
          "--clip", "1", "--loss-bound", "1", "--dim", "650"]


def test_valid_invocations_work(tmp_path, cli):
    outcome = cli(_grid(tmp_path / "grid"))
    assert outcome.code == 0, outcome.err
    assert (tmp_path / "grid" / "grid.json").is_file()
    assert cli(_grid(tmp_path / "grid")).code == 0  # an earlier grid output may be replaced
    assert cli(BOUNDS).code == 0


def test_standard_grid_cases(tmp_path, bad_input):
    out = tmp_path / "grid"
    cases = bad_input.cases(
        _grid(out), output=(out, "directory"),
        numbers={"--beta": ["0", "-1", "nan", "inf", "abc"], "--steps": ["0", "1.5", "nan", "1e9"], "--seeds": ["0"],
                 "--trend-seeds": ["-1"], "--lr": ["0", "nan", "inf"], "--batch": ["0", "301"], "--clip": ["0", "nan"],
                 "--seed": ["-1"], "--workers": ["0"]},
    )
    for case in cases:
        bad_input.check(case)


def test_standard_bounds_cases(bad_input):
    cases = bad_input.cases(
        BOUNDS,
        numbers={"--beta": ["0", "nan", "inf"], "--lr": ["0", "-1", "nan"], "--steps": ["0", "10000000"],
                 "--n": ["0", "nan"], "--batch": ["0", "301", "nan"], "--clip": ["0", "nan"],
                 "--loss-bound": ["0", "inf", "nan"], "--dim": ["0", "-3"]},
    )
    for case in cases:
        bad_input.check(case)


@pytest.mark.parametrize(
    ("drop", "mentions"), [("--clip", "--clip"), ("--loss-bound", "--loss-bound")],
)
def test_bounds_refuses_missing_assumptions(bad_input, drop, mentions):
    index = BOUNDS.index(drop)
    argv = BOUNDS[:index] + BOUNDS[index + 2:]
    bad_input.check(_case(bad_input, f"bounds without {drop}", argv, mentions))


def test_grid_refuses_a_beta_the_accountant_cannot_hold(tmp_path, bad_input):
    out = tmp_path / "grid"
    argv = _grid(out)
    argv[argv.index("--beta") + 1] = "1e12"
    bad_input.check(_case(bad_input, "grid beta 1e12", argv, "vacuous", (out,)))
    argv = _grid(out)
    argv[argv.index("--steps") + 1] = ""
    bad_input.check(_case(bad_input, "grid no steps", argv, "--steps", (out,)))


def test_grid_never_replaces_a_folder_holding_other_files(tmp_path, bad_input):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    bad_input.check(_case(bad_input, "grid into a full folder", _grid(out), "other files"))
    assert (out / "thesis.tex").read_text() == "keep me"
