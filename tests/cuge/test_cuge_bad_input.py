"""Every ``tenfold cuge`` command refuses bad input in one ``error:`` line, exit 2, before any work and
without writing anything: the standard cases of tests/conftest.py plus CUGE's own hostile contents
(ids that are lists, nesting 100,000 deep, 5,000-digit integers, 401-digit ranking scores, NaN,
baseline files of the wrong shape, names that are not text, zips that lie)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenfold.cuge.registry import Registry
from tenfold.cuge.submission import score_submission

COMMANDS = ("validate", "score", "mini build", "mini run", "board", "table2", "serve")


@dataclass
class Case:
    """A bad invocation in the shape ``bad_input.check`` takes (tests/conftest.py)."""

    name: str
    argv: list
    mentions: tuple[str, ...]
    absent: tuple[Path, ...] = ()


@pytest.fixture
def files(tiny, tmp_path):
    """Valid inputs for every command: registry, data, a submission, a baseline score file, a store."""
    registry = Registry.load(tiny["registry"])
    record = score_submission(tiny["base"], tiny["data"], registry).to_json(registry)
    store = tmp_path / "store"
    store.mkdir()
    (store / "base.json").write_text(json.dumps(record), encoding="utf-8")
    mini_data = tmp_path / "mini_data"
    mini_data.mkdir()
    (mini_data / "manifest.json").write_text("{}", encoding="utf-8")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    return {**tiny, "store": store, "baseline": store / "base.json", "record": record, "mini_data": mini_data,
            "score_out": outputs / "score.json", "site": outputs / "site", "build": outputs / "build",
            "work": outputs / "work"}


def _valid(f: dict) -> dict[str, list]:
    reg = ["--registry", f["registry"]]
    return {
        "validate": ["cuge", "validate", f["base"], "--data", f["data"], *reg],
        "score": ["cuge", "score", f["base"], "--data", f["data"], *reg, "--baseline", f["baseline"], "-o", f["score_out"]],
        "mini build": ["cuge", "mini", "build", "-o", f["build"], "--size", "smoke", "--seed", "0"],
        "mini run": ["cuge", "mini", "run", "--data", f["mini_data"], "-o", f["work"], "--systems", "mini-small", "--seed", "0"],
        "board": ["cuge", "board", "-o", f["site"], "--scores", f["store"], *reg],
        "table2": ["cuge", "table2", "--mode", "ratio_of_sums"],
        "serve": ["cuge", "serve", "--scores", f["store"], "--data", f["data"], "--port", "8000", *reg],
    }


def _standard_cases(bad_input, f):
    valid = _valid(f)
    reg = {str(f["registry"]): ".json"}
    return {
        "validate": bad_input.cases(valid["validate"], inputs={str(f["base"]): "", str(f["data"]): "", **reg}),
        "score": bad_input.cases(valid["score"], inputs={str(f["base"]): "", str(f["data"]): "", **reg,
                                                         str(f["baseline"]): ".json"},
                                 output=(f["score_out"], "file")),
        "mini build": bad_input.cases(valid["mini build"], output=(f["build"], "directory"),
                                      numbers={"--seed": ["nan", "-1", "99999999999"]}),
        "mini run": bad_input.cases(valid["mini run"], inputs={str(f["mini_data"]): ""}, output=(f["work"], "directory"),
                                    numbers={"--seed": ["inf", "-3"]}),
        "board": bad_input.cases(valid["board"], inputs={str(f["store"]): "", **reg}, output=(f["site"], "directory")),
        "table2": [],
        "serve": bad_input.cases(valid["serve"], inputs={str(f["store"]): "", str(f["data"]): "", **reg},
                                 numbers={"--port": ["nan", "0", "70000", "-5"]}),
    }


@pytest.fixture(autouse=True)
def never_serve(monkeypatch):
    """A serve case that slipped past its checks must fail the test, not block it."""
    import uvicorn

    def refuse(*args, **kwargs):
        raise AssertionError("serve started a server on bad input")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_every_command_has_a_valid_invocation_in_the_table(files, cli, monkeypatch):
    """The table's valid argv really is valid, so every bad case fails for the reason it names."""
    valid = _valid(files)
    assert set(valid) == set(COMMANDS)
    for command in ("validate", "score", "board", "table2"):
        outcome = cli(valid[command])
        assert outcome.code == 0, f"{command}: {outcome.err}"
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k))
    assert cli(valid["serve"]).code == 0 and started == [{"host": "127.0.0.1", "port": 8000}]


