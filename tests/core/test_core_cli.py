import json

import pytest

from tenfold.cli import main
from tenfold.core.experiment import ClaimSpec, Measurements, Scale, experiment


def _run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_unknown_experiment_exits_2_with_one_line_naming_known(isolated_registry, toy_settings, capsys):
    @experiment("known", paper="p", settings=toy_settings, claims=[])
    def known(scale, settings, out, seed):
        return Measurements(claims={})

    assert _run(["reproduce", "nonexistent", "--scale", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nonexistent" in err and "known" in err


def test_bad_scale_and_no_selection_exit_2(isolated_registry, capsys):
    assert _run(["reproduce", "--all", "--scale", "huge"]) == 2
    assert "smoke, small, full" in capsys.readouterr().err
    assert _run(["reproduce"]) == 2
    assert "--all" in capsys.readouterr().err


def test_reproduce_all_with_nothing_registered_writes_report_and_exits_0(isolated_registry, tmp_path):
    assert _run(["reproduce", "--all", "--scale", "smoke", "--output", str(tmp_path)]) == 0
    assert "No experiments are registered yet" in (tmp_path / "index.html").read_text()


def test_reproduce_exit_code_follows_required_claims(isolated_registry, toy_settings, tmp_path, capsys):
    @experiment("passes", paper="p", settings=toy_settings, claims=[ClaimSpec("c", "s", "holds", decisive_from=Scale.SMOKE)])
    def passes(scale, settings, out, seed):
        return Measurements(claims={"c": True})

    claims = [ClaimSpec("c", "s", ">=", 0.5, paper_value=0.6, decisive_from=Scale.SMOKE)]

    @experiment("fails", paper="p", settings=toy_settings, claims=claims)
    def fails(scale, settings, out, seed):
        return Measurements(claims={"c": 0.1})

    assert _run(["reproduce", "passes", "--scale", "smoke", "--output", str(tmp_path)]) == 0
    assert _run(["reproduce", "--all", "--scale", "smoke", "-o", str(tmp_path), "--seed", "4"]) == 1
    stored = json.loads((tmp_path / "fails" / "result.json").read_text())
    assert stored["claims"][0]["passed"] is False and stored["seed"] == 4
    table = capsys.readouterr().out
    assert "passes" in table and "fails" in table and "FAIL" in table


def test_list_shows_exactly_the_declared_claims_and_rules(isolated_registry, toy_settings, capsys):
    claims = [ClaimSpec("better", "it is better", ">=", 1.5, over="seeds"), ClaimSpec("soft", "maybe", "holds", required=False)]

    @experiment("demo", paper="Demo paper (2030)", settings=toy_settings, claims=claims)
    def demo(scale, settings, out, seed):
        return Measurements(claims={})

    assert _run(["list"]) == 0
    out = capsys.readouterr().out
    assert "Demo paper (2030)" in out and "it is better" in out and "soft" in out
    for claim in claims:
        assert claim.threshold_text in out


def test_reproduce_refuses_an_output_below_a_file_before_running(isolated_registry, toy_settings, tmp_path, capsys):
    ran = []

    @experiment("demo", paper="p", settings=toy_settings, claims=[])
    def demo(scale, settings, out, seed):
        ran.append(1)
        return Measurements(claims={})

    (tmp_path / "file").write_text("x")
    assert _run(["reproduce", "demo", "--scale", "smoke", "-o", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file" in err and not ran


def test_usage_errors_and_warnings_are_one_line(capsys):
    assert _run(["reproduce", "--scale"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and "--help" in err


def test_a_method_whose_commands_fail_to_load_explains_itself():
    from typer.testing import CliRunner

    from tenfold.cli import _unavailable
    from tenfold.core.errors import TenfoldError

    result = CliRunner().invoke(_unavailable("cpm", "ImportError: no safetensors"), [])
    assert isinstance(result.exception, TenfoldError)
    assert "cpm" in str(result.exception) and "no safetensors" in str(result.exception)
