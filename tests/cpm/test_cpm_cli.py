"""The `tenfold cpm ...` commands on small files the tests write (bad input: test_cpm_bad_input.py)."""

import json

import numpy as np
import pytest

from tenfold.cli import main


def _run(args):
    with pytest.raises(SystemExit) as exit_info:
        main(["cpm", *args])
    return exit_info.value.code


def _bad(args, capsys, needle):
    assert _run(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpm_cli")
    text = root / "text.txt"
    text.write_text("\n\n".join(f"Return the value number {i} of the container, or raise KeyError." for i in range(30)))
    pairs = root / "pairs.jsonl"
    rows = [{"sentence1": f"Return item {i} now", "sentence2": f"Return item {i} now" if i % 2 else "Open a file",
             "label": i % 2} for i in range(16)]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root, text, pairs


TINY = ["--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--max-len", "64", "--seq-len", "16",
        "--batch-size", "4"]


def test_pretrain_ki_grow_and_offloaded_run(files, capsys):
    root, text, _ = files
    teacher, student = root / "teacher.safetensors", root / "student.safetensors"
    assert _run(["pretrain", "--text", str(text), "-o", str(teacher), "--steps", "3", *TINY]) == 0
    assert _run(["pretrain", "--text", str(text), "-o", str(student), "--steps", "4", "--teacher", str(teacher),
                 "--t-ki", "2", "--tau", "2", *TINY]) == 0
    assert teacher.is_file() and student.is_file()
    experts = root / "experts"
    assert _run(["grow-moe", "--model", str(student), "-o", str(experts), "--experts", "4"]) == 0
    tokens = root / "tokens.npy"
    np.save(tokens, np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32))
    out = root / "y.npy"
    assert _run(["infmoe", "run", "--experts", str(experts), "--input", str(tokens), "-o", str(out),
                 "--budget-mb", "0.02", "--check"]) == 0
    assert np.load(out).shape == (20, 16)
    assert "equal to resident" in capsys.readouterr().out
    # a folder that already holds files is never overwritten (the bad-input table has the other cases)
    _bad(["grow-moe", "--model", str(student), "-o", str(experts)], capsys, "not empty")


def test_prompt_tune_and_predict(files, capsys):
    root, text, pairs = files
    backbone = root / "backbone.safetensors"
    assert _run(["pretrain", "--text", str(text), "-o", str(backbone), "--steps", "2", *TINY]) == 0
    prompt = root / "prompt.safetensors"
    assert _run(["prompt-tune", "--backbone", str(backbone), "--train", str(pairs), "-o", str(prompt),
                 "--num-prompts", "4", "--positions", "0.5,0.5,0", "--steps", "3", "--batch-size", "8"]) == 0
    predictions = root / "pred.jsonl"
    assert _run(["prompt-predict", "--backbone", str(backbone), "--prompt", str(prompt), "--input", str(pairs),
                 "-o", str(predictions)]) == 0
    lines = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(lines) == 16 and all(r["prediction"] in (0, 1) for r in lines)
    other = root / "other.safetensors"
    assert _run(["pretrain", "--text", str(text), "-o", str(other), "--steps", "2", "--seed", "5", *TINY]) == 0
    capsys.readouterr()
    bad_pred = root / "bad_pred.jsonl"
    _bad(["prompt-predict", "--backbone", str(other), "--prompt", str(prompt), "--input", str(pairs),
          "-o", str(bad_pred)], capsys, "trained against backbone")
    assert not bad_pred.exists()


def test_infmoe_create_bench_and_corpus(tmp_path, capsys):
    stack = tmp_path / "stack"
    assert _run(["infmoe", "create", "-o", str(stack), "--layers", "1", "--experts", "3", "--d-model", "8",
                 "--d-ff", "16"]) == 0
    assert (stack / "layer0.safetensors").is_file()
    assert _run(["infmoe", "bench", "--experts", str(stack), "--tokens", "4,8", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "offloaded MoE" in out and "bitwise equal to resident: True" in out
    corpus = tmp_path / "corpus.jsonl"
    assert _run(["corpus", "-o", str(corpus)]) == 0
    first = json.loads(corpus.read_text().splitlines()[0])
    assert {"name", "module", "split", "text"} <= set(first)
