"""Bad input for every ``tenfold dpfmix`` command: one ``error:`` line, exit 2, nothing written, before any work.

The standard cases (missing, empty, folder, wrong-format inputs; bad output paths; NaN/inf/out-of-range
numbers) come from the shared ``bad_input`` harness; the method's own cases cover wrong shapes, NaN
content, labels out of range, the adjacency rules and absurd budgets (issue 17).
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError

COMMANDS = ("release", "mstar")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    paths = {name: tmp_path / f"{name}.npy" for name in ("x", "y", "x_nan", "x_1d", "y_big", "y_2d", "y_short", "y_text")}
    np.save(paths["x"], rng.normal(size=(60, 3)))
    np.save(paths["y"], rng.integers(0, 3, size=60))
    nan = rng.normal(size=(60, 3))
    nan[4, 1] = np.nan
    np.save(paths["x_nan"], nan)
    np.save(paths["x_1d"], rng.normal(size=60))
    np.save(paths["y_big"], np.full(60, 7))
    np.save(paths["y_2d"], np.zeros((60, 2), dtype=int))
    np.save(paths["y_short"], rng.integers(0, 3, size=59))
    np.save(paths["y_text"], np.array(["a"] * 60))
    np.savez(tmp_path / "archive.npz", x=rng.normal(size=(60, 3)))
    paths["npz"] = tmp_path / "archive.npz"
    paths["out"] = tmp_path / "out" / "release.npz"
    paths["json"] = tmp_path / "out" / "mstar.json"
    return paths


def _release(files, **replace):
    argv = ["dpfmix", "release", files["x"], files["y"], "--eps", "2", "--delta", "1e-4", "--m", "8",
            "--n-classes", "3", "--T", "60", "--lam", "1", "--clip", "1", "--interval", "1e-2", "-o", files["out"]]
    argv = [str(a) for a in argv]
    for option, value in replace.items():
        argv[argv.index(option) + 1] = str(value)
    return argv


def _mstar(files):
    return [str(a) for a in ["dpfmix", "mstar", "--eps", "1", "--n", "1000", "--T", "1000", "--delta", "1e-5",
                             "-o", files["json"]]]


def test_valid_invocations_work(files, cli):
    assert cli(_release(files)).code == 0 and files["out"].is_file()
    assert cli(_mstar(files)).code == 0 and files["json"].is_file()


def test_standard_release_cases(files, bad_input):
    cases = bad_input.cases(
        _release(files), inputs={str(files["x"]): ".npy", str(files["y"]): ".npy"}, output=(files["out"], "file"),
        numbers={"--eps": ["0", "-1", "nan", "inf"], "--delta": ["0", "1", "nan"], "--m": ["0", "-3", "nan", "abc"],
                 "--n-classes": ["1", "x"], "--T": ["0", "nan"], "--lam": ["0", "nan"], "--clip": ["0", "-1", "inf"],
                 "--interval": ["0", "nan", "-1", "5"]},
    )
    for case in cases:
        bad_input.check(case)


def test_standard_mstar_cases(files, bad_input):
    cases = bad_input.cases(
        _mstar(files), output=(files["json"], "file"),
        numbers={"--eps": ["0", "-2", "nan"], "--n": ["0", "1", "nan"], "--T": ["0"], "--delta": ["0", "1", "nan"]},
    )
    for case in cases:
        bad_input.check(case)


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        (dict(features="x_nan"), "NaN"),
        (dict(features="x_1d"), "expected 2-D"),
        (dict(features="npz"), ".npz archive"),
        (dict(labels="y_big"), "labels must lie in 0..2"),
        (dict(labels="y_2d"), "expected 1-D"),
        (dict(labels="y_short"), "rows"),
        (dict(labels="y_text"), "dtype"),
        (dict(option=("--m", "500")), "0 < m < n"),
        (dict(option=("--eps", "100000")), "epsilon"),
        (dict(option=("-o", "release.txt")), ".npz"),
        (dict(extra=["--adjacency", "swap"]), "--adjacency"),
        (dict(extra=["--adjacency", "add-remove"]), "n_public"),
        (dict(extra=["--adjacency", "replace-one", "--n-public", "59"]), "replace-one"),
        (dict(extra=["--insecure-seed", "-1"]), "--insecure-seed"),
    ],
)
def test_release_own_cases(files, bad_input, change, mentions):
    argv = _own_case(files, change)
    written = Path(argv[argv.index("-o") + 1])
    bad_input.check(_case(bad_input, f"release {change}", argv, mentions, written))


def _case(bad_input, name, argv, mentions, absent):
    """A Case of the shared harness (tests/conftest.py), which the importlib import mode cannot import by name."""
    case_type = sys.modules[type(bad_input).__module__].Case
    return case_type(name, [str(a) for a in argv], (mentions,), (Path(absent),))


def _own_case(files, change):
    argv = _release(files)
    if "features" in change:
        argv[2] = str(files[change["features"]])
    if "labels" in change:
        argv[3] = str(files[change["labels"]])
    if "option" in change:
        option, value = change["option"]
        value = str(files["out"].parent / value) if option == "-o" else value
        argv[argv.index(option) + 1] = value
    return argv + change.get("extra", [])


def test_mstar_own_cases(files, bad_input):
    argv = _mstar(files)
    for extra, mentions in ((["--adjacency", "swap"], "--adjacency"), (["--eps", "1e9"], "epsilon")):
        bad_input.check(_case(bad_input, f"mstar {extra}", argv + extra, mentions, files["json"]))
    wrong_suffix = [a if a != str(files["json"]) else str(files["json"].with_suffix(".csv")) for a in argv]
    bad_input.check(_case(bad_input, "mstar output suffix", wrong_suffix, ".json", files["json"].with_suffix(".csv")))


def test_library_refuses_the_same_inputs_with_named_errors():
    from tenfold.dpfmix.release import DPFMixRelease

    x = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(BadInputError, match="2-D"):
        DPFMixRelease(1.0, 1e-4, m=4, n_classes=3, interval=1e-2).fit(x[:0], np.zeros(0, dtype=int))
    with pytest.raises(BadConfigError, match="interval"):
        DPFMixRelease(1.0, 1e-4, m=4, n_classes=3, interval=-1.0).fit(x, np.zeros(40, dtype=int))
