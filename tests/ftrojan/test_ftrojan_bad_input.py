"""Every ftrojan command refuses bad input before any work: one ``error:`` line, exit 2, nothing written."""

import sys

import numpy as np
import pytest
from PIL import Image

COMMANDS = ("poison", "trigger", "evaluate")


def _images(n=20, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 0.9, (n, size, size, 3)).astype(np.float32)


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "inputs"
    root.mkdir()
    photo = root / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(photo)
    x = _images()
    y = np.arange(20) % 4
    return {
        "root": root,
        "data": _save(root / "data.npz", x=x, y=y),
        "split": _save(root / "split.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8]),
        "photo": photo,
        "out": tmp_path / "out" / "poisoned.npz",
        "report": tmp_path / "out" / "report.json",
        "folder_out": tmp_path / "out" / "triggered",
    }


def _poison(f, data=None, out=None, *extra):
    return ["ftrojan", "poison", str(data or f["data"]), "-o", str(out or f["out"]), "--rate", "0.2", "--magnitude", "30",
            "--window", "32", "--target", "0", "--seed", "0", *extra]


def _trigger(f, *extra):
    return ["ftrojan", "trigger", str(f["photo"]), "-o", str(f["folder_out"]), "--magnitude", "30", "--window", "32", *extra]


def _evaluate(f, split=None, *extra):
    return ["ftrojan", "evaluate", str(split or f["split"]), "-o", str(f["report"]), "--rate", "0.2", "--magnitude", "30",
            "--epochs", "1", "--width", "2", "--nc-epochs", "1", "--nc-samples", "32", "--target", "0", "--seed", "0", *extra]


BAD_RATES = ["nan", "inf", "0", "1", "1.5", "-0.1"]
BAD_MAGNITUDES = ["nan", "inf", "-1e9", "0", "1e9"]


def _standard(bad_input, f):
    cases = bad_input.cases(
        _poison(f), inputs={str(f["data"]): ".npz"}, output=(f["out"], "file"),
        numbers={"--rate": BAD_RATES, "--magnitude": BAD_MAGNITUDES, "--window": ["0", "-3", "nan"],
                 "--target": ["-1"], "--seed": ["-1"]},
    )
    cases += bad_input.cases(
        _trigger(f), inputs={str(f["photo"]): ".png"}, output=(f["folder_out"], "directory"),
        numbers={"--magnitude": BAD_MAGNITUDES, "--window": ["0"]},
    )
    cases += bad_input.cases(
        _evaluate(f), inputs={str(f["split"]): ".npz"}, output=(f["report"], "file"),
        numbers={"--rate": BAD_RATES, "--magnitude": BAD_MAGNITUDES, "--epochs": ["0", "-1"], "--width": ["0"],
                 "--nc-epochs": ["-1", "nan"], "--nc-samples": ["0", "31"], "--target": ["-1"], "--seed": ["-1"]},
    )
    return cases


def test_standard_bad_inputs(bad_input, files):
    cases = _standard(bad_input, files)
    assert len(cases) >= 60
    for case in cases:
        bad_input.check(case)


def _case_type(bad_input):
    """The harness's Case class, taken from the fixture's own module (several conftest modules exist)."""
    return sys.modules[type(bad_input).__module__].Case


def test_method_specific_bad_inputs(bad_input, files):
    f = files
    case_type = _case_type(bad_input)

    def _case(name, argv, mentions, absent):
        return case_type(name, argv, mentions, absent)

    root = f["root"]
    x, y = _images(), np.arange(20) % 4
    nan_x = x.copy()
    nan_x[3, 5, 5, 1] = np.nan  # in a row the poisoner would not touch: it must still be refused
    grey_wrong = np.zeros((20, 30, 30), np.float32)
    bad = {
        "nan pixels": (_save(root / "nan.npz", x=nan_x, y=y), "NaN"),
        "0..255 floats": (_save(root / "scale.npz", x=x * 255, y=y), "[0, 1]"),
        "flat vectors": (_save(root / "flat.npz", x=x.reshape(20, -1), y=y), "shape"),
        "four channels": (_save(root / "rgba.npz", x=np.zeros((20, 32, 32, 4), np.uint8), y=y), "shape"),
        "empty images": (_save(root / "none.npz", x=np.zeros((0, 32, 32, 3), np.float32), y=np.zeros(0, int)), "empty"),
        "label count": (_save(root / "count.npz", x=x, y=y[:5]), "one label per image"),
        "float labels": (_save(root / "flabels.npz", x=x, y=y.astype(float)), "integers"),
        "negative labels": (_save(root / "neg.npz", x=x, y=y - 1), "negative"),
        "missing arrays": (_save(root / "keys.npz", images=x), "lacks the arrays"),
        "window does not divide": (_save(root / "odd.npz", x=grey_wrong, y=y), "--window"),
        "complex pixels": (_save(root / "complex.npz", x=x.astype(np.complex64), y=y), "dtype"),
    }
    cases = [_case(f"poison {name}", _poison(f, path), (message,), (f["out"],)) for name, (path, message) in bad.items()]
    cases += [
        _case("poison target not a label", _poison(f, None, None, "--target", "7"), ("target label 7",), (f["out"],)),
        _case("poison rate above non-target share", _poison(f, None, None, "--rate", "0.9"), ("non-target",), (f["out"],)),
        _case("poison position outside", _poison(f, None, None, "--position", "40,40"), ("outside",), (f["out"],)),
        _case("poison position text", _poison(f, None, None, "--position", "a"), ("u,v",), (f["out"],)),
        _case("poison channel", _poison(f, None, None, "--channel", "5"), ("--channel",), (f["out"],)),
        _case("poison selection", _poison(f, None, None, "--selection", "best"), ("--selection",), (f["out"],)),
        _case("poison output suffix", _poison(f, None, f["out"].with_suffix(".txt")), (".npz",), (f["out"].with_suffix(".txt"),)),
    ]
    small = root / "small.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(small)
    odd = root / "odd.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(odd)
    twin = root / "twin" / "photo.png"
    twin.parent.mkdir()
    twin.write_bytes(f["photo"].read_bytes())
    out = f["folder_out"]
    cases += [
        _case("trigger image below the window", ["ftrojan", "trigger", str(small), "--crop", "-o", str(out)], ("smaller",), (out,)),
        _case("trigger image not a multiple", ["ftrojan", "trigger", str(odd), "-o", str(out)], ("--crop",), (out,)),
        _case("trigger same names", ["ftrojan", "trigger", str(f["photo"]), str(twin), "-o", str(out)], ("overwrite",), (out,)),
        _case("trigger channel", _trigger(f, "--channel", "3"), ("--channel",), (out,)),
        # the second file is bad: the first must not have been written either
        _case("trigger second input bad", ["ftrojan", "trigger", str(f["photo"]), str(bad_input.garbage(".png")), "-o", str(out)],
              ("not a readable image",), (out,)),
    ]
    nan_test = x[:8].copy()
    nan_test[0, 0, 0, 0] = np.inf
    splits = {
        "missing test arrays": (_save(root / "s1.npz", x_train=x, y_train=y), "lacks the arrays"),
        "infinite test pixel": (_save(root / "s2.npz", x_train=x, y_train=y, x_test=nan_test, y_test=y[:8]), "infinite"),
        "shapes differ": (_save(root / "s3.npz", x_train=x, y_train=y, x_test=_images(8, 64), y_test=y[:8]), "differ"),
        "not square": (_save(root / "s4.npz", x_train=np.zeros((20, 32, 64, 3), np.float32), y_train=y, x_test=x[:8], y_test=y[:8]), "square"),
    }
    report = f["report"]
    cases += [_case(f"evaluate {name}", _evaluate(f, path), (message,), (report,)) for name, (path, message) in splits.items()]
    cases += [
        _case("evaluate unknown attack", _evaluate(f, None, "--attacks", "none,warp"), ("--attacks",), (report,)),
        _case("evaluate empty attack list", _evaluate(f, None, "--attacks", " , "), ("--attacks",), (report,)),
        _case("evaluate target not a label", _evaluate(f, None, "--target", "9"), ("--target 9",), (report,)),
        _case("evaluate output suffix", _evaluate(f, None, "-o", str(report.with_suffix(".npz"))), (".json",),
              (report.with_suffix(".npz"),)),
    ]
    for case in cases:
        bad_input.check(case)
