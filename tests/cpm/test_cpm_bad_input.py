"""Bad input for every `tenfold cpm` command: one named `error:` line, exit 2, no traceback, nothing written.

Each command gets the standard cases (missing / empty / folder / wrong-format inputs, output below a file,
output of the wrong kind, NaN / inf / out-of-range numbers) from the ``bad_input`` fixture, plus its own:
wrong suffixes, expert folders that are files, empty or corrupt, token arrays of the wrong shape or with NaN,
an unavailable device, absurd sizes. Every case must fail before any work starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tenfold.cpm.prompt import PromptTuner
from tenfold.cpm.synthetic import create_expert_stack
from tenfold.cpm.tasks import PairData
from tenfold.cpm.transformer import ByteLM, LMConfig, save_lm

COMMANDS = (
    "corpus",
    "pretrain",
    "grow-moe",
    "prompt-tune",
    "prompt-predict",
    "infmoe create",
    "infmoe run",
    "infmoe bench",
)

D_MODEL = 8


@dataclass
class Case:
    """A method-specific bad invocation, checked by ``bad_input.check`` like the standard ones."""

    name: str
    argv: list[str]
    mentions: tuple[str, ...]
    absent: tuple[Path, ...] = ()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small valid inputs: a model, a prompt tuned on it, text, pairs, an expert stack and a token array."""
    root = tmp_path_factory.mktemp("cpm_bad_input")
    torch.manual_seed(0)
    model = ByteLM(LMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=64))
    save_lm(model, root / "model.safetensors")
    rng = np.random.default_rng(0)
    data = PairData(rng.integers(32, 127, (16, 6)), rng.integers(32, 127, (16, 6)), np.arange(16) % 2)
    PromptTuner(model, num_prompts=2, positions="F", steps=1, batch_size=4).fit(data).save(root / "prompt.safetensors")
    (root / "text.txt").write_text("\n\n".join(f"Return the value number {i} of the container." for i in range(20)))
    rows = [{"sentence1": f"Return item {i}", "sentence2": f"Open file {i}", "label": i % 2} for i in range(8)]
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    create_expert_stack(root / "stack", num_layers=1, num_experts=3, d_model=D_MODEL, d_ff=16)
    np.save(root / "tokens.npy", rng.standard_normal((5, D_MODEL)).astype(np.float32))
    (root / "out").mkdir()
    return root


def _run_all(bad_input, cases):
    assert cases
    for case in cases:
        bad_input.check(case)


def _expert_folder_cases(bad_input, valid, stack):
    """--experts is a folder: missing, a plain file, empty, or holding a damaged layer file."""
    empty = bad_input.root / "no_layers"
    empty.mkdir()
    damaged = bad_input.root / "damaged_stack"
    damaged.mkdir()
    (damaged / "layer0.safetensors").write_bytes(b"\x89PNG\r\n\x1a\n not safetensors \x00\xff" * 4)
    blank = bad_input.root / "blank_stack"
    blank.mkdir()
    (blank / "layer0.safetensors").write_bytes(b"")
    cases = []
    for name, path in (("missing", bad_input.missing()), ("a file", bad_input.plain_file), ("empty", empty),
                       ("damaged", damaged), ("blank layer file", blank)):
        argv = [str(path) if a == str(stack) else a for a in valid]
        cases.append(Case(f"--experts {name}", argv, (str(path),)))
    return cases


def _replace(valid, option, value):
    argv = list(valid)
    argv[argv.index(option) + 1] = value
    return argv


def test_corpus(bad_input, files):
    output = files / "out" / "corpus.jsonl"
    valid = ["cpm", "corpus", "-o", output]
    cases = bad_input.cases(valid, output=(output, "file"))
    cases.append(Case("wrong suffix", _replace([str(a) for a in valid], "-o", str(files / "out" / "c.txt")),
                      ("--output",), (files / "out" / "c.txt",)))
    _run_all(bad_input, cases)


