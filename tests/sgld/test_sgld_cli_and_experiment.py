"""CLI commands (good and bad input), the grid helper, and the smoke-scale experiment."""

import json

import pytest

from tenfold.cli import main
from tenfold.core.experiment import Scale


def _run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_grid_command_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "grid"
    code = _run(["sgld", "grid", "--beta", "1e2,1e3", "--steps", "5", "--steps", "15", "--seeds", "2",
                 "-o", str(out)])
    assert code == 0
    data = json.loads((out / "grid.json").read_text())
    assert len(data["cells"]) == 4
    assert (out / "grid.png").stat().st_size > 1000
    assert sorted(p.name for p in out.iterdir()) == ["grid.json", "grid.png"]
    assert "2 seeds" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--beta", "-5", "--steps", "5"], "beta must be positive"),
        (["--beta", "abc", "--steps", "5"], "not a number"),
        (["--beta", "10", "--steps", "0"], "step counts"),
        (["--beta", "10", "--steps", "5", "--lr", "0"], "lr must be positive"),
    ],
)
def test_grid_command_bad_input(tmp_path, capsys, argv, message):
    out = tmp_path / "grid"
    assert _run(["sgld", "grid", *argv, "--seeds", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_bounds_command(capsys):
    code = _run(["sgld", "bounds", "--beta", "100", "--lr", "0.5", "--steps", "100", "--n", "300", "--batch", "32",
                 "--clip", "1", "--loss-bound", "1", "--dim", "650"])
    assert code == 0
    out = capsys.readouterr().out
    assert "B-Lip: |E gen| <= 0.5103" in out and "sigma = 6.4000" in out
    assert _run(["sgld", "bounds", "--beta", "100", "--lr", "0.5", "--steps", "100", "--n", "300", "--batch", "32",
                 "--loss-bound", "1"]) == 2
    err = capsys.readouterr().err
    assert "clipping" in err and len(err.strip().splitlines()) == 1
    assert _run(["sgld", "bounds", "--beta", "100", "--lr", "0.5", "--steps", "100", "--n", "300", "--batch", "32",
                 "--clip", "1"]) == 2
    assert "bounded evaluation loss" in capsys.readouterr().err


def test_smoke_reproduce(tmp_path):
    from tenfold.sgld.experiment import reproduce

    result = reproduce(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "sgld" and len(result.claims) == 6
    assert all(c.passed is None for c in result.claims)
    assert len(result.metrics["cells"]) == 4
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    json.dumps(result.to_json())


def test_grid_study_gives_the_same_numbers_in_two_worker_processes():
    from tenfold.sgld.grid import grid_study

    kwargs = dict(seeds=2, n_train=40, n_heldout=40, batch=8, seed=3)
    inline = grid_study([1e2], [5, 10], workers=1, **kwargs)
    spread = grid_study([1e2], [5, 10], workers=2, **kwargs)
    assert [c.gap for c in inline.cells] == [c.gap for c in spread.cells]
