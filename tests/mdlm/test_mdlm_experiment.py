"""The registered experiment at smoke scale returns a well-formed Result with its figures written."""

import json
import math

from tenfold.core.experiment import Scale, get_experiment, load_experiments


def test_smoke_reproduce(tmp_path):
    load_experiments()
    spec = get_experiment("mdlm")
    result = spec.function(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "mdlm" and result.scale is Scale.SMOKE
    assert len(result.figures) == 5
    for name in result.figures:
        assert (tmp_path / name).stat().st_size > 1000
    ids = {claim.id for claim in result.claims}
    assert {"C2_core_E", "C2_micro_over_core", "C2_micro_E", "C2_core_TV", "C2_msm_E", "C3_stride"} <= ids
    assert all(claim.passed is None for claim in result.claims)  # smoke is too small to decide
    required = [c.id for c in result.claims if c.required]
    assert "C4_transformer" not in required and "C1_fine_partition" not in required
    metrics = result.metrics
    for key in ("micro_E_mean", "core_E_mean", "msm_lag1_micro_E", "transformer_E"):
        assert math.isfinite(metrics[key]) and metrics[key] >= 0
    assert metrics["partition"][1]["adjusted_rand_index"] > 0.8
    assert set(metrics["budget_curve"]["micro"]) == {15, 30}
    json.dumps(result.to_json())  # everything serialisable
