"""The registered experiment at smoke scale: a measurement for every claim, verdicts by core, figures written."""

from __future__ import annotations

from tenfold.core.experiment import Scale, Unmeasured, get_experiment, load_experiments
from tenfold.core.intervals import Samples
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("bodyreshape", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "bodyreshape" and stored["scale"] == "smoke" and stored["settings"]["seeds"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("bodyreshape").claims}
    assert all(c["passed"] is None for c in claims.values())  # smoke is too small to decide
    assert claims["affinity_epe"]["required"] is False and claims["beats_capsule"]["required"] is True
    assert claims["learned_vs_zero"]["n"] == 1 and claims["learned_vs_zero"]["measured"] > 0
    assert claims["degree_control"]["measured"] is True  # the mechanics hold at any scale
    assert set(stored["figures"]) == {"bodyreshape_synthetic_grid.png", "bodyreshape_portraits.png"}
    for figure in stored["figures"]:
        assert (tmp_path / "bodyreshape" / figure).stat().st_size > 1000
    metrics = stored["metrics"]
    assert {"zero", "capsule", "mls", "full", "no_aff", "no_sp", "truth"} <= set(metrics["flows_mean_over_seeds"])
    assert set(metrics["baselines_tuned_on_validation"]) == {"capsule", "mls"}
    assert metrics["full_res"]["identity"]["psnr"] < 100
    portraits = metrics["portraits"]
    assert portraits["astronaut capsule µ=1"]["guard_factor"] == 1.0
    assert portraits["astronaut capsule µ=1"]["suit_area_change"] < -0.02


def test_claims_are_declared_over_seeds_where_noisy():
    load_experiments()
    spec = get_experiment("bodyreshape")
    by_id = {c.id: c for c in spec.claims}
    for claim_id in ("structure_priors_epe", "structure_priors_leak", "learned_vs_zero", "beats_mls", "beats_capsule"):
        assert by_id[claim_id].over == "seeds" and by_id[claim_id].log_ratio and by_id[claim_id].min_samples >= 3
    assert by_id["affinity_epe"].min_samples == 2 and not by_id["affinity_epe"].required
    assert spec.settings[Scale.SMALL].seeds >= 3
    # a ratio whose interval straddles its threshold is undecided, which fails a required claim
    straddling = Samples.log_ratios([0.5, 0.7, 0.9], [1.0, 1.0, 1.0])
    assert by_id["learned_vs_zero"].evaluate(straddling, Scale.SMALL).verdict == "undecided"
    assert by_id["structure_priors_leak"].evaluate(Unmeasured("w/o SP learned nothing"), Scale.SMALL).passed is False