@pytest.mark.parametrize("command", COMMANDS)
def test_standard_bad_inputs(command, files, bad_input):
    cases = _standard_cases(bad_input, files)[command]
    for case in cases:
        bad_input.check(case)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _submission_with(f, tmp_path, name: str, line: str) -> Path:
    """The valid base submission with its MiniCloze.jsonl (or another file) replaced by ``line``."""
    import shutil

    folder = tmp_path / f"sub_{abs(hash((name, line))) % 10**8}"
    shutil.copytree(f["base"], folder)
    _write(folder / name, line + "\n")
    return folder


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, payload in members.items():
            bundle.writestr(name, payload)
    return path


def _lying_zip(path: Path, f) -> Path:
    """A zip whose central directory and local header claim a CRC the data does not have."""
    members = {p.name: p.read_bytes() for p in sorted(f["base"].iterdir())}
    _zip(path, members)
    data = bytearray(path.read_bytes())
    offset = data.index(b'{"id"')  # first byte of the first member's stored data
    data[offset + 2] ^= 0x20  # still valid bytes, wrong CRC
    path.write_bytes(bytes(data))
    return path


CONTENT_CASES = {
    # name: (how to build the submission argument, what the error must mention)
    "id is a list": (lambda f, t: _submission_with(f, t, "MiniCloze.jsonl", '{"id": ["q0"], "answer": "一二"}'), "'id'"),
    "id is a dict": (lambda f, t: _submission_with(f, t, "MiniCloze.jsonl", '{"id": {"a": 1}, "answer": "一二"}'), "'id'"),
    "nesting 100000 deep": (lambda f, t: _submission_with(f, t, "MiniCloze.jsonl", "[" * 100_000), "nested too deeply"),
    "5000-digit integer": (lambda f, t: _submission_with(f, t, "MiniCloze.jsonl", '{"id": ' + "7" * 5000 + "}"),
                           "out of range"),
    "401-digit ranking score": (lambda f, t: _submission_with(
        f, t, "MiniRetrieval.jsonl", "\n".join(json.dumps({"id": f"s{i}", "scores": {"a": 1, "b": 2}})[:-2]
                                              + ', "c": ' + "9" * 401 + "}}" for i in range(2))), "beyond float range"),
    "NaN ranking score": (lambda f, t: _submission_with(
        f, t, "MiniRetrieval.jsonl", "\n".join(f'{{"id": "s{i}", "scores": {{"a": NaN, "b": 1, "c": 0}}}}' for i in range(2))),
        "NaN"),
    "wrong field type": (lambda f, t: _submission_with(
        f, t, "MiniPolarity.jsonl", "\n".join(f'{{"id": "r{i}", "label": "1"}}' for i in range(4))), "integer 0 or 1"),
    "wrong record count": (lambda f, t: _submission_with(f, t, "MiniCloze.jsonl", '{"id": "q0", "answer": "一二"}'),
                           "1 records for 4"),
    "misspelled file": (lambda f, t: _submission_with(f, t, "Miniclose.jsonl", "{}"), "did you mean MiniCloze.jsonl"),
    "zip with a lying header": (lambda f, t: _lying_zip(t / "lying.zip", f), "cannot be read"),
    "zip with two files of one name": (lambda f, t: _zip(t / "twice.zip", {"a/MiniCloze.jsonl": b"{}\n", "b/MiniCloze.jsonl": b"{}\n"}),
                                       "both unpack to"),
    "not a zip": (lambda f, t: _write(t / "fake.zip", b"PK\x03\x04 not really"), "not a zip"),
    "metadata over 64 KiB": (lambda f, t: _submission_with(f, t, "metadata.json", json.dumps({"system": "x", "description": "d" * 70_000})),
                             "limit is 65536"),
    "metadata system of 300 characters": (lambda f, t: _submission_with(f, t, "metadata.json", json.dumps({"system": "s" * 300})),
                                          "limit is 100"),
    "metadata system with a lone surrogate": (lambda f, t: _submission_with(f, t, "metadata.json", '{"system": "a\\ud800b"}'),
                                              "not valid UTF-8"),
    "metadata system with a zero-width space": (lambda f, t: _submission_with(f, t, "metadata.json", '{"system": "mini\\u200blr"}'),
                                                "invisible"),
    "metadata is a list": (lambda f, t: _submission_with(f, t, "metadata.json", "[1, 2]"), "JSON object"),
}


