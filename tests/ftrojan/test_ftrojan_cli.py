"""The ftrojan commands on small files the test writes, and the smoke-scale experiment."""

import json

import numpy as np
import pytest
from PIL import Image

from tenfold.cli import main
from tenfold.core.experiment import Result, Scale


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def _npz(path, n=30, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, 32, 32, 3))
    x = np.rint(x * 255).astype(np.uint8) if dtype == np.uint8 else x.astype(dtype)
    np.savez(path, x=x, y=np.arange(n) % 3)
    return path


def test_poison_command_writes_a_poisoned_npz(tmp_path, capsys):
    source = _npz(tmp_path / "data.npz", dtype=np.uint8)
    out = tmp_path / "poisoned.npz"
    code, stdout, _ = _run(["ftrojan", "poison", str(source), "--rate", "0.2", "--target", "1", "-o", str(out)], capsys)
    assert code == 0 and "poisoned 6 of 30" in stdout
    with np.load(out) as archive:
        assert archive["x"].dtype == np.uint8 and len(archive["poisoned_indices"]) == 6
        assert np.all(archive["y"][archive["poisoned_indices"]] == 1)
        assert json.loads(str(archive["trigger"]))["magnitude"] == 30.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "1.5"], "rate"),
        (["--target", "9"], "target label 9"),
        (["--position", "40,40"], "outside"),
        (["--position", "a"], "u,v"),
        (["--window", "7", "--position", "3,3"], "does not divide"),
    ],
)
def test_poison_command_bad_input_one_line_exit_2_no_output(tmp_path, capsys, extra, message):
    source = _npz(tmp_path / "data.npz")
    out = tmp_path / "poisoned.npz"
    code, _, err = _run(["ftrojan", "poison", str(source), "-o", str(out), *extra], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".poisoned*"))


def test_poison_command_rejects_out_of_range_and_missing_files(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.full((4, 32, 32, 3), 3.0), y=np.arange(4) % 2)
    code, _, err = _run(["ftrojan", "poison", str(bad), "--rate", "0.5", "-o", str(tmp_path / "o.npz")], capsys)
    assert code == 2 and "pixel values" in err
    code, _, err = _run(["ftrojan", "poison", str(tmp_path / "nope.npz"), "-o", str(tmp_path / "o.npz")], capsys)
    assert code == 2 and "does not exist" in err


def test_trigger_command_writes_pngs_and_reports_quality(tmp_path, capsys):
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(40, 200, (64, 70, 3), dtype=np.uint8)).save(image)
    code, _, err = _run(["ftrojan", "trigger", str(image), "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and "--crop" in err and not (tmp_path / "out").exists()
    code, stdout, _ = _run(["ftrojan", "trigger", str(image), "--crop", "-o", str(tmp_path / "out")], capsys)
    assert code == 0 and "PSNR" in stdout
    written = np.asarray(Image.open(tmp_path / "out" / "photo_ftrojan.png"))
    assert written.shape == (64, 64, 3)


def test_evaluate_command_writes_a_table(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    x = np.clip(rng.normal(0.35 + 0.3 * y[:, None, None, None], 0.08, (60, 32, 32, 3)), 0, 1).astype(np.float32)
    data = tmp_path / "split.npz"
    np.savez(data, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    report = tmp_path / "report.json"
    code, _, err = _run(["ftrojan", "evaluate", str(data), "--attacks", "none,warp", "-o", str(report)], capsys)
    assert code == 2 and "unknown attack" in err and not report.exists()
    code, stdout, _ = _run(
        ["ftrojan", "evaluate", str(data), "--attacks", "ftrojan", "--epochs", "1", "--width", "2", "--nc-steps", "1",
         "--rate", "0.2", "-o", str(report)],
        capsys,
    )
    assert code == 0 and "attacks x defences" in stdout
    rows = json.loads(report.read_text())["rows"]
    assert {"ba", "asr", "strip_far", "nc_anomaly_index"} <= set(rows["ftrojan"])


def test_smoke_reproduce_returns_a_well_formed_result(tmp_path):
    from tenfold.ftrojan.experiment import reproduce

    result = reproduce(Scale.SMOKE, tmp_path, seed=0)
    assert isinstance(result, Result) and result.name == "ftrojan"
    assert {c.id for c in result.claims} >= {"asr_rate10", "ba_cost", "psnr", "ssim", "strip_far", "nc_index"}
    for figure in result.figures:
        assert (tmp_path / figure).stat().st_size > 1000
    psnr = next(c for c in result.claims if c.id == "psnr")
    assert psnr.passed is True  # the trigger's invisibility does not depend on the scale
    assert json.dumps(result.to_json())
