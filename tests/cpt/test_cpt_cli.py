"""The cpt commands on small files the test writes: outputs written, tuning recorded, clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tenfold.cli import main
from tenfold.cpt import TinyVL, TinyVLConfig, Vocabulary
from tenfold.cpt.pretrain import load_weights, save_weights
from tenfold.cpt.synth import grounding_items


def run_cli(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["cpt", *args])
    return exit_info.value.code


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Tiny random weights, scene images with boxes, and JSONL pool/test/validation files."""
    folder = tmp_path_factory.mktemp("cpt_cli")
    items = grounding_items(8, seed=11)
    records = []
    for index, item in enumerate(items):
        Image.fromarray(np.round(item.scene.image * 255).astype(np.uint8)).save(folder / f"scene{index}.png")
        records.append({"image": f"scene{index}.png", "boxes": item.proposals.tolist(), "query": item.query,
                        "target": item.target_box.tolist()})
    (folder / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in records[:4]))
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in records[4:6]))
    (folder / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in records[6:]))
    (folder / "boxes.json").write_text(json.dumps({"boxes": records[0]["boxes"], "tags": items[0].tags}))
    config = TinyVLConfig(len(Vocabulary()), hidden=16, layers=1, heads=2, ffn=32)
    torch.manual_seed(0)
    save_weights(folder / "tiny.safetensors", TinyVL(config).state_dict(), {"model_config": json.dumps(config.to_dict())})
    return folder, items


def test_pretrain_writes_loadable_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "w.safetensors"
    assert run_cli(["pretrain", "--steps", "2", "--scenes", "32", "-o", str(weights)]) == 0
    model, metadata = load_weights(weights)
    assert metadata["steps"] == "2" and isinstance(model, TinyVL)
    assert "pre-trained 2 steps" in capsys.readouterr().out


def test_ground_writes_scores(workspace, tmp_path, capsys):
    folder, items = workspace
    out = tmp_path / "scores.json"
    code = run_cli(["ground", str(folder / "scene0.png"), "--boxes", str(folder / "boxes.json"), "--query",
                    items[0].query, "--weights", str(folder / "tiny.safetensors"), "--output", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert len(result["scores"]) == len(items[0].proposals)
    assert sum(result["probabilities"]) == pytest.approx(1.0)
    assert "best proposal" in capsys.readouterr().out


def test_fewshot_tunes_both_methods_on_validation(workspace, tmp_path, capsys):
    folder, _ = workspace
    out = tmp_path / "few.json"
    args = ["fewshot", "--train", str(folder / "pool.jsonl"), "--test", str(folder / "test.jsonl"), "--seeds", "2",
            "--cpt-steps", "1", "--finetune-steps", "1,2", "--finetune-lrs", "1e-4,1e-3",
            "--weights", str(folder / "tiny.safetensors"), "-o", str(out), "--shots", "1,2"]
    assert run_cli([*args, "--validation", str(folder / "validation.jsonl")]) == 0
    summary = json.loads(out.read_text())
    assert set(summary["accuracy"]["cpt"]) == {"1", "2"} and len(summary["accuracy"]["finetune"]["2"]) == 2
    assert len(summary["tuning"]["finetune"]["1"]) == 4 and len(summary["tuning"]["cpt"]["2"]) == 6
    assert summary["chosen"]["finetune"]["1"] in [{k: r[k] for k in ("body_lr", "head_lr", "steps")}
                                                  for r in summary["tuning"]["finetune"]["1"]]
    assert out.with_suffix(".md").is_file()
    capsys.readouterr()
    assert run_cli(args) == 0  # user files without --validation: the spec's defaults, and a warning says so
    assert "warning: no --validation file" in capsys.readouterr().err
    assert json.loads(out.read_text())["chosen"]["finetune"]["1"]["steps"] == 1


def test_colors_command(workspace, tmp_path):
    folder, _ = workspace
    out = tmp_path / "colors.json"
    weights = str(folder / "tiny.safetensors")
    assert run_cli(["colors", "--levels", "2", "--words", "red,pink", "--weights", weights, "-o", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["word"] for r in rows} == {"red", "pink"} and all(0 <= r["probability"] <= 1 for r in rows)


def test_missing_cached_backbone_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path))
    assert run_cli(["colors", "--levels", "2"]) == 2
    assert "cpt pretrain" in capsys.readouterr().err