def test_pretrain(bad_input, files):
    output = files / "out" / "student.safetensors"
    valid = ["cpm", "pretrain", "--text", files / "text.txt", "--teacher", files / "model.safetensors", "-o", output,
             "--steps", "2", "--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--seq-len", "16",
             "--batch-size", "2", "--lr", "0.001", "--tau", "1.0", "--t-ki", "1"]
    cases = bad_input.cases(
        valid, inputs={str(files / "text.txt"): ".txt", str(files / "model.safetensors"): ".safetensors"},
        output=(output, "file"),
        numbers={"--lr": ["nan", "inf", "-1", "0"], "--steps": ["0", "-3"], "--tau": ["nan", "0"],
                 "--layers": ["0"], "--d-model": ["0"], "--seq-len": ["0", "999"], "--batch-size": ["0"],
                 "--t-ki": ["0", "9"], "--heads": ["3"]},
    )
    strings = [str(a) for a in valid]
    text_output = files / "out" / "m.txt"
    cases.append(Case("model output named .txt", _replace(strings, "-o", str(text_output)), ("--output",),
                      (text_output,)))
    garbage_jsonl = bad_input.root / "garbage.jsonl"
    garbage_jsonl.write_text('{"text": "fine"}\n[1, 2]\n')
    cases.append(Case("jsonl line not an object", _replace(strings, "--text", str(garbage_jsonl)),
                      (str(garbage_jsonl),), (output,)))
    cases.append(Case("unknown schedule", [*strings, "--schedule", "cosine"], ("--schedule",), (output,)))
    _run_all(bad_input, cases)


def test_grow_moe(bad_input, files):
    output = files / "out" / "experts"
    valid = ["cpm", "grow-moe", "--model", files / "model.safetensors", "-o", output, "--experts", "2"]
    cases = bad_input.cases(valid, inputs={str(files / "model.safetensors"): ".safetensors"},
                            output=(output, "directory"), numbers={"--experts": ["0", "-1", "100000"]})
    strings = [str(a) for a in valid]
    cases.append(Case("unknown mix", [*strings, "--mix", "soft"], ("--mix",), (output,)))
    cases.append(Case("output folder not empty", _replace(strings, "-o", str(files)), ("not empty",)))
    _run_all(bad_input, cases)


def test_prompt_tune(bad_input, files):
    output = files / "out" / "prompt.safetensors"
    valid = ["cpm", "prompt-tune", "--backbone", files / "model.safetensors", "--train", files / "pairs.jsonl",
             "-o", output, "--num-prompts", "2", "--steps", "1", "--batch-size", "2", "--lr", "0.01",
             "--width", "6", "--positions", "F"]
    cases = bad_input.cases(
        valid, inputs={str(files / "model.safetensors"): ".safetensors", str(files / "pairs.jsonl"): ".jsonl"},
        output=(output, "file"),
        numbers={"--lr": ["nan", "-0.1"], "--steps": ["0"], "--num-prompts": ["0", "-2"], "--width": ["0"],
                 "--batch-size": ["0"], "--positions": ["0.5,nan,0.5", "0.5,x,0"]},
    )
    strings = [str(a) for a in valid]
    for name, line in (("label 3", '{"sentence1": "a", "sentence2": "b", "label": 3}'),
                       ("no sentence2", '{"sentence1": "a", "label": 1}'),
                       ("one label only", '{"sentence1": "a", "sentence2": "b", "label": 1}')):
        path = bad_input.root / f"{name.replace(' ', '_')}.jsonl"
        path.write_text(line + "\n")
        cases.append(Case(name, _replace(strings, "--train", str(path)), (str(path),), (output,)))
    cases.append(Case("ratios not summing to 1", _replace(strings, "--positions", "0.5,0.4,0"), ("sum to 1",),
                      (output,)))
    _run_all(bad_input, cases)


