"""Every `tenfold mdlm` command refuses bad input in one named line, exit 2, before any work, writing nothing."""

import dataclasses

import numpy as np
import pytest

from tenfold.cli import main

COMMANDS = ("simulate", "partition", "train", "generate", "compare")


def _ok(argv):
    with pytest.raises(SystemExit) as done:
        main(["mdlm", *map(str, argv)])
    assert done.value.code == 0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small valid files for every command: frames, a partition, a trained model, generated chains."""
    folder = tmp_path_factory.mktemp("mdlm_bad_input")
    paths = {name: folder / name for name in ("t.npy", "s.npz", "m.pt", "g.npy")}
    _ok(["simulate", "-o", paths["t.npy"], "--walkers", 3, "--frames", 400, "--fast-dims", 1, "--seed", 2])
    _ok(["partition", paths["t.npy"], "-o", paths["s.npz"], "--clusters", 8, "--macrostates", 2, "--lag", 2])
    _ok(["train", paths["s.npz"], "-o", paths["m.pt"], "--steps", 2, "--window", 10, "--batch-size", 4,
         "--hidden", 4, "--embedding", 2])
    _ok(["generate", paths["m.pt"], paths["s.npz"], "-o", paths["g.npy"], "--chains", 2, "--length", 30,
         "--seed-length", 5])
    paths["folder"] = folder
    return paths


def _check_all(bad_input, cases):
    assert cases
    for case in cases:
        bad_input.check(case)


def case(bad_input, name, argv, mentions, output):
    """A method-specific case, in the fixture's own Case type (built from a standard case)."""
    template = bad_input.cases(["--x", "0"], numbers={"--x": ["1"]})[0]
    return dataclasses.replace(template, name=name, argv=[str(a) for a in argv], mentions=tuple(mentions),
                               absent=(output,))


def test_simulate(bad_input):
    out = bad_input.root / "frames.npy"
    valid = ["mdlm", "simulate", "-o", out, "--walkers", 2, "--frames", 10, "--fast-dims", 1, "--steps-per-frame",
             2, "--time-step", 0.001, "--seed", 0]
    cases = bad_input.cases(valid, output=(out, "file"), numbers={
        "--walkers": ["0", "-3", "nan"], "--frames": ["1", "0"], "--fast-dims": ["-1", "1000"],
        "--steps-per-frame": ["0"], "--time-step": ["nan", "inf", "0", "-0.001", "1"], "--seed": ["-1"]})
    cases += [
        case(bad_input, "absurd size", ["mdlm", "simulate", "-o", out, "--walkers", 100_000, "--frames", 100_000],
             ["trajectory would hold"], out),
        case(bad_input, "wrong suffix", ["mdlm", "simulate", "-o", bad_input.root / "frames.txt"], [".npy"],
             bad_input.root / "frames.txt"),
    ]
    _check_all(bad_input, cases)


def test_partition(bad_input, files):
    out = bad_input.root / "states.npz"
    valid = ["mdlm", "partition", files["t.npy"], "-o", out, "--clusters", 8, "--macrostates", 2, "--lag", 2,
             "--stride", 1, "--theta-core", 0.9, "--min-dwell", 0, "--seed", 0]
    cases = bad_input.cases(valid, inputs={str(files["t.npy"]): ".npy"}, output=(out, "file"), numbers={
        "--clusters": ["1", "0"], "--macrostates": ["1", "8"], "--lag": ["0", "400"], "--stride": ["0"],
        "--theta-core": ["0", "1.5", "nan"], "--min-dwell": ["-1"], "--seed": ["-1"]})
    nan_frames = bad_input.root / "nan.npy"
    frames = np.load(files["t.npy"]).copy()
    frames[1, 5, 0] = np.nan
    np.save(nan_frames, frames)
    four_d = bad_input.root / "four_d.npy"
    np.save(four_d, np.zeros((2, 3, 4, 5)))
    words = bad_input.root / "words.txt"
    words.write_text("x y\n1.0 two\n")
    cases += [
        case(bad_input, "NaN frames", [*valid[:2], nan_frames, *valid[3:]], ["NaN"], out),
        case(bad_input, "4-D frames", [*valid[:2], four_d, *valid[3:]], [str(four_d)], out),
        case(bad_input, "text table with words", [*valid[:2], words, *valid[3:]], [str(words)], out),
        case(bad_input, "missing topology", [*valid, "--topology", bad_input.missing(".pdb")], ["does_not_exist"], out),
    ]
    _check_all(bad_input, cases)


