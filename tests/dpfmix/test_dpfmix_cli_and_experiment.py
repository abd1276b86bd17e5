"""CLI on small files the test writes (good and bad input), and the smoke-scale experiment."""

import json

import numpy as np
import pytest

from tenfold.cli import main
from tenfold.core.experiment import Scale


def _write(tmp_path, n=200, nan=False, label_max=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    if nan:
        x[5, 2] = np.nan
    y = rng.integers(0, label_max + 1, size=n)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "x.npy", tmp_path / "y.npy"


def _run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_release_command_writes_npz(tmp_path, capsys):
    x, y = _write(tmp_path)
    out = tmp_path / "release.npz"
    code = _run(["dpfmix", "release", str(x), str(y), "--eps", "2", "--delta", "1e-4", "--m", "8",
                 "--n-classes", "3", "--interval", "1e-2", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "epsilon (PLD)" in printed and "fraction clipped" in printed
    assert np.load(out)["features"].shape == (200, 4)


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("nan", [], "NaN"),
        ("labels", [], "labels must lie"),
        ("m", ["--m", "500"], "0 < m < n"),
        ("eps", ["--eps", "-1"], "epsilon"),
        ("missing", [], "not found"),
    ],
)
def test_release_command_bad_input(tmp_path, capsys, case, extra, message):
    x, y = _write(tmp_path, nan=case == "nan", label_max=5 if case == "labels" else 2)
    if case == "missing":
        x = tmp_path / "absent.npy"
    out = tmp_path / "release.npz"
    code = _run(["dpfmix", "release", str(x), str(y), "--n-classes", "3", "--m", "8", "--interval", "1e-2",
                 "-o", str(out), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()
    assert not any(p.name.startswith(".release") for p in tmp_path.iterdir())


def test_release_command_requires_n_classes(tmp_path, capsys):
    x, y = _write(tmp_path)
    assert _run(["dpfmix", "release", str(x), str(y), "-o", str(tmp_path / "r.npz")]) == 2
    assert "n_classes" in capsys.readouterr().err


def test_mstar_command(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert _run(["dpfmix", "mstar", "--eps", "1", "--eps", "4", "--n", "60000", "-o", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [round(r["m_star_closed_form"]) for r in rows] == [33, 114]
    assert _run(["dpfmix", "mstar", "--eps", "0", "--n", "100"]) == 2
    assert "epsilon" in capsys.readouterr().err


def test_smoke_reproduce(tmp_path):
    from tenfold.dpfmix.experiment import reproduce

    result = reproduce(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "dpfmix" and result.scale is Scale.SMOKE
    assert {c.id for c in result.claims} >= {"sweet_spot_eps1", "dpfmix_beats_dpmix_eps1", "mia_within_gdp_bound_eps1"}
    assert all(c.passed is None for c in result.claims if c.required)
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    assert "sweet_spot" in result.metrics and "digits" in result.metrics
    json.dumps(result.to_json())
