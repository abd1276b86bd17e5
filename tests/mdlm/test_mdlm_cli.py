"""`tenfold mdlm ...` on small files the tests write: the whole flow, and bad inputs (exit 2, one line, no file)."""

import json

import numpy as np
import pytest

from tenfold.cli import main


def run_ok(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["mdlm", *args])
    assert exit_info.value.code == 0


def run_bad(args, capsys, match):
    with pytest.raises(SystemExit) as exit_info:
        main(["mdlm", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and match in err, err


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mdlm_cli")
    run_ok(["simulate", "--out", str(folder / "t.npy"), "--walkers", "4", "--frames", "1500", "--fast-dims", "1",
            "--seed", "1"])
    run_ok(["partition", str(folder / "t.npy"), "--out", str(folder / "s.npz"), "--clusters", "12",
            "--macrostates", "2", "--lag", "5", "--min-dwell", "3"])
    run_ok(["train", str(folder / "s.npz"), "--out", str(folder / "m.pt"), "--tokens", "core", "--steps", "15",
            "--window", "20", "--batch-size", "8", "--hidden", "8"])
    return folder


def test_whole_flow(flow, capsys):
    trajectory = np.load(flow / "t.npy")
    assert trajectory.shape == (4, 1500, 2)
    with np.load(flow / "s.npz") as states:
        assert states["micro"].shape == (4, 1500) and states["core_map"].shape == (12,)
        assert set(np.unique(states["crisp"])) <= {-1, 0, 1}
        assert "min_dwell" in states.files
    run_ok(["generate", str(flow / "m.pt"), str(flow / "s.npz"), "--out", str(flow / "g.npy"), "--chains", "3",
            "--length", "200", "--seed-length", "10"])
    generated = np.load(flow / "g.npy")
    assert generated.shape == (3, 200) and set(np.unique(generated)) <= {0, 1}
    run_ok(["compare", str(flow / "s.npz"), str(flow / "g.npy"), "--out", str(flow / "r.json"), "--tokens", "core"])
    report = json.loads((flow / "r.json").read_text())
    assert set(report["rows"]) == {"g.npy", "MSM(lag 1)"}
    assert report["rows"]["g.npy"]["E"] is None or report["rows"]["g.npy"]["E"] >= 0
    assert "E" in capsys.readouterr().out


def test_transformer_on_micro_tokens(flow):
    run_ok(["train", str(flow / "s.npz"), "--out", str(flow / "tf.pt"), "--tokens", "micro", "--model",
            "transformer", "--steps", "3", "--window", "16", "--batch-size", "4", "--hidden", "8"])
    run_ok(["generate", str(flow / "tf.pt"), str(flow / "s.npz"), "--out", str(flow / "gtf.npy"), "--chains", "2",
            "--length", "40", "--seed-length", "8"])
    assert np.load(flow / "gtf.npy").max() < 12


def test_bad_inputs(flow, tmp_path, capsys):
    out = tmp_path / "x.npy"
    run_bad(["simulate", "--out", str(out), "--walkers", "0"], capsys, "n_walkers")
    assert not out.exists()
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[0.0, np.nan], [1.0, 2.0], [0.5, 0.1]]))
    run_bad(["partition", str(nan), "--out", str(tmp_path / "s.npz")], capsys, "NaN")
    run_bad(["partition", str(flow / "t.npy"), "--out", str(tmp_path / "s.npz"), "--lag", "5000"], capsys,
            "shorter than the shortest trajectory")
    run_bad(["partition", str(flow / "t.npy"), "--out", str(tmp_path / "s.npz"), "--clusters", "5",
             "--macrostates", "6"], capsys, "smaller than --clusters")
    assert not (tmp_path / "s.npz").exists()
    run_bad(["train", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "m.pt")], capsys, "does not exist")
    run_bad(["train", str(flow / "s.npz"), "--out", str(tmp_path / "m.pt"), "--holdout", "4"], capsys, "--holdout")
    run_bad(["train", str(flow / "s.npz"), "--out", str(tmp_path / "m.pt"), "--window", "5000"], capsys,
            "shorter than window")
    assert not (tmp_path / "m.pt").exists()
    run_bad(["generate", str(flow / "m.pt"), str(flow / "s.npz"), "--out", str(tmp_path / "g.npy"),
             "--temperature", "0"], capsys, "temperature")
    other = tmp_path / "other.npy"
    np.save(other, np.zeros((4, 300), dtype=np.int64))
    run_bad(["generate", str(flow / "m.pt"), str(other), "--out", str(tmp_path / "g.npy")], capsys,
            "not the file the model was trained on")
    assert not (tmp_path / "g.npy").exists()
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.full((2, 50), 7, dtype=np.int64))
    run_bad(["compare", str(flow / "s.npz"), str(wrong), "--out", str(tmp_path / "r.json")], capsys, "states >= 2")
    assert not (tmp_path / "r.json").exists()
