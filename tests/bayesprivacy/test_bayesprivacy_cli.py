"""The bayesprivacy commands on tiny settings: outputs, secrecy of the keystores, the opt-in seed."""

import contextlib
import io
import json
import stat

import pytest

from tenfold.bayesprivacy import cli as bayes_cli
from tenfold.core.io import OUTPUT_MARKER
from tenfold.core.randomness import SECURE_SOURCE

TINY = ["--rounds", "1", "--clients", "2", "--local-steps", "1", "--test-size", "40"]


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


def _train_quietly(argv):
    """``tenfold ARGV`` in this process (module-scoped fixtures cannot use the ``cli`` fixture): exit code, stderr."""
    from tenfold.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    return done.value.code, err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("bp") / "model"
    code, err = _train_quietly(["bayesprivacy", "train", "--defence", "passport", *TINY, "--data", digits, "-o", folder])
    assert code == 0, err
    assert err.strip() == ""  # the secure default warns about nothing
    return folder


def test_train_writes_model_owner_only_keystores_and_metadata(trained):
    assert {p.name for p in trained.iterdir()} - {OUTPUT_MARKER} == {
        "model.safetensors", "keystore-client0.safetensors", "keystore-client1.safetensors", "config.json", "metrics.json"
    }
    from safetensors.torch import load_file

    assert not any("passport" in key for key in load_file(str(trained / "model.safetensors")))
    for name in ("keystore-client0.safetensors", "keystore-client1.safetensors"):
        assert stat.S_IMODE((trained / name).stat().st_mode) == 0o600
    config = json.loads((trained / "config.json").read_text())
    assert config["randomness"] == {"randomness": SECURE_SOURCE, "insecure_seed": None}


def test_the_seed_does_not_fix_the_secrets_but_an_insecure_seed_does(tmp_path, digits, cli):
    def keystore_bytes(folder):
        from safetensors.torch import load_file

        return load_file(str(folder / "keystore-client0.safetensors"))["body.0::gamma"]

    import torch

    runs = {}
    for name, extra in (("a", []), ("b", []), ("c", ["--insecure-seed", "5"]), ("d", ["--insecure-seed", "5"])):
        outcome = cli(["bayesprivacy", "train", *TINY, "--seed", "3", "--data", digits, "-o", tmp_path / name, *extra])
        assert outcome.code == 0, outcome.err
        runs[name] = (keystore_bytes(tmp_path / name), outcome.err)
    assert not torch.equal(runs["a"][0], runs["b"][0])
    torch.testing.assert_close(runs["c"][0], runs["d"][0])
    lines = [line for line in runs["c"][1].splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:") and "replayable seed 5" in lines[0]
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["insecure_seed"] == 5 and config["randomness"]["insecure_seed"] == 5
    assert "INSECURE" in config["randomness"]["randomness"]


def test_attack_reports_leakage(trained, tmp_path, cli):
    report = tmp_path / "attack.json"
    outcome = cli(["bayesprivacy", "attack", trained, "--images", "1", "--restarts", "1", "--iterations", "2",
                   "--guess", "oracle", "-o", report])
    assert outcome.code == 0 and "PSNR" in outcome.out, outcome.err
    data = json.loads(report.read_text())
    assert data["guess"] == "oracle" and len(data["images"]) == 1 and "epsilon_hat" in data


def test_attack_on_a_noise_model_records_its_noise_source(tmp_path, digits, cli):
    model = tmp_path / "noisy"
    assert cli(["bayesprivacy", "train", "--defence", "noise", *TINY, "--data", digits, "-o", model]).code == 0
    report = tmp_path / "attack.json"
    outcome = cli(["bayesprivacy", "attack", model, "--images", "1", "--restarts", "1", "--iterations", "2", "-o", report])
    assert outcome.code == 0, outcome.err
    data = json.loads(report.read_text())
    assert data["guess"] == "none" and data["noise_randomness"]["insecure_seed"] is None


def test_attack_without_keystore_fails_loudly(trained, tmp_path, cli):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(trained, copy)
    (copy / "keystore-client0.safetensors").unlink()
    report = tmp_path / "attack.json"
    outcome = cli(["bayesprivacy", "attack", copy, "--images", "1", "-o", report])
    assert outcome.code == 2 and "keystore" in outcome.err and "never re-drawn" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1 and not report.exists()


def test_cli_choices_match_the_library():
    from tenfold.bayesprivacy.attacks import GUESSES
    from tenfold.bayesprivacy.fedavg import DEFENCES

    assert bayes_cli.DEFENCES == DEFENCES and set(bayes_cli.PASSPORT_GUESSES) == set(GUESSES) - {"none"}
