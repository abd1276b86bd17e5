"""The registered experiment at smoke scale: a measurement for every claim, verdicts by core, figures written."""

from tenfold.core.experiment import Scale, get_experiment, load_experiments
from tenfold.core.runner import run_one


def test_smoke_reproduce_is_well_formed(tmp_path):
    load_experiments()
    stored = run_one("bayesprivacy", Scale.SMOKE, tmp_path, seed=0)
    assert stored["name"] == "bayesprivacy" and stored["scale"] == "smoke"
    assert stored["settings"]["attack_images"] == 3 and stored["settings"]["threads"] == 1
    claims = {c["id"]: c for c in stored["claims"]}
    assert set(claims) == {c.id for c in get_experiment("bayesprivacy").claims}
    assert all(c["passed"] is None for c in claims.values())  # smoke is too small to decide
    # Every required claim was measured (n/a only because smoke is below its decisive scale).
    for claim_id in ("passport_accuracy", "ig_undefended_psnr", "passport_prior_psnr", "oracle_passport_psnr",
                     "noise_costs_accuracy"):
        assert claims[claim_id]["measured"] is not None, claims[claim_id]
    assert claims["ig_undefended_psnr"]["n"] == 3 and claims["passport_accuracy"]["n"] == 1
    assert claims["adaptive_joint_attack"]["n"] == 2  # the side attacks restore the first side_images only
    table = stored["metrics"]["table"]
    assert 0.0 <= table["none"]["accuracy"] <= 1.0 and len(table["none"]["psnr_none_by_image"]) == 3
    assert 0 < table["dp"]["dp_epsilon"] < float("inf")
    assert "INSECURE" in stored["metrics"]["randomness"]  # the experiment's opt-in is on record
    for figure in stored["figures"]:
        assert (tmp_path / "bayesprivacy" / figure).stat().st_size > 1000


def test_experiment_jobs_are_reproducible_from_the_run_seed():
    """The experiment opts in to replayable secrets, so a federation (passports, noise) replays exactly."""
    import torch

    from tenfold.bayesprivacy import experiment as study

    settings = study.SETTINGS[Scale.SMOKE]
    data = {0: study.load_data(settings, 0)}
    study._init_worker({"settings": settings, "data": data, "private": study.private_images(settings, 0, data[0])})
    for job in (study.TrainJob("noise_0.01", "noise", 0, noise=0.01, snapshot=True),
                study.TrainJob("passport_sigma5", "passport", 0, sigma=5.0, snapshot=True)):
        first, second = study.train_job(job), study.train_job(job)
        assert first["accuracy"] == second["accuracy"]
        for key in first["state"]:
            assert torch.equal(first["state"][key], second["state"][key])
        for name, (gamma, _) in first["passports"].items():
            assert torch.equal(gamma, second["passports"][name][0])
