import json

import numpy as np
import pytest
from PIL import Image

from tenfold.cli import main
from tenfold.cpt.synth import grounding_items


def run_cli(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["cpt", *args])
    return exit_info.value.code


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Tiny pre-trained weights, one image with boxes, and JSONL pools written by the test."""
    folder = tmp_path_factory.mktemp("cpt_cli")
    items = grounding_items(6, seed=11)
    records = []
    for index, item in enumerate(items):
        Image.fromarray(np.round(item.scene.image * 255).astype(np.uint8)).save(folder / f"scene{index}.png")
        records.append({"image": f"scene{index}.png", "boxes": item.proposals.tolist(), "query": item.query,
                        "target": item.target_box.tolist()})
    (folder / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in records[:4]))
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in records[4:]))
    (folder / "boxes.json").write_text(json.dumps({"boxes": records[0]["boxes"], "tags": items[0].tags}))
    return folder, items


def test_pretrain_then_ground(workspace, tmp_path, monkeypatch, capsys):
    folder, items = workspace
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path / "cache"))
    weights = folder / "tiny.safetensors"
    assert run_cli(["pretrain", "--steps", "3", "--scenes", "32", "--out", str(weights)]) == 0
    assert weights.is_file()
    out = tmp_path / "scores.json"
    code = run_cli(["ground", str(folder / "scene0.png"), "--boxes", str(folder / "boxes.json"), "--query",
                    items[0].query, "--weights", str(weights), "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert len(result["scores"]) == len(items[0].proposals)
    assert sum(result["probabilities"]) == pytest.approx(1.0)
    assert "best proposal" in capsys.readouterr().out


@pytest.mark.parametrize(
    "boxes_text, extra, message",
    [
        ("[]", [], "empty"),
        ("[[5, 5, 2, 9]]", [], "degenerate"),
        ("not json", [], "not valid JSON"),
        ("[[0, 0, 4, 4], [5, 5, 9, 9]]", ["--alpha", "2"], "alpha"),
        ("[[0, 0, 4, 4], [5, 5, 9, 9]]", ["--color", "crimson:1,2,3"], "single known token"),
    ],
)
def test_ground_bad_inputs_exit_2_with_one_line(workspace, tmp_path, capsys, boxes_text, extra, message):
    folder, _ = workspace
    boxes = tmp_path / "boxes.json"
    boxes.write_text(boxes_text)
    out = tmp_path / "scores.json"
    code = run_cli(["ground", str(folder / "scene0.png"), "--boxes", str(boxes), "--query", "the circle",
                    "--weights", str(folder / "tiny.safetensors"), "--out", str(out), *extra])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.startswith("error:") and "\n" not in error and message in error
    assert not out.exists()


def test_fewshot_on_user_files_and_bad_k(workspace, tmp_path, capsys):
    folder, _ = workspace
    out = tmp_path / "few.json"
    args = ["fewshot", "--train", str(folder / "pool.jsonl"), "--test", str(folder / "test.jsonl"), "--seeds", "2",
            "--steps", "2", "--weights", str(folder / "tiny.safetensors"), "--out", str(out)]
    assert run_cli([*args, "--shots", "1,2"]) == 0
    summary = json.loads(out.read_text())
    assert set(summary["accuracy"]["cpt"]) == {"1", "2"} and len(summary["accuracy"]["finetune"]["2"]) == 2
    assert out.with_suffix(".md").is_file()
    bad = tmp_path / "bad.json"
    capsys.readouterr()
    assert run_cli([*args[:-1], str(bad), "--shots", "1,9"]) == 2
    assert "larger than the pool" in capsys.readouterr().err and not bad.exists()


def test_colors_command_and_bad_word(workspace, tmp_path, capsys):
    folder, _ = workspace
    out = tmp_path / "colors.json"
    weights = str(folder / "tiny.safetensors")
    assert run_cli(["colors", "--levels", "2", "--words", "red,pink", "--weights", weights, "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["word"] for r in rows} == {"red", "pink"} and all(0 <= r["probability"] <= 1 for r in rows)
    capsys.readouterr()
    assert run_cli(["colors", "--words", "red,dark red", "--weights", weights, "--out", str(tmp_path / "x.json")]) == 2
    assert "dark red" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


def test_missing_weights_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path))
    assert run_cli(["colors", "--levels", "2"]) == 2
    assert "cpt pretrain" in capsys.readouterr().err
