"""Every bodyreshape command refuses bad input in one named line, exit 2, before any work, writing nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tenfold.bodyreshape.flow_generator import FlowGenerator, GeneratorConfig
from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints, keypoints_to_json
from tenfold.bodyreshape.training import save_checkpoint

COMMANDS = ("reshape", "keypoints", "train", "evaluate")


@pytest.fixture
def files(tmp_path):
    """A 128 px photo with matching keypoints, a tiny checkpoint, and the outputs' folder."""
    photo = tmp_path / "photo.png"
    Image.fromarray((fixture_image("camera")[::4, ::4] * 255).astype(np.uint8)).save(photo)
    keypoints = fixture_keypoints("camera").copy()
    keypoints[:, :2] /= 4
    points = tmp_path / "points.json"
    points.write_text(keypoints_to_json(keypoints, image_size=(128, 128)))
    checkpoint = save_checkpoint(FlowGenerator(GeneratorConfig(width=2, input_size=32)), tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    out.mkdir()
    return {"photo": photo, "points": points, "keypoints": keypoints, "checkpoint": checkpoint, "out": out,
            "root": tmp_path}


def _reshape_cases(bad_input, f):
    output = f["out"] / "slim.png"
    valid = ["bodyreshape", "reshape", f["photo"], "--keypoints", f["points"], "-o", output, "--degree", "1",
             "--strength", "0.2", "--width-scale", "1.5", "--suppress-px", "0", "--torso", "1"]
    cases = bad_input.cases(
        valid, inputs={str(f["photo"]): ".png", str(f["points"]): ".json"}, output=(output, "file"),
        numbers={"--degree": ["nan", "inf", "-inf", "3"], "--strength": ["nan", "inf", "-0.1", "2"],
                 "--width-scale": ["nan", "0"], "--suppress-px": ["nan", "inf", "-1"], "--torso": ["nan", "5"]},
    )
    learned = ["bodyreshape", "reshape", f["photo"], "--keypoints", f["points"], "-o", output, "--method", "learned",
               "--checkpoint", f["checkpoint"]]
    cases += bad_input.cases(learned, inputs={str(f["checkpoint"]): ".safetensors"})

    def extra(name, argv, *mentions):
        cases.append(type(cases[0])(name, [str(a) for a in argv], mentions, (output,)))

    root = f["root"]
    rows = f["keypoints"].copy()
    rows[3, 0] = np.nan
    (root / "nan.json").write_text(json.dumps({"keypoints": rows.tolist()}))
    (root / "short.json").write_text(json.dumps({"keypoints": rows[:17].tolist()}))
    (root / "other_size.json").write_text(keypoints_to_json(f["keypoints"] * 4, image_size=(512, 512)))
    tiny = root / "tiny.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tiny)
    head = ["bodyreshape", "reshape", f["photo"], "-o", output]
    extra("keypoints with NaN", [*head, "--keypoints", root / "nan.json"], "NaN")
    extra("keypoints not 18 joints", [*head, "--keypoints", root / "short.json"], "(18, 3)")
    extra("keypoints for another image size", [*head, "--keypoints", root / "other_size.json"], "512x512")
    extra("image too small", ["bodyreshape", "reshape", tiny, "-o", output, "--keypoints", f["points"]], "too small")
    extra("liquify with NaN strength", [*head, "--keypoints", f["points"], "--method", "liquify", "--strength", "nan"],
          "--strength")
    extra("unknown method", [*head, "--keypoints", f["points"], "--method", "magic"], "--method")
    extra("checkpoint without learned", [*head, "--keypoints", f["points"], "--checkpoint", f["checkpoint"]],
          "--checkpoint")
    extra("neither keypoints nor detect", head, "--keypoints")
    extra("output not an image", ["bodyreshape", "reshape", f["photo"], "--keypoints", f["points"], "-o",
                                  f["out"] / "slim.txt"], ".png")
    extra("flow output not .npy", [*head, "--keypoints", f["points"], "--flow-out", f["out"] / "flow.txt"], ".npy")
    extra("flow output below a file", [*head, "--keypoints", f["points"], "--flow-out",
                                       bad_input.plain_file / "flow.npy"], "plain_file")
    return cases


def _keypoints_cases(bad_input, f):
    output = f["out"] / "points.json"
    valid = ["bodyreshape", "keypoints", f["photo"], "-o", output]
    cases = bad_input.cases(valid, inputs={str(f["photo"]): ".png"}, output=(output, "file"))
    cases.append(type(cases[0])("keypoints output not JSON", ["bodyreshape", "keypoints", str(f["photo"]), "-o",
                                                              str(f["out"] / "points.txt")], (".json",), (output,)))
    return cases


def _train_cases(bad_input, f):
    output = f["out"] / "model.safetensors"
    valid = ["bodyreshape", "train", "-o", output, "--pairs", "8", "--steps", "1", "--width", "2", "--net-size", "32",
             "--size", "64", "--batch-size", "4", "--lr", "0.001", "--seed", "0", "--variant", "full",
             "--dtype", "float32"]
    cases = bad_input.cases(
        valid, output=(output, "file"),
        numbers={"--width": ["0", "3", "1000", "nan"], "--batch-size": ["0", "9", "-1"], "--steps": ["0", "-5"],
                 "--pairs": ["0", "1000000000"], "--net-size": ["0", "40", "100000"], "--size": ["48", "100000"],
                 "--lr": ["nan", "inf", "0", "-0.1", "5"], "--seed": ["-1"], "--variant": ["bogus"],
                 "--dtype": ["int8"]},
    )
    cases.append(type(cases[0])("checkpoint not safetensors", [str(a) for a in valid[:3]] + [str(f["out"] / "m.pt")]
                                + [str(a) for a in valid[4:]], (".safetensors",), (output,)))
    cases.append(type(cases[0])("checkpoint dir is a file", [str(a) for a in valid] + ["--checkpoint-dir",
                                                                                       str(bad_input.plain_file)],
                                ("plain_file",), (output,)))
    return cases


def _evaluate_cases(bad_input, f):
    output = f["out"] / "scores.json"
    valid = ["bodyreshape", "evaluate", "--checkpoint", f["checkpoint"], "--pairs", "3", "--validation-pairs", "2",
             "--seed", "0", "--json", output]
    cases = bad_input.cases(
        valid, inputs={str(f["checkpoint"]): ".safetensors"}, output=(output, "file"),
        numbers={"--pairs": ["0", "nan", "100000"], "--validation-pairs": ["0"], "--seed": ["-3"]},
    )
    pickled = f["root"] / "model.pt"
    pickled.write_bytes(b"PK\x03\x04 a zip-pickled torch file is not read")
    argv = [str(a) for a in valid]
    argv[argv.index(str(f["checkpoint"]))] = str(pickled)
    cases.append(type(cases[0])("pickled checkpoint", argv, ("safetensors",), (output,)))
    return cases


BUILDERS = {"reshape": _reshape_cases, "keypoints": _keypoints_cases, "train": _train_cases,
            "evaluate": _evaluate_cases}


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_input_ends_in_one_named_line(command, bad_input, files):
    cases = BUILDERS[command](bad_input, files)
    assert len(cases) >= 5
    for case in cases:
        bad_input.check(case)
