"""The registered experiment at smoke scale, its tuning and the spread statistic behind std_ratio."""

import math

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError
from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one
from tenfold.cpt.spread import jackknife_std_log_ratio
from tenfold.cpt.tuning import TUNING_DRAW_OFFSET, best_setting, cpt_grid, finetune_grid, tune


def test_smoke_reproduce_is_well_formed(tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path / "cache"))
    load_experiments()
    stored = run_one("cpt", Scale.SMOKE, tmp_path / "out", seed=0)
    spec = get_experiment("cpt")
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in spec.claims}
    assert all(c["passed"] is None for c in claims.values())  # smoke is too small to decide
    assert claims["k1_gap"]["n"] == 2 and "2 splits < 5" in claims["k1_gap"]["reason"]
    for figure in stored["figures"]:
        assert (tmp_path / "out" / "cpt" / figure).stat().st_size > 1000
    metrics = stored["metrics"]
    settings = spec.settings[Scale.SMOKE]
    assert set(metrics["few_shot"]["cpt"]) == {"1", "2"} and len(metrics["few_shot"]["finetune"]["2"]) == settings.splits
    assert [len(ids) for ids in metrics["few_shot_draws"]["2"]] == [2, 2]
    assert metrics["set_overlaps"]["validation_test"] == 0 and metrics["set_overlaps"]["pool_test"] == 0
    table = metrics["tuning"]["table"]
    grid_size = len(settings.finetune_body_lrs) * len(settings.finetune_steps)
    assert len(table["finetune"]["1"]) == grid_size
    assert len(table["cpt"]["2"]) == len(settings.cpt_negative_words) * len(settings.cpt_lrs)
    assert set(table["finetune"]) == {"1", "2", "8"}  # 8: the smoke scale's larger K for fine-tuning alone
    for k in ("1", "2"):
        best = max(row["validation_accuracy"] for row in table["finetune"][k])
        chosen = metrics["chosen"]["finetune"][k]
        assert any(row["validation_accuracy"] == best and {n: row[n] for n in chosen} == chosen for row in table["finetune"][k])
    assert 0.0 < metrics["random_accuracy"] < 0.5
    assert stored["settings"]["threads"] == 1 and stored["settings"]["pretrain"]["steps"] == 30


def test_worker_processes_give_the_same_results_as_inline(tiny_model):
    from tenfold.core.parallel import run_parallel
    from tenfold.cpt.experiment import FewShotJob, _few_shot_job, _worker_setup

    args = ({k: v.clone() for k, v in tiny_model.state_dict().items()}, tiny_model.config.to_dict(),
            {"pool": (20_000, 12), "test": (10_000, 6), "validation": (40_000, 6)}, "cpu")
    jobs = [FewShotJob("cpt", 1, 0, (("lr", 1e-4), ("steps", 1), ("negative_word", "gray")), "test"),
            FewShotJob("finetune", 2, 1, (("body_lr", 1e-4), ("head_lr", 1e-3), ("steps", 1)), "validation")]
    in_workers = run_parallel(_few_shot_job, jobs, workers=2, initializer=_worker_setup, initargs=args)
    inline = run_parallel(_few_shot_job, jobs, workers=1, initializer=_worker_setup, initargs=args)
    assert in_workers == inline


def test_jackknife_of_the_spread_ratio():
    rng = np.random.default_rng(0)
    second = {k: list(rng.normal(0.5, 0.05, size=5)) for k in (1, 2, 4)}
    same, pseudo = jackknife_std_log_ratio(second, second)
    assert same == 0.0 and pseudo == pytest.approx([0.0] * 5)
    # Halving every deviation halves every spread, with or without any split: each pseudo-value is log(1/2).
    half = {k: [0.3 + 0.5 * (v - np.mean(vs)) for v in vs] for k, vs in second.items()}
    plain, pseudo = jackknife_std_log_ratio(half, second)
    assert plain == pytest.approx(math.log(0.5)) and pseudo == pytest.approx([math.log(0.5)] * 5)
    with pytest.raises(BadConfigError, match=">= 3 splits"):
        jackknife_std_log_ratio({1: [0.1, 0.2]}, {1: [0.3, 0.1]})
    with pytest.raises(BadConfigError, match="same shots"):
        jackknife_std_log_ratio({1: [0.1, 0.2, 0.3]}, {2: [0.3, 0.1, 0.2]})


def test_tuning_chooses_on_validation_with_ties_to_the_default(tiny_model, examples):
    from tenfold.cpt import FineTuneGrounder

    assert best_setting([0.3, 0.5, 0.5]) == 1 and best_setting([0.2, 0.2]) == 0
    grid = finetune_grid([1e-4, 1e-3], [1, 2], 10.0)
    assert grid[0] == {"body_lr": 1e-4, "head_lr": 1e-3, "steps": 1} and len(grid) == 4
    cpt = cpt_grid(["none", "gray"], [1e-4, 1e-5], 100)
    assert [(g["lr"], g["negative_word"]) for g in cpt] == [(1e-4, "none"), (1e-4, "gray"), (1e-5, "none"), (1e-5, "gray")]

    def make(setting):
        options = dict(setting)
        return FineTuneGrounder(tiny_model, body_lr=options.pop("body_lr"), head_lr=options.pop("head_lr")), options

    chosen, rows = tune(make, grid, examples[:8], examples[8:], 2)
    assert chosen in grid and len(rows) == 4
    scores = [r["validation_accuracy"] for r in rows]
    assert chosen == grid[best_setting(scores)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert TUNING_DRAW_OFFSET >= 100  # tuning draws never reuse an evaluation split's draw seed


def test_the_full_scale_needs_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    load_experiments()
    spec = get_experiment("cpt")
    with pytest.raises(BadConfigError, match="CUDA"):
        spec.function(scale=Scale.FULL, settings=spec.settings[Scale.FULL], out=tmp_path, seed=0)
