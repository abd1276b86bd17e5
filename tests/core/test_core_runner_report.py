import json
from pathlib import Path

import pytest

from tenfold.core.experiment import ClaimSpec, Measurements, Scale, experiment
from tenfold.core.report import save_figure, write_index
from tenfold.core.runner import run_many, run_one

GOOD_CLAIMS = [ClaimSpec("acc", "accuracy is high", ">=", 0.9, paper_value=0.95, decisive_from=Scale.SMOKE)]


def _register_pair(calls, settings):
    @experiment("good", paper="Good paper (2022)", settings=settings, claims=GOOD_CLAIMS)
    def good(scale, settings, out, seed):
        import matplotlib.pyplot as plt

        calls.append("good")
        figure, axis = plt.subplots()
        axis.plot([0, 1], [0, 1])
        name = save_figure(figure, out, "line")
        return Measurements(claims={"acc": 0.93}, metrics={"accuracy": 0.93}, figures=[name])

    @experiment("broken", paper="Broken paper", settings=settings, claims=[])
    def broken(scale, settings, out, seed):
        calls.append("broken")
        (Path(out) / "partial.png").write_bytes(b"half")
        raise RuntimeError("boom")


def test_failing_experiment_leaves_nothing_and_the_next_one_runs(isolated_registry, toy_settings, tmp_path):
    calls = []
    _register_pair(calls, toy_settings)
    summary = run_many(["broken", "good"], Scale.SMOKE, tmp_path, seed=1)
    assert calls == ["broken", "good"]
    assert "RuntimeError: boom" in summary.failures["broken"]
    assert not (tmp_path / "broken").exists()
    assert not any(p.name.startswith(".broken") for p in tmp_path.iterdir())
    stored = json.loads((tmp_path / "good" / "result.json").read_text())
    assert stored["name"] == "good" and stored["scale"] == "smoke" and stored["seed"] == 1
    assert stored["claims"][0]["passed"] is True and stored["claims"][0]["paper_value"] == 0.95
    assert set(stored["claims"][0]) >= {"id", "statement", "paper_value", "measured", "threshold", "passed", "required"}
    assert (tmp_path / "good" / "line.png").read_bytes()[:4] == b"\x89PNG"
    assert not summary.ok


def test_rerun_replaces_the_previous_result_folder(isolated_registry, toy_settings, tmp_path):
    _register_pair([], toy_settings)
    run_one("good", Scale.SMOKE, tmp_path, seed=0)
    (tmp_path / "good" / "stale.txt").write_text("old")
    run_one("good", Scale.SMOKE, tmp_path, seed=5)
    assert not (tmp_path / "good" / "stale.txt").exists()
    assert json.loads((tmp_path / "good" / "result.json").read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good"]


def test_resume_skips_matching_results_only(isolated_registry, toy_settings, tmp_path):
    calls = []
    _register_pair(calls, toy_settings)
    run_many(["good"], Scale.SMOKE, tmp_path)
    summary = run_many(["good"], Scale.SMOKE, tmp_path, resume=True)
    assert calls == ["good"] and summary.skipped == ["good"] and summary.ok
    run_many(["good"], Scale.SMOKE, tmp_path, seed=2, resume=True)  # another seed is not a match
    assert calls == ["good", "good"]


def test_experiment_listing_a_missing_figure_fails(isolated_registry, toy_settings, tmp_path):
    @experiment("liar", paper="p", settings=toy_settings, claims=[])
    def liar(scale, settings, out, seed):
        return Measurements(claims={}, figures=["never_written.png"])

    summary = run_many(["liar"], Scale.SMOKE, tmp_path)
    assert "never_written.png" in summary.failures["liar"]
    assert not (tmp_path / "liar").exists()


def test_index_html_holds_claims_figures_and_failures(isolated_registry, toy_settings, tmp_path):
    _register_pair([], toy_settings)
    summary = run_many(["good", "broken"], Scale.SMOKE, tmp_path)
    index = write_index(tmp_path, summary.results, summary.failures, scale="smoke")
    html = index.read_text()
    assert "Good paper (2022)" in html and "accuracy is high" in html
    assert "data:image/png;base64," in html  # figures are embedded, no external files
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "broken" in html and "boom" in html
    assert ">0.93<" in html and ">0.95<" in html and "&gt;= 0.9" in html


def test_index_html_says_when_nothing_is_registered(tmp_path):
    html = write_index(tmp_path, [], {}, scale="small").read_text()
    assert "No experiments are registered yet" in html


def test_published_results_are_readable_like_normally_written_files(isolated_registry, toy_settings, tmp_path):
    import os
    import stat

    _register_pair([], toy_settings)
    run_one("good", Scale.SMOKE, tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "good").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "good" / "result.json").stat().st_mode) == 0o666 & ~umask


def test_atomic_directory_publishes_on_success_and_leaves_nothing_on_error(tmp_path):
    from tenfold.core.io import OUTPUT_MARKER, atomic_directory

    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
        assert not (target / "new.txt").exists()  # nothing visible until the block ends
    assert sorted(p.name for p in target.iterdir()) == [OUTPUT_MARKER, "new.txt"]
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "broken") as staging:
        (staging / "half.bin").write_bytes(b"x")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_settings_are_written_and_torch_threads_restored(isolated_registry, toy_settings, tmp_path):
    import torch

    seen = []

    @experiment("threads", paper="p", settings=toy_settings, claims=[])
    def threads(scale, settings, out, seed):
        seen.append((torch.get_num_threads(), settings.seeds))
        torch.set_num_threads(2)  # an experiment that changes threads must not leak them
        return Measurements(claims={})

    torch.set_num_threads(3)
    try:
        stored = run_one("threads", Scale.SMALL, tmp_path, seed=0)
        assert seen == [(1, 3)] and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(1)
    assert stored["settings"] == {"threads": 1, "seeds": 3}


def test_a_required_claim_left_unmeasured_fails_the_run(isolated_registry, toy_settings, tmp_path):
    @experiment("silent", paper="p", settings=toy_settings, claims=[ClaimSpec("x", "s", ">=", 1.0)])
    def silent(scale, settings, out, seed):
        return Measurements(claims={})

    summary = run_many(["silent"], Scale.SMALL, tmp_path)
    claim = summary.results[0]["claims"][0]
    assert claim["passed"] is False and claim["verdict"] == "unmeasured" and not summary.ok
    assert run_many(["silent"], Scale.SMOKE, tmp_path).ok  # below its decisive scale it is n/a


def test_report_shows_intervals_and_undecided(isolated_registry, toy_settings, tmp_path):
    from tenfold.core.intervals import Samples

    claims = [ClaimSpec("gap", "noisy gap", ">", 0.0, over="seeds")]

    @experiment("noisy", paper="p", settings=toy_settings, claims=claims)
    def noisy(scale, settings, out, seed):
        return Measurements(claims={"gap": Samples([2.0, -1.0, 0.5])})

    summary = run_many(["noisy"], Scale.SMALL, tmp_path)
    html = write_index(tmp_path, summary.results, summary.failures, scale="small").read_text()
    assert "UNDECIDED" in html and "n=3" in html and "90% t interval" in html