@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
def test_hostile_submission_contents(case, files, bad_input, tmp_path):
    build, mention = CONTENT_CASES[case]
    submission = build(files, tmp_path)
    valid = _valid(files)
    for command in ("validate", "score"):
        argv = [submission if a == files["base"] else a for a in valid[command]]
        bad_input.check(Case(f"{command}: {case}", argv, (mention,), (files["score_out"],)))


def _score_file(tmp_path, name: str, text: str) -> Path:
    return _write(tmp_path / "bad_scores" / name, text)


def _raw(files, **changes) -> str:
    raw = {**files["record"]["raw"], **changes}
    return json.dumps({**files["record"], "raw": raw})


SCORE_FILE_CASES = {
    # a baseline or stored score file that is JSON of the wrong shape or holds impossible numbers
    "a list": (lambda f: "[1, 2, 3]", "no 'system'/'raw'"),
    "raw is a list": (lambda f: json.dumps({"system": "x", "raw": [1, 2]}), "'raw' must map"),
    "raw score is text": (lambda f: _raw(f, MiniCloze="high"), "not a number"),
    "raw score is NaN": (lambda f: _raw(f, MiniCloze=float("nan")), "[0, 100]"),
    "raw score above 100": (lambda f: _raw(f, MiniCloze=150.0), "[0, 100]"),
    "raw score of 401 digits": (lambda f: _raw(f, MiniCloze=10**400), "beyond float range"),
    "nesting 100000 deep": (lambda f: "[" * 100_000, "nested too deeply"),
    "system is a number": (lambda f: json.dumps({**f["record"], "system": 3}), "must be a string"),
}


@pytest.mark.parametrize("case", sorted(SCORE_FILE_CASES))
def test_bad_baseline_and_score_files(case, files, bad_input, tmp_path):
    make, mention = SCORE_FILE_CASES[case]
    bad = _score_file(tmp_path, "bad.json", make(files))
    valid = _valid(files)
    argv = [bad if a == files["baseline"] else a for a in valid["score"]]
    bad_input.check(Case(f"score --baseline: {case}", argv, (mention,), (files["score_out"],)))
    store = tmp_path / "bad_store"
    store.mkdir(exist_ok=True)
    (store / "base.json").write_text(json.dumps(files["record"]), encoding="utf-8")
    (store / "other.json").write_text(make(files), encoding="utf-8")
    argv = [store if a == files["store"] else a for a in valid["board"]]
    bad_input.check(Case(f"board --scores: {case}", argv, (mention,), (files["site"],)))


def test_two_score_files_with_one_system_name_are_refused(files, bad_input, tmp_path):
    """An impostor file naming an existing system must not silently replace that system's row."""
    store = tmp_path / "impostor_store"
    store.mkdir()
    (store / "base.json").write_text(json.dumps(files["record"]), encoding="utf-8")
    (store / "zz-impostor.json").write_text(json.dumps({**files["record"], "system": "Base"}), encoding="utf-8")
    argv = [store if a == files["store"] else a for a in _valid(files)["board"]]
    bad_input.check(Case("board: two files, one system", argv, ("both name the system",), (files["site"],)))