def test_prompt_predict(bad_input, files):
    output = files / "out" / "predictions.jsonl"
    valid = ["cpm", "prompt-predict", "--backbone", files / "model.safetensors", "--prompt",
             files / "prompt.safetensors", "--input", files / "pairs.jsonl", "-o", output, "--width", "6"]
    cases = bad_input.cases(
        valid,
        inputs={str(files / "model.safetensors"): ".safetensors", str(files / "prompt.safetensors"): ".safetensors",
                str(files / "pairs.jsonl"): ".jsonl"},
        output=(output, "file"), numbers={"--width": ["0", "-1"]},
    )
    strings = [str(a) for a in valid]
    # a model file given as the prompt: a readable safetensors file, but not a prompt checkpoint
    cases.append(Case("model as prompt", _replace(strings, "--prompt", str(files / "model.safetensors")),
                      ("--prompt",), (output,)))
    _run_all(bad_input, cases)


def test_infmoe_create(bad_input, files):
    output = files / "out" / "stack"
    valid = ["cpm", "infmoe", "create", "-o", output, "--layers", "1", "--experts", "2", "--d-model", "8",
             "--d-ff", "16"]
    cases = bad_input.cases(valid, output=(output, "directory"),
                            numbers={"--layers": ["0", "-1"], "--experts": ["0"], "--d-model": ["0", "nan"],
                                     "--d-ff": ["-4"]})
    strings = [str(a) for a in valid]
    huge = _replace(_replace(_replace(strings, "--experts", "4096"), "--d-model", "16384"), "--layers", "256")
    cases.append(Case("stack larger than the disk", huge, ("GB",), (output,)))
    _run_all(bad_input, cases)


def test_infmoe_run(bad_input, files):
    output = files / "out" / "y.npy"
    stack = files / "stack"
    valid = ["cpm", "infmoe", "run", "--experts", stack, "--input", files / "tokens.npy", "-o", output,
             "--budget-mb", "1", "--link-gbps", "1"]
    cases = bad_input.cases(valid, inputs={str(files / "tokens.npy"): ".npy"}, output=(output, "file"),
                            numbers={"--budget-mb": ["nan", "inf", "0", "-1", "0.0001"], "--link-gbps": ["nan", "0"]})
    strings = [str(a) for a in valid]
    cases += _expert_folder_cases(bad_input, strings, stack)
    for name, array in (("wrong width", np.zeros((4, D_MODEL + 1), np.float32)),
                        ("one dimension", np.zeros(D_MODEL, np.float32)),
                        ("NaN content", np.full((3, D_MODEL), np.nan, np.float32)),
                        ("integer tokens", np.zeros((3, D_MODEL), np.int64)),
                        ("no tokens", np.zeros((0, D_MODEL), np.float32))):
        path = bad_input.root / f"{name.replace(' ', '_')}.npy"
        np.save(path, array)
        cases.append(Case(name, _replace(strings, "--input", str(path)), (str(path),), (output,)))
    devices = ["cuda:99", "tpu", "banana"] + ([] if torch.cuda.is_available() else ["cuda"])
    for device in devices:
        cases.append(Case(f"device {device}", [*strings, "--device", device], (device,), (output,)))
    cases.append(Case("unknown schedule", [*strings, "--schedule", "greedy"], ("--schedule",), (output,)))
    _run_all(bad_input, cases)


def test_infmoe_bench(bad_input, files):
    stack = files / "stack"
    valid = ["cpm", "infmoe", "bench", "--experts", stack, "--tokens", "4", "--repeats", "1", "--slots", "2",
             "--zipf", "1.2", "--link-gbps", "1", "--no-accelerate"]
    cases = bad_input.cases(valid, numbers={"--repeats": ["0", "-1"], "--slots": ["0"], "--zipf": ["nan", "-1"],
                                            "--link-gbps": ["nan", "0"], "--tokens": ["4,x", "0", "-4"]})
    cases += _expert_folder_cases(bad_input, [str(a) for a in valid], stack)
    no_stack = ["cpm", "infmoe", "bench", "--tokens", "4", "--repeats", "1", "--no-accelerate"]
    cases.append(Case("synthetic stack with no experts", [*no_stack, "--num-experts", "0"], ("--num-experts",)))
    _run_all(bad_input, cases)
