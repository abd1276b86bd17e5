"""The ftrojan commands on small files the test writes (bad input has its own table)."""

import json

import numpy as np
import pytest
from PIL import Image

from tenfold.cli import main


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
        ["ftrojan", "evaluate", str(data), "--attacks", "ftrojan", "--epochs", "1", "--width", "2", "--nc-epochs", "1",
         "--nc-samples", "32", "--rate", "0.2", "-o", str(report)],
        capsys,
    )
    assert code == 0 and "attacks x defences" in stdout
    rows = json.loads(report.read_text())["rows"]
    assert {"ba", "asr", "asr_flip", "target_rate", "strip_far", "nc_anomaly_index", "nc_target_index"} <= set(rows["ftrojan"])
    assert rows["ftrojan"]["nc_epochs"] == [1, 1]
