"""`tenfold mdlm ...` on small files the tests write: the whole flow, simulate to compare."""

import json

import numpy as np
import pytest

from tenfold.cli import main


def run_ok(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["mdlm", *args])
    assert exit_info.value.code == 0


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mdlm_cli")
    run_ok(["simulate", "-o", str(folder / "t.npy"), "--walkers", "4", "--frames", "1500", "--fast-dims", "1",
            "--seed", "1"])
    run_ok(["partition", str(folder / "t.npy"), "-o", str(folder / "s.npz"), "--clusters", "12",
            "--macrostates", "2", "--lag", "5", "--min-dwell", "3"])
    run_ok(["train", str(folder / "s.npz"), "--output", str(folder / "m.pt"), "--tokens", "core", "--steps", "15",
            "--window", "20", "--batch-size", "8", "--hidden", "8"])
    return folder


def test_whole_flow(flow, capsys):
    trajectory = np.load(flow / "t.npy")
    assert trajectory.shape == (4, 1500, 2)
    with np.load(flow / "s.npz") as states:
        assert states["micro"].shape == (4, 1500) and states["core_map"].shape == (12,)
        assert set(np.unique(states["crisp"])) <= {-1, 0, 1}
        assert "min_dwell" in states.files
    run_ok(["generate", str(flow / "m.pt"), str(flow / "s.npz"), "-o", str(flow / "g.npy"), "--chains", "3",
            "--length", "200", "--seed-length", "10"])
    generated = np.load(flow / "g.npy")
    assert generated.shape == (3, 200) and set(np.unique(generated)) <= {0, 1}
    run_ok(["compare", str(flow / "s.npz"), str(flow / "g.npy"), "-o", str(flow / "r.json"), "--tokens", "core",
            "--frame-time", "0.02"])
    report = json.loads((flow / "r.json").read_text())
    assert set(report["rows"]) == {"g.npy", "MSM(lag 1)"}
    row = report["rows"]["g.npy"]
    assert row["E"] is None or row["E"] >= 0
    # censored passages are counted; MFPTs come in tokens and in physical time (tokens x stride x frame time)
    assert row["censored_total"] == sum(map(sum, row["censored_passages"])) and row["censored_total"] >= 0
    assert report["token_time"] == pytest.approx(0.02)
    for tokens, time in zip(sum(row["mfpt"], []), sum(row["mfpt_time"], []), strict=True):
        assert (tokens is None and time is None) or time == pytest.approx(tokens * 0.02)
    assert "E" in capsys.readouterr().out


def test_transformer_on_micro_tokens(flow):
    run_ok(["train", str(flow / "s.npz"), "-o", str(flow / "tf.pt"), "--tokens", "micro", "--model",
            "transformer", "--steps", "3", "--window", "16", "--batch-size", "4", "--hidden", "8"])
    run_ok(["generate", str(flow / "tf.pt"), str(flow / "s.npz"), "-o", str(flow / "gtf.npy"), "--chains", "2",
            "--length", "40", "--seed-length", "8"])
    assert np.load(flow / "gtf.npy").max() < 12
