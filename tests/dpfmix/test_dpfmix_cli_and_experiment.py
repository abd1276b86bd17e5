"""CLI on small files the test writes, and the smoke-scale experiment through core's runner."""

import json

import numpy as np

from tenfold.core.experiment import Scale


def _write(tmp_path, n=200):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(n, 4)))
    np.save(tmp_path / "y.npy", rng.integers(0, 3, size=n))
    return tmp_path / "x.npy", tmp_path / "y.npy"


def test_release_command_writes_npz_with_public_metadata(tmp_path, cli):
    x, y = _write(tmp_path)
    out = tmp_path / "release.npz"
    outcome = cli(["dpfmix", "release", x, y, "--eps", "2", "--delta", "1e-4", "--m", "8", "--n-classes", "3",
                   "--interval", "1e-2", "-o", out])
    assert outcome.code == 0, outcome.err
    assert "epsilon (PLD, replace-one)" in outcome.out and "os-csprng" in outcome.out
    assert "clipped" in outcome.err and "warning" not in outcome.err  # owner diagnostic, no seed warning
    with np.load(out) as archive:
        assert archive["features"].shape == (200, 4)
        meta = json.loads(str(archive["meta"]))
    assert meta["adjacency"] == "replace-one" and meta["randomness"]["insecure_seed"] is None
    assert "clipped" not in json.dumps(meta)


def test_release_command_insecure_seed_warns_and_is_recorded(tmp_path, cli):
    x, y = _write(tmp_path)
    out = tmp_path / "release.npz"
    outcome = cli(["dpfmix", "release", x, y, "--eps", "2", "--delta", "1e-4", "--m", "8", "--n-classes", "3",
                   "--interval", "1e-2", "--adjacency", "add-remove", "--n-public", "200", "--insecure-seed", "5",
                   "-o", out])
    assert outcome.code == 0, outcome.err
    warnings = [line for line in outcome.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "replayable seed 5" in warnings[0]
    assert "epsilon (PLD, add-remove)" in outcome.out
    with np.load(out) as archive:
        meta = json.loads(str(archive["meta"]))
    assert meta["randomness"]["insecure_seed"] == 5 and meta["adjacency"] == "add-remove"


def test_mstar_command(tmp_path, cli):
    out = tmp_path / "m.json"
    outcome = cli(["dpfmix", "mstar", "--eps", "1", "--eps", "4", "--n", "60000", "-o", out])
    assert outcome.code == 0, outcome.err
    rows = json.loads(out.read_text())
    assert [round(r["m_star_closed_form"]) for r in rows] == [33, 114]


def test_smoke_reproduce_through_the_runner(tmp_path):
    import tenfold.dpfmix.experiment  # noqa: F401  (registers the experiment)
    from tenfold.core.runner import run_one

    result = run_one("dpfmix", Scale.SMOKE, tmp_path, seed=0)
    claims = {c["id"]: c for c in result["claims"]}
    assert set(claims) == {c.id for c in tenfold.dpfmix.experiment.CLAIMS}
    assert all(c["verdict"] == "n/a" for c in claims.values())  # smoke decides nothing
    assert claims["sweet_spot_eps1"]["measured"] > 0 and claims["dpfmix_beats_dpmix_eps1"]["samples"]
    for figure in result["figures"]:
        assert (tmp_path / "dpfmix" / figure).stat().st_size > 1000
    assert result["metrics"]["accounting"]["adjacency"] == "add-remove"
    assert result["settings"]["sweet_grid"][-1] == 64


def test_small_grid_reaches_eight_times_the_predicted_m_star():
    from tenfold.dpfmix.experiment import SETTINGS
    from tenfold.dpfmix.mstar import closed_form_m

    small = SETTINGS[Scale.SMALL]
    predicted, _ = closed_form_m(4.0, 1e-5, small.sweet_n, small.sweet_n)
    assert max(small.sweet_grid) >= 8 * predicted  # issue 19: the right arm of the U lies inside the grid
