from tenfold.core.experiment import Result, Scale
from tenfold.cpt.experiment import reproduce


def test_smoke_reproduce_is_well_formed(tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    out.mkdir()
    result = reproduce(Scale.SMOKE, out, seed=0)
    assert isinstance(result, Result) and result.name == "cpt"
    assert {c.id for c in result.claims if c.required} == {
        "g0_gate", "zero_shot_vs_random", "k1_gap", "std_ratio", "cpt_beats_ft_every_k"}
    assert all(c.passed is None for c in result.claims)  # smoke is too small to decide
    for name in result.figures:
        assert (out / name).stat().st_size > 0
    assert set(result.metrics["few_shot"]["cpt"]) == {"1", "2"}
    assert [len(ids) for ids in result.metrics["few_shot_draws"]["2"]] == [2, 2]
    assert 0.0 < result.metrics["random_accuracy"] < 0.5


def test_few_shot_grid_gives_the_same_results_in_worker_processes(tiny_model, monkeypatch):
    import dataclasses

    from tenfold.cpt.experiment import PLANS, _finish_grid, _grid_job, _grid_worker_setup, _start_grid

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    plan = dataclasses.replace(PLANS[Scale.SMOKE], test=50, pool=12)
    jobs = [("cpt", 1, 0, 1, None), ("finetune", 1, 0, 1, None), ("cpt_gray", 1, 1, 1, "gray")]
    running = _start_grid(tiny_model, jobs, plan, 0)
    assert running[0] == "pool"
    in_workers = _finish_grid(running)
    _grid_worker_setup(dict(tiny_model.state_dict()), tiny_model.config.to_dict(), 20_000, 12, 10_000, 50)
    inline = sorted((_grid_job(job) for job in jobs), key=lambda r: (r[0], r[1], r[2]))
    assert in_workers == inline
