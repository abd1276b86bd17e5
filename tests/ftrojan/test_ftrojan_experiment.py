"""The registered experiment at smoke scale: every declared claim measured or explained, verdicts by core."""

import pytest

from tenfold.core.errors import MissingDataError
from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("ftrojan", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "ftrojan" and stored["scale"] == "smoke" and stored["settings"]["seeds"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("ftrojan").claims}
    # the trigger's invisibility does not depend on the scale: decided, and passed, even at smoke
    assert claims["psnr"]["verdict"] == "pass" and claims["psnr"]["n"] > 50 and claims["psnr"]["interval"]
    assert claims["ssim"]["verdict"] == "pass" and claims["ftrojan_most_invisible"]["verdict"] == "pass"
    decided_later = [c for c in claims.values() if c["id"] not in ("psnr", "ssim", "ftrojan_most_invisible")]
    assert all(c["verdict"] == "n/a" and c["passed"] is None for c in decided_later)
    # measured at smoke (one seed, so no interval yet) rather than missing
    for key in ("asr_rate10", "ba_cost", "magnitude0_chance", "strip_far", "gaussian_lowers_asr", "nc_flags_badnets"):
        assert claims[key]["measured"] is not None, key
    models = stored["metrics"]["models"]
    assert {"clean s0", "ftrojan s0", "m0 s0", "badnets s0"} <= set(models)
    assert "nc_target_index" in models["badnets s0"] and "strip_far" in models["ftrojan s0"]
    for figure in stored["figures"]:
        assert (tmp_path / "ftrojan" / figure).stat().st_size > 1000


def test_full_scale_needs_cifar(tmp_path, monkeypatch):
    load_experiments()
    monkeypatch.delenv("TENFOLD_CIFAR10", raising=False)
    spec = get_experiment("ftrojan")
    with pytest.raises(MissingDataError, match="TENFOLD_CIFAR10"):
        spec.function(scale=Scale.FULL, settings=spec.settings[Scale.FULL], out=tmp_path, seed=0)


def test_asr_monotone_counts_a_decrease_only_beyond_sampling_noise():
    from tenfold.ftrojan.experiment import DECREASE_Z, _drop_z

    # one image in ~1,450 at magnitude 4 and at magnitude 10: not a decrease
    assert _drop_z(1 / 1443, 1443, 1 / 1478, 1478) < DECREASE_Z
    # 0.90 -> 0.85 over 1,000 images each is a real decrease
    assert _drop_z(0.90, 1000, 0.85, 1000) > DECREASE_Z
    assert _drop_z(0.10, 1000, 0.95, 1000) < 0  # increases are never decreases
    assert _drop_z(0.0, 500, 0.0, 500) == 0.0 and _drop_z(1.0, 500, 1.0, 500) == 0.0
