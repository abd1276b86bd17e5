import json

import pytest

from tenfold.cli import main
from tenfold.core.experiment import Claim, Result, experiment


def _run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_unknown_experiment_exits_2_with_one_line_naming_known(isolated_registry, capsys):
    @experiment("known", paper="p")
    def known(scale, out, seed=0):
        return Result("known", scale, seed)

    assert _run(["reproduce", "nonexistent", "--scale", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nonexistent" in err and "known" in err


def test_bad_scale_and_no_selection_exit_2(isolated_registry, capsys):
    assert _run(["reproduce", "--all", "--scale", "huge"]) == 2
    assert "smoke, small, full" in capsys.readouterr().err
    assert _run(["reproduce"]) == 2
    assert "--all" in capsys.readouterr().err


def test_reproduce_all_with_nothing_registered_writes_report_and_exits_0(isolated_registry, tmp_path):
    assert _run(["reproduce", "--all", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    assert "No experiments are registered yet" in (tmp_path / "index.html").read_text()


def test_reproduce_exit_code_follows_required_claims(isolated_registry, tmp_path, capsys):
    @experiment("passes", paper="p")
    def passes(scale, out, seed=0):
        return Result("passes", scale, seed, claims=[Claim.holds("c", "s", True)])

    @experiment("fails", paper="p")
    def fails(scale, out, seed=0):
        return Result("fails", scale, seed, claims=[Claim.compare("c", "s", 0.1, ">=", 0.5, paper_value=0.6)])

    assert _run(["reproduce", "passes", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    assert _run(["reproduce", "--all", "--scale", "smoke", "--out", str(tmp_path), "--seed", "4"]) == 1
    stored = json.loads((tmp_path / "fails" / "result.json").read_text())
    assert stored["claims"][0]["passed"] is False and stored["seed"] == 4
    table = capsys.readouterr().out
    assert "passes" in table and "fails" in table and "FAIL" in table


def test_list_shows_registered_claims(isolated_registry, capsys):
    @experiment("demo", paper="Demo paper (2030)", claims=["it is better"])
    def demo(scale, out, seed=0):
        return Result("demo", scale, seed)

    assert _run(["list"]) == 0
    out = capsys.readouterr().out
    assert "Demo paper (2030)" in out and "it is better" in out


def test_a_method_whose_commands_fail_to_load_explains_itself():
    from typer.testing import CliRunner

    from tenfold.cli import _unavailable
    from tenfold.core.errors import TenfoldError

    result = CliRunner().invoke(_unavailable("cpm", "ImportError: no safetensors"), [])
    assert isinstance(result.exception, TenfoldError)
    assert "cpm" in str(result.exception) and "no safetensors" in str(result.exception)
