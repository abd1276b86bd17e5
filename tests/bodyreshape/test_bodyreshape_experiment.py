"""The registered experiment at smoke scale returns a well-formed Result with its figures."""

import json

from tenfold.core.experiment import Scale, get_experiment, load_experiments


def test_smoke_reproduce(tmp_path):
    load_experiments()
    spec = get_experiment("bodyreshape")
    result = spec.function(scale=Scale.SMOKE, out=tmp_path, seed=0)
    assert result.name == "bodyreshape" and result.scale == Scale.SMOKE
    assert set(result.figures) == {"bodyreshape_synthetic_grid.png", "bodyreshape_portraits.png"}
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    ids = {claim.id for claim in result.claims}
    assert {"structure_priors_epe", "structure_priors_leak", "affinity_epe", "learned_vs_zero", "beats_mls",
            "hires_warp_gain_db", "degree_control"} == ids
    by_id = {claim.id: claim for claim in result.claims}
    assert by_id["affinity_epe"].required is False
    assert by_id["structure_priors_epe"].passed is None  # thresholds are for the small scale
    assert by_id["degree_control"].passed is True  # mechanics hold at any scale
    table = result.metrics["table"]
    assert {"zero", "capsule", "mls", "full", "no_aff", "no_sp", "identity"} <= set(table)
    json.dumps(result.to_json())
