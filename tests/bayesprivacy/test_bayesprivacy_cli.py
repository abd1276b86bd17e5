"""The bayesprivacy commands on tiny settings, their bad inputs, and the smoke-scale experiment."""

import json

import pytest

from tenfold.cli import main
from tenfold.core.experiment import Result, Scale


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """120 real digits (scikit-learn's 8x8, upscaled to 28x28): small and quick to load."""
    import numpy as np
    from skimage.transform import resize

    from tenfold.core.data import digits8

    x, y = digits8()
    x = np.stack([resize(image, (28, 28), order=1) for image in x[:120]]).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x=x, y=y[:120])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("bp") / "model"
    with pytest.raises(SystemExit) as exit_info:
        main(["bayesprivacy", "train", "--defence", "passport", "--rounds", "1", "--clients", "2", "--local-steps", "1",
              "--data", str(digits), "--test-size", "40", "-o", str(folder)])
    assert exit_info.value.code == 0
    return folder


def test_train_writes_model_keystores_and_metrics(trained):
    assert {p.name for p in trained.iterdir()} == {
        "model.safetensors", "keystore-client0.safetensors", "keystore-client1.safetensors", "config.json", "metrics.json"
    }
    from safetensors.torch import load_file

    assert not any("passport" in key for key in load_file(str(trained / "model.safetensors")))


def test_attack_reports_leakage(trained, tmp_path, capsys):
    report = tmp_path / "attack.json"
    code, stdout, _ = _run(["bayesprivacy", "attack", str(trained), "--images", "1", "--restarts", "1",
                            "--iterations", "2", "--guess", "oracle", "-o", str(report)], capsys)
    assert code == 0 and "PSNR" in stdout
    data = json.loads(report.read_text())
    assert data["guess"] == "oracle" and len(data["images"]) == 1 and "epsilon_hat" in data


def test_attack_without_keystore_fails_loudly(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(trained, copy)
    (copy / "keystore-client0.safetensors").unlink()
    report = tmp_path / "attack.json"
    code, _, err = _run(["bayesprivacy", "attack", str(copy), "--images", "1", "-o", str(report)], capsys)
    assert code == 2 and "keystore" in err and len(err.strip().splitlines()) == 1
    assert not report.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--defence", "he"], "unknown defence"),
        (["train", "--defence", "passport", "--sigma", "0"], "sigma > 0"),
        (["train", "--defence", "noise", "--noise", "0"], "noise"),
        (["train", "--scope", "global"], "scope"),
        (["train", "--rounds", "0"], "positive"),
    ],
)
def test_train_bad_input_one_line_exit_2_no_output(tmp_path, capsys, digits, argv, message):
    out = tmp_path / "model"
    code, _, err = _run(["bayesprivacy", *argv, "--data", str(digits), "--test-size", "40", "-o", str(out)], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_train_test_split_larger_than_the_data(tmp_path, capsys, digits):
    out = tmp_path / "model"
    code, _, err = _run(["bayesprivacy", "train", "--data", str(digits), "--test-size", "500", "-o", str(out)], capsys)
    assert code == 2 and "more than 500" in err and not out.exists()


def test_attack_on_a_missing_folder(tmp_path, capsys):
    code, _, err = _run(["bayesprivacy", "attack", str(tmp_path / "none"), "-o", str(tmp_path / "a.json")], capsys)
    assert code == 2 and "does not exist" in err


def test_smoke_reproduce_returns_a_well_formed_result(tmp_path):
    from tenfold.bayesprivacy.experiment import reproduce

    result = reproduce(Scale.SMOKE, tmp_path, seed=0)
    assert isinstance(result, Result) and result.name == "bayesprivacy"
    ids = {c.id for c in result.claims}
    assert {"passport_accuracy", "ig_undefended_psnr", "passport_prior_psnr", "oracle_passport_psnr",
            "noise_costs_accuracy"} <= ids
    assert all(c.passed is None for c in result.claims)  # smoke is too small to decide
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    assert json.dumps(result.to_json())
