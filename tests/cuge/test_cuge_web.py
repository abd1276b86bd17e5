"""Adversarial tests of the leaderboard site and web API: hostile names in the page and the CSV, an upload
limit enforced while the body streams, uploads that used to answer 500, name collisions, and a board
that keeps answering while a submission scores."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import zipfile

import pytest

from tenfold.cuge.board import board_csv, build_leaderboard, load_scores
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import round_half_up
from tenfold.cuge.site import render_page, script_json
from tenfold.cuge.submission import score_submission

HOSTILE = "<!--<script>"


@pytest.fixture
def store(tiny, tmp_path):
    registry = Registry.load(tiny["registry"])
    folder = tmp_path / "store"
    folder.mkdir()
    record = score_submission(tiny["base"], tiny["data"], registry).to_json(registry)
    (folder / "base.json").write_text(json.dumps(record), encoding="utf-8")
    return {"folder": folder, "registry": registry, "record": record}


def _client(tiny, store, **options):
    from fastapi.testclient import TestClient

    from tenfold.cuge.web import create_app

    app = create_app(store["folder"], tiny["data"], store["registry"], **options)
    return TestClient(app, base_url="http://127.0.0.1")


def _zip(folder, extra=None, prefix="pred/", compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, prefix + path.name)
        for name, payload in (extra or {}).items():
            bundle.writestr(name, payload)
    return buffer.getvalue()


def _upload(client, payload):
    return client.post("/api/submissions", files={"file": ("s.zip", payload, "application/zip")})


@pytest.fixture
def submission(tiny, make_submission):
    def make(name, system, **meta):
        return make_submission(tiny["root"] / "subs" / name, cloze=3, polarity=3, ranking=2, headline=0,
                               metadata={"system": system, "honour_code": True, **meta})

    return make


# --- the page -------------------------------------------------------------------------------------


def test_embedded_json_cannot_end_or_hide_the_script(store):
    """A name like '<!--<script>' used to switch the HTML parser into a state where the page's own
    </script> no longer closed the data block, so the recompute script never ran."""
    hostile = {**store["record"], "system": HOSTILE, "metadata": {"organisation": "</script><b>x</b>&amp;\u2028"}}
    scores = [store["record"], hostile]
    board = build_leaderboard(scores, store["registry"])
    html = render_page(board, scores, store["registry"])
    block = re.search(r'<script id="board-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    assert not set(block) & {"<", ">", "&", "\u2028", "\u2029"}
    data = json.loads(block)
    assert {s["system"] for s in data["systems"]} == {"base", HOSTILE}
    assert json.loads(script_json({"x": "a</script>\u2029"})) == {"x": "a</script>\u2029"}
    assert HOSTILE not in html  # everywhere else it is HTML-escaped text
    assert html.count("<script") == 2


def test_csv_export_neutralises_formulas(store):
    rows = [("=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)"), ("+1+2", "-3"), ("\uff1dcmd", "\tx"), ("plain", "org")]
    scores = [store["record"]] + [{**store["record"], "system": s, "metadata": {"organisation": o}} for s, o in rows]
    text = board_csv(build_leaderboard(scores, store["registry"]))
    import csv

    cells = [cell for line in csv.reader(io.StringIO(text)) for cell in line[1:3]]
    for system, organisation in rows[:3]:
        assert "'" + system in cells and "'" + organisation in cells
    assert "plain" in cells and "org" in cells
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\uff1d")) for c in cells)


def test_partial_row_shows_the_index_it_is_ranked_by(tiny, store, tmp_path, make_submission):
    registry = store["registry"]
    partial = make_submission(tmp_path / "partial", cloze=4, polarity=4, ranking=2, headline=None)
    record = score_submission(partial, tiny["data"], registry, system="partial").to_json(registry)
    board = build_leaderboard([store["record"], record], registry, allow_partial=True)
    row = next(r for r in board["rows"] if r["system"] == "partial")
    assert row["rank"] == 1 and row["index"] is None
    assert row["index_text"] == f"{round_half_up(row['partial_index'])} (partial)"
    assert build_leaderboard([store["record"], record], registry)["rows"][1]["index_text"] == "-"


def test_board_records_the_weights_the_page_must_use(store):
    board = build_leaderboard([store["record"]], store["registry"], weights={"MiniCloze": 5.0})
    assert board["weights"]["datasets"]["MiniCloze"] == 5.0 and board["weights"]["datasets"]["MiniPolarity"] == 3.0
    assert board["weights"]["capabilities"] == {"U": 2.0, "R": 1.0, "G": 1.0}


# --- uploads ----------------------------------------------------------------------------------------


def test_upload_limit_is_enforced_while_the_body_streams(tiny, store):
    """The limit used to be checked after the whole body was received and spooled (314 MB tested)."""
    import httpx

    from tenfold.cuge.web import MULTIPART_OVERHEAD_BYTES, create_app

    limit = 256 * 1024
    app = create_app(store["folder"], tiny["data"], store["registry"], max_upload_bytes=limit)
    chunk = b"x" * 65536
    offered = 40 * 1024 * 1024 // len(chunk)  # 40 MB on offer
    pulled = 0

    async def body():
        nonlocal pulled
        yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\n'
               b"Content-Type: application/zip\r\n\r\n")
        for _ in range(offered):
            pulled += 1
            yield chunk
        yield b"\r\n--b--\r\n"

    async def post():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post("/api/submissions", content=body(),
                                     headers={"content-type": "multipart/form-data; boundary=b"})

    response = asyncio.run(post())
    assert response.status_code == 413
    assert pulled * len(chunk) <= limit + MULTIPART_OVERHEAD_BYTES + 2 * len(chunk), f"read {pulled} chunks"
    assert not list(store["folder"].glob("*-*.json"))


def test_declared_oversize_body_is_refused_before_reading(tiny, store):
    from tenfold.cuge.web import BodyLimit

    reads = []

    async def app(scope, receive, send):  # pragma: no cover - must never run
        reads.append("app")

    async def receive():
        reads.append("body")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/submissions", "headers": [(b"content-length", b"999999999")]}
    asyncio.run(BodyLimit(app, 1000)(scope, receive, send))
    assert sent[0]["status"] == 413 and reads == []


@pytest.mark.parametrize("case, make, message", [
    ("lying CRC", "lying", "cannot be read"),
    ("lying local header", "bad local header", "cannot be read"),
    ("300-character system name", {"system": "s" * 300}, "limit is 100"),
    ("lone-surrogate system name", '{"system": "a\\ud800", "honour_code": true}', "not valid UTF-8"),
    ("bloated metadata", {"system": "big", "description": "d" * 3_000_000}, "limit is 65536"),
    ("two files of one name", "twice", "both unpack to"),
    ("not a zip", "junk", "not a readable zip"),
])
def test_uploads_that_used_to_answer_500(tiny, store, submission, case, make, message):
    client = _client(tiny, store)
    folder = submission("good", "ok-system")
    if make == "lying":  # a stored member whose bytes no longer match the CRC its headers declare
        payload = bytearray(_zip(folder, compression=zipfile.ZIP_STORED))
        payload[payload.index(b'{"id": "q1"') + 3] ^= 0x20
        payload = bytes(payload)
    elif make == "bad local header":  # the central directory points at something that is not a header
        payload = bytearray(_zip(folder))
        payload[0:4] = b"PK\x03\x05"
        payload = bytes(payload)
    elif make == "twice":
        payload = _zip(folder, {"other/MiniCloze.jsonl": (folder / "MiniCloze.jsonl").read_bytes()})
    elif make == "junk":
        payload = b"PK\x03\x04" + b"\x00" * 100
    else:
        text = make if isinstance(make, str) else json.dumps({"honour_code": True, **make})
        (folder / "metadata.json").write_text(text, encoding="utf-8")
        payload = _zip(folder)
    response = _upload(client, payload)
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
    assert sorted(p.name for p in store["folder"].iterdir()) == ["base.json"]


def test_metadata_unknown_fields_are_dropped_not_stored(tiny, store, submission):
    client = _client(tiny, store)
    folder = submission("extra", "extra-fields", blob={"nested": "x" * 1000}, organisation="lab")
    response = _upload(client, _zip(folder))
    assert response.status_code == 200, response.text
    assert any("ignored unknown field" in w for w in response.json()["warnings"])
    stored = next(p for p in store["folder"].iterdir() if p.name != "base.json")
    assert json.loads(stored.read_text(encoding="utf-8"))["metadata"] == {"system": "extra-fields", "honour_code": True,
                                                                          "organisation": "lab"}
    assert stored.stat().st_size < 20_000


def test_names_that_map_to_one_file_name_stay_distinct(tiny, store, submission):
    """'team/a' and 'team a' used to share team_a.json: the second upload got a 409 naming itself."""
    client = _client(tiny, store)
    first = _upload(client, _zip(submission("slash", "team/a")))
    second = _upload(client, _zip(submission("space", "team a")))
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    systems = {r["system"] for r in client.get("/api/board").json()["rows"]}
    assert {"team/a", "team a", "base"} == systems
    again = _upload(client, _zip(submission("again", "team a")))
    assert again.status_code == 409 and "'team a' already exists" in again.json()["detail"]
    close = _upload(client, _zip(submission("close", "TEAM  A")))
    assert close.status_code == 409 and "too close to the existing system 'team a'" in close.json()["detail"]
    impostor = _upload(client, _zip(submission("impostor", "Base")))
    assert impostor.status_code == 409
    assert {r["system"] for r in load_scores(store["folder"])} == {"team/a", "team a", "base"}


def test_the_board_answers_while_a_submission_scores(tiny, store, submission, monkeypatch):
    """Scoring used to run on the event loop: every other request waited for it."""
    import httpx

    import tenfold.cuge.web as web

    started, answered = threading.Event(), threading.Event()
    seen = {}
    real = web.score_submission

    def slow_score(*args, **kwargs):
        started.set()
        seen["board_answered_while_scoring"] = answered.wait(timeout=10)
        return real(*args, **kwargs)

    monkeypatch.setattr(web, "score_submission", slow_score)
    app = web.create_app(store["folder"], tiny["data"], store["registry"])
    payload = _zip(submission("slow", "slow-system"))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
            upload = asyncio.create_task(client.post("/api/submissions", files={"file": ("s.zip", payload, "application/zip")}))
            while not started.is_set() and not upload.done():
                await asyncio.sleep(0.01)
            board = await client.get("/api/board")
            if board.status_code == 200 and not upload.done():
                answered.set()
            return await upload

    response = asyncio.run(scenario())
    assert response.status_code == 200, response.text
    assert seen["board_answered_while_scoring"] is True
