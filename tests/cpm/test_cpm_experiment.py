"""The registered experiment at smoke scale returns a well-formed Result with its figures written."""

from tenfold.core.experiment import Scale, get_experiment, load_experiments


def test_smoke_reproduce(tmp_path):
    load_experiments()
    spec = get_experiment("cpm")
    result = spec.function(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "cpm" and result.scale is Scale.SMOKE
    assert result.figures and all((tmp_path / f).is_file() for f in result.figures)
    claims = {c.id: c for c in result.claims}
    assert {"ki_saving", "pt_memory", "pf_vs_ft", "infmoe_bitwise", "infmoe_greedy_sim"} <= set(claims)
    # exactness claims are decided even at smoke scale
    assert claims["infmoe_bitwise"].passed is True
    assert claims["moe_function_preserving"].passed is True
    assert claims["ki_saving"].passed is None  # too small to decide
    assert len(result.metrics["corpus_sha256"]) == 64
    assert result.to_json()["claims"]
