"""The registered experiment at smoke scale: measurements for every claim, verdicts by core, figures written."""

import math

from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("mdlm", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "mdlm" and stored["scale"] == "smoke" and stored["settings"]["lm_seeds"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("mdlm").claims}
    assert all(c["passed"] is None for c in claims.values())  # smoke is too small to decide
    for claim_id in ("C2_core_E", "C2_micro_E", "C2_core_TV", "C2_msm_E", "C2_micro_over_core", "C3_stride"):
        assert claims[claim_id]["n"] == 1 and math.isfinite(claims[claim_id]["measured"]), claims[claim_id]
        assert claims[claim_id]["measured"] > 0
    assert "3 needed" in claims["C2_core_E"]["reason"]  # one seed is never enough to decide
    assert "3 needed" in claims["C4_transformer"]["reason"]
    assert "full scale" in claims["C2_recrossing"]["reason"]
    assert len(stored["figures"]) == 5
    for figure in stored["figures"]:
        assert (tmp_path / "mdlm" / figure).stat().st_size > 1000
    metrics = stored["metrics"]
    assert metrics["partition"]["1"]["adjusted_rand_index"] > 0.8
    assert set(metrics["budget_curve"]["micro"]) == {"15", "30"}
    assert set(metrics["stride_E_per_seed"]) == {"1", "10"}
    # like-for-like analytic MSM rows: lag 1 vs the stride-1 reference, lag tau vs the reference seen every tau
    analytic = metrics["analytic_msm"]
    assert analytic["lag_1"]["lag_tokens"] == 1 and analytic["lag_tau"]["lag_tokens"] == 10
    for row in analytic.values():
        assert row["E"] is not None and 0 <= row["E"] < 1.0
    lstm_rows = [r for r in metrics["rows"] if r["model"] == "lstm"]
    for row in lstm_rows:  # physical time = tokens x stride x frame time; censored passages are counted
        assert row["token_time"] == row["stride"] * metrics["frame_time"]
        assert row["censored_total"] == sum(map(sum, row["censored_passages"]))
        ref_tokens, ref_time = row["reference_mfpt"][0][1], row["reference_mfpt_time"][0][1]
        if ref_tokens is not None:
            assert math.isclose(ref_time, ref_tokens * row["token_time"])


def _rows(values, tv=0.05):
    return [{"E": v, "TV": tv} for v in values]


def _claim_inputs(stride_10=(0.2, 0.25, 0.15)):
    from tenfold.mdlm.experiment import SETTINGS

    settings = SETTINGS[Scale.SMALL]
    micro, core = [0.9, 1.0, 0.8, 0.95, 0.85], [0.15, 0.2, 0.1, 0.12, 0.18]
    e2 = {"micro": _rows(micro), "core": _rows(core)}
    strides = {1: e2["micro"][:3], 4: _rows([0.4, 0.5, 0.3]), 10: _rows(stride_10), 40: _rows([0.3, 0.2, 0.25])}
    transformer = _rows([0.7, 1.1, 0.9])
    msm = {"micro": {"E_replicates": [0.1, 0.12, 0.11]}}
    return settings, e2, strides, transformer, msm


def test_claims_decided_over_seeds_with_the_declared_rules():
    from tenfold.mdlm.experiment import CLAIMS, _claims

    settings, e2, strides, transformer, msm = _claim_inputs()
    claims, details = _claims(settings, e2, strides, transformer, msm, {}, None)
    specs = {c.id: c for c in CLAIMS}
    # C3: worst and best stride by the seed mean (1 and 10), then one log ratio per LM seed
    assert "worst stride 1" in details["C3_stride"] and "best stride 10" in details["C3_stride"]
    assert [round(math.exp(v), 6) for v in claims["C3_stride"].values] == [4.5, 4.0, round(0.8 / 0.15, 6)]
    assert specs["C3_stride"].evaluate(claims["C3_stride"], Scale.SMALL).passed is True
    assert len(claims["C2_core_E"]) == 5 and len(claims["C2_micro_over_core"]) == 5
    assert specs["C2_core_E"].evaluate(claims["C2_core_E"], Scale.SMALL).verdict == "pass"
    # C4: Transformer minus paired LSTM seeds (-0.2, +0.1, +0.1): the interval reaches 0, so it holds
    assert claims["C4_transformer"] is True and "[" in details["C4_transformer"]


def test_an_undefined_error_fails_instead_of_passing():
    from tenfold.mdlm.experiment import CLAIMS, _claims

    settings, e2, strides, transformer, msm = _claim_inputs(stride_10=(0.2, float("nan"), 0.15))
    e2["core"][2]["E"] = float("nan")
    claims, _ = _claims(settings, e2, strides, transformer, msm, {}, None)
    specs = {c.id: c for c in CLAIMS}
    for claim_id in ("C3_stride", "C2_core_E", "C2_micro_over_core"):
        verdict = specs[claim_id].evaluate(claims[claim_id], Scale.SMALL)
        assert verdict.verdict == "unmeasured" and verdict.passed is False, (claim_id, verdict)
