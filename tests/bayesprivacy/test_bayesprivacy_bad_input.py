"""Bad input for every bayesprivacy command: one ``error:`` line naming the problem, exit 2, nothing written,
and no work started (issue 17)."""

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

COMMANDS = ("train", "attack")

TINY = ["--clients", "2", "--rounds", "1", "--local-steps", "1", "--test-size", "20"]


@dataclass
class _Case:
    """One method-specific bad invocation, in the shape ``bad_input.check`` reads."""

    name: str
    argv: list[str]
    mentions: tuple[str, ...]
    absent: tuple[Path, ...] = ()


def _case(name, argv, mentions, absent=()):
    return _Case(name, [str(a) for a in argv], tuple(mentions), tuple(absent))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small valid data file and a passport model trained on it (1 round, 1 step)."""
    from tenfold.cli import main

    root = tmp_path_factory.mktemp("bayesprivacy_bad")
    rng = np.random.default_rng(0)
    np.savez(root / "data.npz", x=rng.random((60, 28, 28)).astype(np.float32), y=np.arange(60) % 10)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
        main(["bayesprivacy", "train", *TINY, "--data", str(root / "data.npz"), "-o", str(root / "model")])
    assert done.value.code == 0, err.getvalue()
    return root


def _train_argv(files: Path, out: Path, data: Path | None = None) -> list[str]:
    return ["bayesprivacy", "train", "--data", str(data or files / "data.npz"), *TINY, "--sigma", "5", "--noise", "0.01",
            "--seed", "0", "-o", str(out)]


def test_train_standard_cases(bad_input, files):
    out = bad_input.root / "trained"
    valid = _train_argv(files, out)
    cases = bad_input.cases(
        valid, inputs={str(files / "data.npz"): ".npz"}, output=(out, "directory"),
        numbers={"--rounds": ["0", "-2", "x"], "--clients": ["0", "1.5"], "--local-steps": ["0"],
                 "--test-size": ["0", "60"], "--sigma": ["0", "-1", "nan", "inf"], "--noise": ["0", "nan"],
                 "--seed": ["-1"]},
    )
    for case in cases:
        bad_input.check(case)


def _npz(root: Path, name: str, **arrays) -> Path:
    path = root / name
    np.savez(path, **arrays)
    return path


def test_train_bad_data_content_and_options(bad_input, files):
    root, out = bad_input.root, bad_input.root / "trained"
    rng = np.random.default_rng(1)
    good_x, good_y = rng.random((60, 28, 28)).astype(np.float32), np.arange(60) % 10
    nan_x = good_x.copy()
    nan_x[3, 4, 5] = np.nan
    npy = root / "x.npy"
    np.save(npy, good_x)
    bad_data = {
        "wrong shape": (_npz(root, "shape.npz", x=rng.random((60, 32, 32)), y=good_y), ("shape",)),
        "colour": (_npz(root, "colour.npz", x=rng.random((60, 3, 28, 28)), y=good_y), ("grey",)),
        "nan pixels": (_npz(root, "nan.npz", x=nan_x, y=good_y), ("NaN",)),
        "pixels above 1": (_npz(root, "range.npz", x=good_x * 3, y=good_y), ("[0, 1]",)),
        "labels out of range": (_npz(root, "labels.npz", x=good_x, y=good_y + 5), ("labels",)),
        "fractional labels": (_npz(root, "fraction.npz", x=good_x, y=good_y + 0.5), ("whole numbers",)),
        "label count": (_npz(root, "count.npz", x=good_x, y=good_y[:50]), ("50 labels",)),
        "no labels": (_npz(root, "nolabels.npz", x=good_x), ("lacks the arrays y",)),
        "empty arrays": (_npz(root, "empty_arrays.npz", x=np.zeros((0, 28, 28)), y=np.zeros(0)), ("empty",)),
        "text pixels": (_npz(root, "text.npz", x=np.full((60, 28, 28), "a"), y=good_y), ("dtype",)),
        "an .npy": (npy, (".npy",)),
        "too few images": (_npz(root, "few.npz", x=good_x[:21], y=good_y[:21]), ("--test-size",)),
    }
    for name, (path, mentions) in bad_data.items():
        bad_input.check(_case(name, _train_argv(files, out, path), mentions, (out,)))
    for option, value in (("--defence", "he"), ("--scope", "global"), ("--insecure-seed", "-1"),
                          ("--dp-clip", "nan"), ("--dp-noise-multiplier", "0")):
        bad_input.check(_case(f"{option} {value}", [*_train_argv(files, out), option, value], (option,), (out,)))


def test_train_refuses_a_non_empty_output_folder(bad_input, files):
    out = bad_input.root / "earlier"
    out.mkdir()
    (out / "keystore-client0.safetensors").write_bytes(b"secret")
    bad_input.check(_case("non-empty output", _train_argv(files, out), ("not empty", "--overwrite")))
    assert (out / "keystore-client0.safetensors").read_bytes() == b"secret"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def _attack_argv(model: Path, report: Path, *extra: str) -> list[str]:
    return ["bayesprivacy", "attack", str(model), "-o", str(report), "--images", "1", "--restarts", "1",
            "--prior-draws", "1", "--iterations", "2", *extra]


def test_attack_standard_cases(bad_input, files):
    report = bad_input.root / "report.json"
    valid = _attack_argv(files / "model", report)
    cases = bad_input.cases(
        valid, inputs={str(files / "model"): ""}, output=(report, "file"),
        numbers={"--images": ["0", "nan"], "--restarts": ["0"], "--prior-draws": ["-1"], "--iterations": ["0", "1e3"]},
    )
    for case in cases:
        bad_input.check(case)


def test_attack_damaged_model_folders_and_bad_options(bad_input, files):
    root, report = bad_input.root, bad_input.root / "report.json"

    def damaged(name: str, change) -> Path:
        folder = root / name
        shutil.copytree(files / "model", folder)
        change(folder)
        return folder

    config = json.loads((files / "model" / "config.json").read_text())
    folders = {
        "config not JSON": (lambda f: (f / "config.json").write_text("{not json"), ("not valid JSON",)),
        "config lacks keys": (lambda f: (f / "config.json").write_text(json.dumps({"defence": "passport"})), ("lacks",)),
        "config bad value": (lambda f: (f / "config.json").write_text(json.dumps(dict(config, rounds="many"))),
                             ("invalid training config",)),
        "config not an object": (lambda f: (f / "config.json").write_text("[1, 2]"), ("JSON object",)),
        "config missing": (lambda f: (f / "config.json").unlink(), ("config.json",)),
        "model garbage": (lambda f: (f / "model.safetensors").write_bytes(b"\x00garbage" * 9), ("model.safetensors",)),
        "model of another network": (lambda f: _save_state(f / "model.safetensors"), ("not the shared state",)),
        "model missing": (lambda f: (f / "model.safetensors").unlink(), ("model.safetensors",)),
        "keystore missing": (lambda f: (f / "keystore-client0.safetensors").unlink(), ("never re-drawn",)),
        "keystore garbage": (lambda f: (f / "keystore-client0.safetensors").write_bytes(b"\x00junk" * 9),
                             ("not a passport keystore",)),
        "keystore of other layers": (lambda f: _save_keystore(f / "keystore-client0.safetensors"), ("passports",)),
        "training data gone": (lambda f: (f / "config.json").write_text(
            json.dumps(dict(config, data=str(root / "moved.npz")))), ("does not exist",)),
    }
    for name, (change, mentions) in folders.items():
        folder = damaged(name.replace(" ", "_"), change)
        bad_input.check(_case(name, _attack_argv(folder, report), mentions, (report,)))
    model = files / "model"
    options = {
        "--guess": (["--guess", "everything"], ("--guess",)),
        "--method": (["--method", "cg"], ("--method",)),
        "dlg with prior": (["--method", "dlg", "--guess", "prior"], ("--method dlg",)),
        "--insecure-seed": (["--insecure-seed", "-4"], ("--insecure-seed",)),
        "--tv": (["--tv", "nan"], ("--tv",)),
    }
    for name, (extra, mentions) in options.items():
        bad_input.check(_case(name, _attack_argv(model, report, *extra), mentions, (report,)))
    text_report = root / "report.txt"
    bad_input.check(_case("report suffix", _attack_argv(model, text_report), (".json",), (text_report,)))


def _save_state(path: Path) -> None:
    import torch
    from safetensors.torch import save

    path.write_bytes(save({"fc.weight": torch.zeros(3, 3)}))


def _save_keystore(path: Path) -> None:
    import torch
    from safetensors.torch import save

    path.write_bytes(save({"body.9::gamma": torch.ones(1, 1, 28, 28), "body.9::beta": torch.ones(1, 1, 28, 28)}))
    path.chmod(0o600)
