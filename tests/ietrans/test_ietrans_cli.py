"""`tenfold ietrans ...` on small files the tests write: the happy path and one-line errors (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tenfold.cli import main
from tenfold.ietrans.vg_h5 import read_vg_h5


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(["ietrans", *args])
    return exit_info.value.code


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A synthetic VG folder, its pairs.npz, a 1-epoch PairMLP and its probs.npz (built once)."""
    root = tmp_path_factory.mktemp("ietrans_cli")
    vg = root / "vg"
    assert run(["synth", "-o", str(vg), "--train", "40", "--test", "15", "--seed", "3"]) == 0
    files = ["--h5", str(vg / "VG-SGG-with-attri.h5"), "--dicts", str(vg / "VG-SGG-dicts-with-attri.json")]
    assert run(["pairs", *files, "-o", str(root / "pairs.npz")]) == 0
    assert (
        run(["train", *files, "-o", str(root / "model"), "--model", "pairmlp", "--epochs", "1",
             "--background-ratio", "3", "--probs-out", str(root / "probs.npz")])
        == 0
    )
    return root, vg, files


def test_pairs_and_probs_line_up(workspace):
    root, _, _ = workspace
    pairs = np.load(root / "pairs.npz")
    probs = np.load(root / "probs.npz")
    assert pairs["rel_boxes"].shape[0] == probs["rel_probs"].shape[0] > 0
    assert pairs["cand_boxes"].shape[0] == probs["cand_probs"].shape[0] > 0
    assert probs["rel_probs"].shape[1] == 35


def test_transfer_writes_an_h5_the_reader_accepts(workspace, capsys):
    root, vg, files = workspace
    probs = dict(np.load(root / "probs.npz"))
    probs.update(rel_boxes=np.load(root / "pairs.npz")["rel_boxes"])  # the alignment check passes
    np.savez(root / "aligned.npz", **probs)
    out = root / "out.h5"
    code = run(["transfer", *files, "--probs", str(root / "aligned.npz"), "-o", str(out), "--head", "on,has"])
    assert code == 0
    report = json.loads(out.with_suffix(".json").read_text())
    transferred = read_vg_h5(out, vg / "VG-SGG-dicts-with-attri.json")
    assert transferred.num_relations == report["relations_after"]
    assert report["relations_after"] >= report["relations_before"]
    assert "relabelled internally" in capsys.readouterr().out


def test_evaluate_prints_and_writes_metrics(workspace):
    root, _, files = workspace
    out = root / "metrics.json"
    assert run(["evaluate", *files, "--model", str(root / "model"), "--k", "20,50", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics["R@50"] <= 1.0 and "mR@20" in metrics


def expect_error(args: list[str], capsys, needle: str) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_transfer_bad_inputs_fail_cleanly(workspace, capsys):
    root, _, files = workspace
    out = root / "never.h5"
    probs = str(root / "probs.npz")
    expect_error(["transfer", *files, "--probs", probs, "-o", str(out), "--k-int", "1.5"], capsys, "--k-int")
    expect_error(["transfer", *files, "--probs", probs, "-o", str(out), "--head", "flying saucer"], capsys, "unknown")
    bad = dict(np.load(probs))
    bad["rel_probs"] = bad["rel_probs"][:, :-1]
    np.savez(root / "narrow.npz", **bad)
    expect_error(["transfer", *files, "--probs", str(root / "narrow.npz"), "-o", str(out)], capsys, "shape")
    bad = dict(np.load(probs))
    bad["rel_probs"][0, 0] = np.nan
    np.savez(root / "nan.npz", **bad)
    expect_error(["transfer", *files, "--probs", str(root / "nan.npz"), "-o", str(out)], capsys, "NaN")
    bad = dict(np.load(probs))
    bad["rel_boxes"] = np.zeros((len(bad["rel_probs"]), 2), np.int64)
    np.savez(root / "misaligned.npz", **bad)
    expect_error(["transfer", *files, "--probs", str(root / "misaligned.npz"), "-o", str(out)], capsys, "other pairs")
    expect_error(["transfer", *files, "--probs", str(root / "none.npz"), "-o", str(out)], capsys, "does not exist")
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_other_commands_fail_cleanly(workspace, capsys, tmp_path):
    root, _, files = workspace
    expect_error(["pairs", "--h5", str(tmp_path / "x.h5"), "--dicts", files[3], "-o", str(tmp_path / "p.npz")], capsys, "does not exist")
    assert not (tmp_path / "p.npz").exists()
    expect_error(["train", *files, "-o", str(tmp_path / "m"), "--model", "resnet"], capsys, "model")
    assert not (tmp_path / "m").exists()
    expect_error(["evaluate", *files, "--model", str(tmp_path)], capsys, "config.json")
    expect_error(["evaluate", *files, "--model", str(root / "model"), "--k", "a,b"], capsys, "--k")
    expect_error(["synth", "-o", str(tmp_path / "s"), "--train", "0"], capsys, "--train")
    assert not (tmp_path / "s").exists()


def test_unannotated_training_images_feed_the_external_transfer(tmp_path):
    """The official relabelling scores pairs of every training image, annotated or not; so do we."""
    from tenfold.ietrans.synth import make_synth
    from tenfold.ietrans.vg_h5 import write_vg_files

    _, train, test = make_synth(5, 40, 10)
    graphs = train.annotated
    blank = np.arange(0, graphs.num_images, 4)  # every fourth image loses its annotations
    graphs = graphs.with_relations(graphs.relations[~np.isin(graphs.relation_image, blank)])
    paths = write_vg_files(tmp_path / "vg", {"train": graphs, "test": test.annotated})
    files = ["--h5", str(paths["h5"]), "--dicts", str(paths["dicts"])]
    assert run(["pairs", *files, "-o", str(tmp_path / "pairs.npz")]) == 0
    candidate_rows = set(np.load(tmp_path / "pairs.npz")["cand_h5_rows"].tolist())
    assert candidate_rows & set(blank.tolist()), "no candidate from an unannotated image"
    assert run(["train", *files, "-o", str(tmp_path / "m"), "--model", "pairmlp", "--epochs", "1",
                "--background-ratio", "3", "--probs-out", str(tmp_path / "probs.npz")]) == 0
    probs = np.load(tmp_path / "probs.npz")
    assert len(probs["cand_probs"]) == len(np.load(tmp_path / "pairs.npz")["cand_boxes"])
    out = tmp_path / "out.h5"
    assert run(["transfer", *files, "--probs", str(tmp_path / "probs.npz"), "-o", str(out), "--head", "",
                "--k-ext", "1.0"]) == 0
    enhanced = read_vg_h5(out, paths["dicts"])
    gained = set(enhanced.h5_rows[np.unique(enhanced.relation_image)].tolist()) & set(blank.tolist())
    assert gained, "the external transfer added nothing to the unannotated images"