def test_names_and_paths_that_are_not_text(files, bad_input, tmp_path):
    valid = _valid(files)
    for name, system, mention in (("lone surrogate", "\udcff", "not valid UTF-8"), ("300 characters", "s" * 300, "limit is 100"),
                                  ("zero-width", "mini\u200blr", "invisible"), ("blank", "  ", "empty")):
        bad_input.check(Case(f"score --system {name}", [*valid["score"], "--system", system], (mention,), (files["score_out"],)))
    long_output = files["score_out"].parent / ("x" * 300 + ".json")
    before = sorted(long_output.parent.iterdir())
    bad_input.check(Case("output name too long", [long_output if a == files["score_out"] else a for a in valid["score"]],
                         ("longer than 255 bytes",)))
    assert sorted(long_output.parent.iterdir()) == before
    wrong_suffix = files["score_out"].with_suffix(".txt")
    bad_input.check(Case("output not .json", [wrong_suffix if a == files["score_out"] else a for a in valid["score"]],
                         (".json",), (wrong_suffix,)))


def test_option_values_out_of_range(files, bad_input, tmp_path):
    valid = _valid(files)
    other = tmp_path / "someone_elses"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    cases = [
        Case("unknown mode", [*valid["board"], "--mode", "median"], ("--mode",), (files["site"],)),
        Case("unknown mode (table2)", ["cuge", "table2", "--mode", "median"], ("--mode",)),
        Case("unknown selection", [*valid["score"], "--select", "cap:NOPE"], ("matches nothing",), (files["score_out"],)),
        Case("unknown size", [*valid["mini build"], "--size", "huge"], ("size",), (files["build"],)),
        Case("unknown system", [*valid["mini run"][:-4], "--systems", "mini-gpt", "--seed", "0"], ("--systems",), (files["work"],)),
        Case("a folder with other content", ["cuge", "board", "-o", other, "--scores", files["store"], "--registry", files["registry"]],
             ("other content",)),
        Case("a public host", [*valid["serve"], "--host", "0.0.0.0"], ("loopback",)),
        Case("registry of the wrong shape", [a if a != files["registry"] else _write(tmp_path / "r.json", "[1]") for a in valid["validate"]],
             ("JSON object",)),
        Case("registry with a bad chance level", [a if a != files["registry"] else _write(
            tmp_path / "r2.json", json.dumps({"name": "t", "version": "1", "capabilities": [{"code": "A", "tasks": [
                {"code": "a", "datasets": [{"name": "D", "metric": "f1", "chance": "high"}]}]}]})) for a in valid["validate"]],
             ("chance level",)),
    ]
    for case in cases:
        bad_input.check(case)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_a_zip_is_accepted_where_a_folder_is(files, cli, tmp_path):
    """The CLI takes a zip of a submission (it used to say 'folder does not exist')."""
    archive = _zip(tmp_path / "base.zip", {f"pred/{p.name}": p.read_bytes() for p in sorted(files["base"].iterdir())})
    outcome = cli(["cuge", "score", archive, "--data", files["data"], "--registry", files["registry"], "-o", tmp_path / "z.json"])
    assert outcome.code == 0, outcome.err
    stored = json.loads((tmp_path / "z.json").read_text(encoding="utf-8"))
    assert stored["raw"] == files["record"]["raw"] and stored["system"] == "base"


def test_mini_build_refuses_a_tenfold_folder_the_user_added_files_to_before_building(tmp_path, cli, monkeypatch):
    out = tmp_path / "mini"
    assert cli(["cuge", "mini", "build", "-o", str(out), "--size", "smoke"]).code == 0
    (out / "my-notes.txt").write_text("notes")

    def no_work(*args, **kwargs):
        raise AssertionError("the folder must be refused before building")

    monkeypatch.setattr("tenfold.cuge.mini.build.build_mini", no_work)
    outcome = cli(["cuge", "mini", "build", "-o", str(out), "--size", "smoke"])
    assert outcome.code == 2 and "my-notes.txt" in outcome.err
    assert (out / "my-notes.txt").read_text() == "notes"
