"""Every `tenfold cpt` command refuses bad input before any work: exit 2, one named error line, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image

from tenfold.cpt import TinyVL, TinyVLConfig, Vocabulary
from tenfold.cpt.pretrain import save_weights
from tenfold.cpt.synth import grounding_items

COMMANDS = ("pretrain", "ground", "fewshot", "colors")

TINY = TinyVLConfig(len(Vocabulary()), hidden=16, layers=1, heads=2, ffn=32)


def _save_tiny(path, *, poison: bool = False, metadata: bool = True) -> None:
    torch.manual_seed(0)
    state = TinyVL(TINY).state_dict()
    if poison:
        first = next(name for name, tensor in state.items() if tensor.is_floating_point())
        state[first] = state[first].clone().fill_(float("nan"))
    save_weights(path, state, {"model_config": json.dumps(TINY.to_dict())} if metadata else {})


def _record(folder, index, item, **changes) -> dict:
    record = {"image": f"scene{index}.png", "boxes": item.proposals.tolist(), "query": item.query,
              "target": item.target_box.tolist()}
    record.update(changes)
    return record


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small valid inputs of every kind a cpt command reads, written by the test."""
    folder = tmp_path_factory.mktemp("cpt_bad_input")
    items = grounding_items(4, seed=5)
    for index, item in enumerate(items):
        Image.fromarray(np.round(item.scene.image * 255).astype(np.uint8)).save(folder / f"scene{index}.png")
    records = [_record(folder, i, item) for i, item in enumerate(items)]
    (folder / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in records[:2]))
    (folder / "test.jsonl").write_text(json.dumps(records[2]))
    (folder / "validation.jsonl").write_text(json.dumps(records[3]))
    (folder / "boxes.json").write_text(json.dumps({"boxes": records[0]["boxes"], "tags": items[0].tags}))
    _save_tiny(folder / "tiny.safetensors")
    return folder, items, records


def _valid(name: str, folder, out) -> list:
    weights = folder / "tiny.safetensors"
    return {
        "pretrain": ["cpt", "pretrain", "--steps", "3", "--scenes", "32", "--seed", "0", "-o", out / "w.safetensors"],
        "ground": ["cpt", "ground", folder / "scene0.png", "--boxes", folder / "boxes.json", "--query", "the circle",
                   "--alpha", "0.5", "--weights", weights, "-o", out / "scores.json"],
        "fewshot": ["cpt", "fewshot", "--train", folder / "pool.jsonl", "--test", folder / "test.jsonl", "--validation",
                    folder / "validation.jsonl", "--shots", "1", "--seeds", "1", "--pool-size", "400",
                    "--validation-size", "100", "--weights", weights,
                    "-o", out / "few.json"],
        "colors": ["cpt", "colors", "--levels", "2", "--alpha", "0.5", "--words", "red,pink", "--weights", weights,
                   "-o", out / "colors.json"],
    }[name]


def _standard_cases(bad_input, folder, out):
    weights = str(folder / "tiny.safetensors")
    return [
        *bad_input.cases(_valid("pretrain", folder, out), output=(out / "w.safetensors", "file"),
                         numbers={"--steps": ["0", "nan"], "--scenes": ["8"], "--seed": ["-1"]}),
        *bad_input.cases(_valid("ground", folder, out),
                         inputs={str(folder / "scene0.png"): ".png", str(folder / "boxes.json"): ".json",
                                 weights: ".safetensors"},
                         output=(out / "scores.json", "file"), numbers={"--alpha": ["nan", "0", "1.5"]}),
        *bad_input.cases(_valid("fewshot", folder, out),
                         inputs={str(folder / "pool.jsonl"): ".jsonl", str(folder / "test.jsonl"): ".jsonl",
                                 str(folder / "validation.jsonl"): ".jsonl", weights: ".safetensors"},
                         output=(out / "few.json", "file"),
                         numbers={"--seeds": ["0", "nan"], "--shots": ["0", "1,x", "99"],
                                  "--pool-size": ["0"], "--validation-size": ["-1"]}),
        *bad_input.cases(_valid("colors", folder, out), inputs={weights: ".safetensors"},
                         output=(out / "colors.json", "file"),
                         numbers={"--levels": ["1", "17"], "--alpha": ["inf", "0"]}),
    ]


def test_standard_bad_inputs(files, bad_input, tmp_path):
    folder, _, _ = files
    out = tmp_path / "out"
    out.mkdir()
    cases = _standard_cases(bad_input, folder, out)
    assert {c.argv[1] for c in cases} == set(COMMANDS)
    for case in cases:
        bad_input.check(case)


def _replace(argv: list, old, new) -> list:
    return [new if str(a) == str(old) else a for a in argv]