def test_train(bad_input, files):
    out = bad_input.root / "model.pt"
    valid = ["mdlm", "train", files["s.npz"], "-o", out, "--model", "lstm", "--tokens", "core", "--holdout", 1,
             "--steps", 2, "--window", 10, "--batch-size", 4, "--hidden", 4, "--embedding", 2, "--layers", 0,
             "--lr", 0.001, "--seed", 0]
    cases = bad_input.cases(valid, inputs={str(files["s.npz"]): ".npz"}, output=(out, "file"), numbers={
        "--holdout": ["-1", "3"], "--steps": ["0"], "--window": ["0", "5000"], "--batch-size": ["0"],
        "--hidden": ["0"], "--embedding": ["0"], "--layers": ["-1"], "--lr": ["0", "nan", "inf", "-1"],
        "--seed": ["-1"]})
    fractional = bad_input.root / "fractional.npy"
    np.save(fractional, np.full((3, 50), 0.5))
    negative = bad_input.root / "negative.npy"
    np.save(negative, np.full((3, 50), -2, dtype=np.int64))
    cases += [
        case(bad_input, "unknown model", [*valid, "--model", "gru"], ["--model"], out),
        case(bad_input, "unknown tokens", [*valid, "--tokens", "bogus"], ["--tokens"], out),
        case(bad_input, "partition without min-dwell states", [*valid, "--tokens", "min_dwell"], ["min_dwell"], out),
        case(bad_input, "non-integer states", [*valid[:2], fractional, *valid[3:]], ["non-integer"], out),
        case(bad_input, "negative states", [*valid[:2], negative, *valid[3:]], ["negative"], out),
        case(bad_input, "width not divisible by heads", [*valid, "--model", "transformer", "--hidden", 6], ["divisible"], out),
    ]
    _check_all(bad_input, cases)


def test_generate(bad_input, files):
    out = bad_input.root / "chains.npy"
    valid = ["mdlm", "generate", files["m.pt"], files["s.npz"], "-o", out, "--chains", 2, "--length", 20,
             "--seed-length", 5, "--temperature", 1.0, "--seed", 0]
    cases = bad_input.cases(valid, inputs={str(files["m.pt"]): ".pt", str(files["s.npz"]): ".npz"},
                            output=(out, "file"), numbers={
        "--chains": ["0", "-1"], "--length": ["0"], "--seed-length": ["0", "100000"],
        "--temperature": ["0", "-1", "nan", "inf"], "--seed": ["-1"]})
    other = bad_input.root / "other.npy"
    np.save(other, np.zeros((3, 300), dtype=np.int64))
    cases += [
        case(bad_input, "states not the training file", [*valid[:3], other, *valid[4:]], ["not the file the model was trained"],
             out),
        case(bad_input, "absurd size", [*valid, "--chains", 1_000_000, "--length", 1_000_000], ["generated chains"], out),
    ]
    _check_all(bad_input, cases)


def test_compare(bad_input, files):
    out = bad_input.root / "report.json"
    valid = ["mdlm", "compare", files["s.npz"], files["g.npy"], "-o", out, "--tokens", "core", "--msm-lag", 1,
             "--frame-time", 0.02, "--bootstrap", 5, "--seed", 0]
    cases = bad_input.cases(valid, inputs={str(files["s.npz"]): ".npz", str(files["g.npy"]): ".npy"},
                            output=(out, "file"), numbers={
        "--msm-lag": ["-1", "100000"], "--frame-time": ["0", "nan", "inf", "-1"], "--bootstrap": ["-1"],
        "--seed": ["-1"]})
    too_high = bad_input.root / "too_high.npy"
    np.save(too_high, np.full((2, 50), 7, dtype=np.int64))
    three_d = bad_input.root / "three_d.npy"
    np.save(three_d, np.zeros((2, 3, 4), dtype=np.int64))
    empty_chains = bad_input.root / "empty_chains.npy"
    np.save(empty_chains, np.zeros((2, 0), dtype=np.int64))
    fractional = bad_input.root / "fractional.npy"
    np.save(fractional, np.full((2, 50), np.nan))
    cases += [
        case(bad_input, "states beyond the partition", [*valid[:3], too_high, *valid[4:]], ["states >= 2"], out),
        case(bad_input, "3-D generated", [*valid[:3], three_d, *valid[4:]], [str(three_d)], out),
        case(bad_input, "empty chains", [*valid[:3], empty_chains, *valid[4:]], ["empty chain"], out),
        case(bad_input, "NaN states", [*valid[:3], fractional, *valid[4:]], ["non-integer"], out),
        case(bad_input, "reference not a partition", [*valid[:2], files["g.npy"], *valid[3:]], ["must be the .npz"], out),
        case(bad_input, "unknown tokens", [*valid, "--tokens", "bins"], ["--tokens"], out),
    ]
    _check_all(bad_input, cases)
