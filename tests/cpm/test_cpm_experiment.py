"""The registered experiment at smoke scale: every declared claim measured, verdicts by core, figures written."""

import math

import pytest

from tenfold.core.experiment import Scale, Unmeasured, get_experiment, load_experiments
from tenfold.core.intervals import Samples
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("cpm", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "cpm" and stored["scale"] == "smoke" and stored["settings"]["seeds"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("cpm").claims}
    # exactness claims are decided even at smoke scale; everything else waits for a decisive scale
    assert claims["infmoe_bitwise"]["passed"] is True
    assert claims["moe_function_preserving"]["passed"] is True
    assert all(c["passed"] is None for k, c in claims.items() if k not in ("infmoe_bitwise", "moe_function_preserving"))
    # the InfMoE claims measure the rule alone, at every K, simulated and wall-clock
    for k in (2, 3, 4):
        assert claims[f"infmoe_rule_sim_k{k}"]["n"] == 10
        assert claims[f"infmoe_rule_wall_k{k}"]["n"] == 2
    assert 0 < claims["pt_step_flops"]["measured"] < 1  # a PT step skips the weight gradients
    for figure in stored["figures"]:
        assert (tmp_path / "cpm" / figure).stat().st_size > 1000
    assert len(stored["metrics"]["corpus_sha256"]) == 64


def test_ki_saving_is_unmeasured_when_the_ki_student_never_reaches_the_target():
    from tenfold.cpm.experiment import SETTINGS, _ki_claims

    settings = SETTINGS[Scale.SMALL]
    steps = [20, 40, 60]
    high = {"seed": 0, "eval_steps": steps, "val_losses": [3.0, 2.9, 2.8], "cpu_seconds": 1.0}
    low = {"seed": 0, "eval_steps": steps, "val_losses": [3.0, 2.5, 2.0], "cpu_seconds": 1.0}
    teacher = {"eval_steps": [100], "val_losses": [1.8]}
    claims, _, _ = _ki_claims(settings, teacher, [low], [high])
    assert isinstance(claims["ki_saving"], Unmeasured) and "never reached" in claims["ki_saving"].reason
    verdict = get_experiment("cpm").claims[0].evaluate(claims["ki_saving"], Scale.SMALL)
    assert verdict.passed is False
    # only KI reaches it: the ratio uses the budget as scratch's steps, an upper bound (never flatters KI)
    claims, details, _ = _ki_claims(settings, teacher, [high], [low])
    assert isinstance(claims["ki_saving"], Samples)
    target = settings.target_loss
    crossing = 20 + 20 * (3.0 - target) / (3.0 - 2.5)
    assert math.exp(claims["ki_saving"].values[0]) == pytest.approx(crossing / settings.student_steps)
    assert "upper bound" in details["ki_saving"]
