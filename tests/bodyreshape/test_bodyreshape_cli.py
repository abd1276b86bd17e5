"""`tenfold bodyreshape reshape | keypoints | train | evaluate` on small files the tests write."""

import json

import numpy as np
import pytest
from PIL import Image

from tenfold.bodyreshape.images import read_image_file
from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints, keypoints_to_json
from tenfold.cli import main


def _run(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["bodyreshape", *args])
    return exit_info.value.code


@pytest.fixture()
def photo(tmp_path):
    image = (fixture_image("camera")[::4, ::4] * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "camera.png")
    keypoints = fixture_keypoints("camera").copy()
    keypoints[:, :2] /= 4
    (tmp_path / "camera.json").write_text(keypoints_to_json(keypoints))
    return tmp_path / "camera.png", tmp_path / "camera.json"


def _one_error_line(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:")
    for word in words:
        assert word in err
    return err


def test_reshape_writes_an_image_and_a_flow(photo, tmp_path, capsys):
    image, keypoints = photo
    out, flow = tmp_path / "out.png", tmp_path / "flow.npy"
    assert _run(["reshape", str(image), "--keypoints", str(keypoints), "--degree", "0.8", "--torso", "1.0",
                 "--arms", "0.5", "-o", str(out), "--flow-out", str(flow)]) == 0
    printed = capsys.readouterr().out
    assert "ok: 1 person" in printed and "fold guard: not needed" in printed
    assert np.asarray(Image.open(out)).shape == (128, 128, 3)
    assert np.load(flow).shape == (128, 128, 2)


def test_reshape_reports_what_the_fold_guard_did(photo, tmp_path, capsys):
    image, keypoints = photo
    out = tmp_path / "out.png"
    assert _run(["reshape", str(image), "--keypoints", str(keypoints), "--strength", "1", "--degree", "2",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fold guard: flow scaled by" in printed and "so degree 2 acts as" in printed


def test_learned_method_works_out_of_the_box(photo, tmp_path, capsys):
    image, keypoints = photo
    out = tmp_path / "learned.png"
    assert _run(["reshape", str(image), "--keypoints", str(keypoints), "--method", "learned", "-o", str(out)]) == 0
    assert "ok: 1 person" in capsys.readouterr().out
    assert not np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(image)))


@pytest.mark.parametrize(
    "extra, words",
    [(["--degree", "3"], ["degree"]), (["--degree", "nan"], ["finite"]), (["--strength", "nan"], ["--strength"]),
     (["--method", "magic"], ["method"]), (["--detect"], ["either"])],
)
def test_reshape_bad_options_exit_2_without_output(photo, tmp_path, capsys, extra, words):
    image, keypoints = photo
    out = tmp_path / "out.png"
    assert _run(["reshape", str(image), "--keypoints", str(keypoints), "-o", str(out), *extra]) == 2
    _one_error_line(capsys, *words)
    assert not out.exists()


def test_reshape_bad_keypoints_and_images(photo, tmp_path, capsys):
    image, _ = photo
    out = tmp_path / "out.png"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[1, 2, 3]] * 17))
    assert _run(["reshape", str(image), "--keypoints", str(bad), "-o", str(out)]) == 2
    _one_error_line(capsys, "(18, 3)")
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps({"keypoints": [[float("nan"), 1, 1]] * 18}).replace("NaN", "NaN"))
    assert _run(["reshape", str(image), "--keypoints", str(nan), "-o", str(out)]) == 2
    _one_error_line(capsys, "NaN")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tiny)
    assert _run(["reshape", str(tiny), "--keypoints", str(photo[1]), "-o", str(out)]) == 2
    _one_error_line(capsys, "too small")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"no image here")
    assert _run(["reshape", str(garbage), "--keypoints", str(photo[1]), "-o", str(out)]) == 2
    _one_error_line(capsys, "readable")
    assert not out.exists()


def test_no_person_copies_the_input_and_strict_fails(photo, tmp_path, capsys):
    image, keypoints = photo
    rows = np.asarray(json.loads(keypoints.read_text())["keypoints"])
    rows[:, 2] = 0
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(rows.tolist()))
    out = tmp_path / "out.png"
    assert _run(["reshape", str(image), "--keypoints", str(empty), "-o", str(out)]) == 0
    assert "no_person" in capsys.readouterr().out
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(image)))
    out.unlink()
    assert _run(["reshape", str(image), "--keypoints", str(empty), "-o", str(out), "--strict"]) == 2
    _one_error_line(capsys, "no person")
    assert not out.exists()


def test_pose_commands_explain_the_optional_extra(photo, tmp_path, capsys):
    pytest.importorskip("cv2")
    try:
        import mediapipe  # noqa: F401

        pytest.skip("mediapipe is installed here")
    except ImportError:
        pass
    image, _ = photo
    assert _run(["keypoints", str(image), "-o", str(tmp_path / "k.json")]) == 2
    _one_error_line(capsys, "tenfold[pose]")
    assert not (tmp_path / "k.json").exists()
    assert _run(["reshape", str(image), "--detect", "-o", str(tmp_path / "o.png")]) == 2
    _one_error_line(capsys, "mediapipe")


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((40, 60, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "turned.jpg", exif=exif)
    assert read_image_file(tmp_path / "turned.jpg").shape == (60, 40, 3)


def test_train_evaluate_and_reshape_with_the_checkpoint(photo, tmp_path, capsys):
    checkpoint = tmp_path / "model.safetensors"
    assert _run(["train", "-o", str(checkpoint), "--pairs", "8", "--steps", "1", "--width", "2", "--net-size", "32",
                 "--size", "64", "--batch-size", "4"]) == 0
    assert checkpoint.exists()
    from tenfold.bodyreshape.training import read_checkpoint_metadata

    recipe = read_checkpoint_metadata(checkpoint)["extra"]["recipe"]
    assert json.loads((tmp_path / "model.recipe.json").read_text()) == recipe
    assert recipe["command"] == ("tenfold bodyreshape train -o model.safetensors --variant full --pairs 8 --steps 1 "
                                 "--width 2 --net-size 32 --size 64 --batch-size 4 --lr 0.001 --seed 0 --dtype float32")
    report = tmp_path / "eval.json"
    assert _run(["evaluate", "--checkpoint", str(checkpoint), "--pairs", "3", "--validation-pairs", "2",
                 "--json", str(report)]) == 0
    stored = json.loads(report.read_text())
    assert set(stored["rows"]) == {"zero", "capsule", "mls", "model"} and stored["rows"]["zero"]["epe"] > 0
    assert set(stored["baselines"]) == {"capsule", "mls"}
    image, keypoints = photo
    out = tmp_path / "learned.png"
    assert _run(["reshape", str(image), "--keypoints", str(keypoints), "--method", "learned", "--checkpoint",
                 str(checkpoint), "-o", str(out)]) == 0
    assert out.exists()
