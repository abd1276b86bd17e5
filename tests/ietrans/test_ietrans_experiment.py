"""The registered experiment at smoke scale: measurements for every claim, verdicts by core, figures written."""

from __future__ import annotations

import pytest

from tenfold.core.errors import MissingDataError
from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("ietrans", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "ietrans" and stored["scale"] == "smoke" and stored["settings"]["seeds"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("ietrans").claims}
    assert all(c["passed"] is None for c in claims.values())  # smoke is too small to decide
    assert claims["mr_ratio"]["measured"] > 0 and claims["mr_ratio"]["n"] == 1
    for figure in stored["figures"]:
        assert (tmp_path / "ietrans" / figure).stat().st_size > 1000
    assert all(0.0 <= v <= 100.0 for v in stored["metrics"]["base_biased_R@50"])


def test_full_scale_needs_real_data(tmp_path, monkeypatch):
    load_experiments()
    monkeypatch.delenv("TENFOLD_VG_DIR", raising=False)
    spec = get_experiment("ietrans")
    with pytest.raises(MissingDataError, match="TENFOLD_VG_DIR"):
        spec.function(scale=Scale.FULL, settings=spec.settings[Scale.FULL], out=tmp_path, seed=0)