def test_method_specific_bad_inputs(files, bad_input, tmp_path):
    """Wrong shapes, NaN content, out-of-range boxes, poisoned weights, overlapping splits, wrong suffixes."""
    folder, items, records = files
    out = tmp_path / "out"
    out.mkdir()
    ground = _valid("ground", folder, out)
    fewshot = _valid("fewshot", folder, out)
    colors = _valid("colors", folder, out)
    scores, few, found = out / "scores.json", out / "few.json", out / "colors.json"

    def written(name: str, text: str):
        path = tmp_path / name
        path.write_text(text)
        return path

    nan_weights, bare_weights = tmp_path / "nan.safetensors", tmp_path / "bare.safetensors"
    _save_tiny(nan_weights, poison=True)
    _save_tiny(bare_weights, metadata=False)
    good = records[0]

    def pool_with(**changes):
        # beside the scene images, which the lines name relative to the file's folder
        path = folder / f"pool_{'_'.join(changes)}_{len(list(folder.glob('pool_*')))}.jsonl"
        path.write_text(json.dumps({**good, **changes}))
        return path

    boxes = folder / "boxes.json"
    cases = [
        ("boxes NaN", _replace(ground, boxes, written("b1.json", "[[0, 0, NaN, 4], [5, 5, 9, 9]]")), "NaN", scores),
        ("boxes wrong shape", _replace(ground, boxes, written("b2.json", "[[0, 0, 4], [5, 5, 9]]")), "shape", scores),
        ("boxes outside image", _replace(ground, boxes, written("b3.json", "[[100, 100, 120, 120], [0, 0, 4, 4]]")),
         "outside", scores),
        ("boxes degenerate", _replace(ground, boxes, written("b4.json", "[[5, 5, 2, 9], [0, 0, 4, 4]]")), "degenerate",
         scores),
        ("boxes not numbers", _replace(ground, boxes, written("b5.json", '[["a", 0, 4, 4]]')), "numeric", scores),
        ("tags count", _replace(ground, boxes, written("b7.json", json.dumps({"boxes": good["boxes"], "tags": ["circle"]}))),
         "tags", scores),
        ("boxes a string", _replace(ground, boxes, written("b8.json", '"boxes"')), "list of boxes", scores),
        ("weights with NaN", _replace(ground, folder / "tiny.safetensors", nan_weights), "NaN", scores),
        ("weights without TinyVL metadata", _replace(ground, folder / "tiny.safetensors", bare_weights), "TinyVL",
         scores),
        ("empty query", _replace(ground, "the circle", " "), "--query", scores),
        ("colour not a token", [*ground, "--color", "crimson:1,2,3"], "single known token", scores),
        ("colour channel > 255", [*ground, "--color", "red:300,0,0"], "--color", scores),
        ("unknown box format", [*ground, "--box-format", "cxcywh"], "--box-format", scores),
        ("scores not .json", _replace(ground, scores, out / "scores.txt"), ".json", out / "scores.txt"),
        ("pool box NaN", _replace(fewshot, folder / "pool.jsonl", pool_with(boxes=[[0, 0, float("nan"), 4]])), "NaN", few),
        ("pool box wrong shape", _replace(fewshot, folder / "pool.jsonl", pool_with(boxes=[[0, 0, 4]])), "shape", few),
        ("pool target outside", _replace(fewshot, folder / "pool.jsonl", pool_with(target=[90, 90, 99, 99])), "outside",
         few),
        ("pool missing key", _replace(fewshot, folder / "pool.jsonl", written("p.jsonl", json.dumps({"image": "x.png"}))),
         "needs image", few),
        ("pool empty query", _replace(fewshot, folder / "pool.jsonl", pool_with(query="")), "query", few),
        ("pool image missing", _replace(fewshot, folder / "pool.jsonl", pool_with(image="nowhere.png")), "nowhere.png",
         few),
        ("pool not JSON", _replace(fewshot, folder / "pool.jsonl", written("q.jsonl", "{not json")), "JSON", few),
        ("validation overlaps test", _replace(fewshot, folder / "validation.jsonl", folder / "test.jsonl"), "disjoint",
         few),
        ("words duplicated", _replace(colors, "red,pink", "red,red"), "duplicates", found),
        ("words empty", _replace(colors, "red,pink", " , "), "--words", found),
        ("word of two tokens", _replace(colors, "red,pink", "red,dark red"), "dark red", found),
    ]
    for name, argv, mention, output in cases:
        bad_input.check(SpecificCase(name, [str(a) for a in argv], (mention,), (output,)))


class SpecificCase(NamedTuple):
    """The fields ``bad_input.check`` reads, for cases beyond the standard table."""

    name: str
    argv: list[str]
    mentions: tuple[str, ...]
    absent: tuple[Path, ...]
