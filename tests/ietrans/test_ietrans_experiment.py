"""The registered experiment at smoke scale: a well-formed Result with its figures written."""

from __future__ import annotations

import pytest

from tenfold.core.errors import MissingDataError
from tenfold.core.experiment import Scale, get_experiment, load_experiments


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    spec = get_experiment("ietrans")
    result = spec.function(Scale.SMOKE, tmp_path, seed=0)
    assert result.name == "ietrans" and result.scale is Scale.SMOKE
    assert {c.id for c in result.claims} >= {"mr_ratio", "r_ratio", "f_gain", "latent_mr_ratio", "mr_order"}
    assert all(c.passed is None for c in result.claims)  # smoke is too small to decide
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    assert 0.0 <= result.metrics["base_biased_R@50"] <= 100.0
    assert result.to_json()["claims"][0]["measured"] is not None


def test_full_scale_needs_real_data(tmp_path, monkeypatch):
    load_experiments()
    monkeypatch.delenv("TENFOLD_VG_DIR", raising=False)
    with pytest.raises(MissingDataError, match="TENFOLD_VG_DIR"):
        get_experiment("ietrans").function(Scale.FULL, tmp_path, seed=0)
