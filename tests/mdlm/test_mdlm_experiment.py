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
