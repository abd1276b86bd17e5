"""The leaderboard web app (FastAPI): board JSON for any selection, zip upload, CSV export, the page.

Scores live as ``<store>/<name>.json`` files (the same files ``cuge score`` writes), so the web
board and the offline scorer can never disagree. Serve on 127.0.0.1 (``tenfold cuge serve``).

Uploads are hostile input: the body limit is enforced while the body streams in (not after it was
spooled), the zip and its metadata are checked by :mod:`tenfold.cuge.submission`, and scoring runs
in a worker thread so the board stays responsive while a submission scores.
"""

# No "from __future__ import annotations": FastAPI reads the endpoint annotations (UploadFile, imported
# inside create_app) at run time.

import hashlib
import json
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from tenfold.core.errors import TenfoldError
from tenfold.core.io import atomic_write_text
from tenfold.cuge.board import board_csv, build_leaderboard, load_scores
from tenfold.cuge.registry import Registry
from tenfold.cuge.site import render_page
from tenfold.cuge.submission import MAX_UNPACKED_BYTES, safe_extract_zip, score_submission, system_key

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Room for the multipart envelope (boundaries, part headers) around the uploaded file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class _BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` once a request body passes the limit."""


class BodyLimit:
    """ASGI middleware: answer 413 as soon as a request body is known to exceed ``limit`` bytes.

    A declared Content-Length over the limit is refused before a byte is read; a chunked body is
    counted as it arrives and refused at the first chunk past the limit, so nothing larger than the
    limit is ever received or spooled to disk.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": f"upload larger than {self.limit} bytes; the limit is {self.limit}"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive() -> dict[str, Any]:
            if state["over"]:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["over"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if state["over"]:
                return  # whatever the app answers to the aborted read, the client gets the 413 below
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._refuse(send)


def store_name(system: str) -> str:
    """A file name for a system's score file: readable, short and distinct for distinct names."""
    slug = SAFE_NAME.sub("_", system).strip("._")[:60] or "submission"
    digest = hashlib.sha256(system.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.json"


def create_app(store: str | Path, data_dir: str | Path, registry: Registry, *, baseline: str | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """A FastAPI app over a score store and the benchmark's private test data."""
    from fastapi import FastAPI, File, HTTPException, Query, UploadFile
    from fastapi.responses import HTMLResponse, PlainTextResponse
    from starlette.concurrency import run_in_threadpool

    store, data_dir = Path(store), Path(data_dir)
    app = FastAPI(title=f"{registry.name} leaderboard")
    app.add_middleware(BodyLimit, limit=max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    storing = threading.Lock()  # one name check + write at a time, so two uploads cannot take one name

    def board(select: str | None, mode: str, allow_partial: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            scores = load_scores(store)
            return build_leaderboard(scores, registry, baseline=baseline, mode=mode, selection=select or None,
                                     allow_partial=allow_partial), scores
        except TenfoldError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None

    @app.get("/api/board")
    def get_board(select: str | None = Query(None, description="labels, e.g. cap:NLU-DL,ds:MiniCloze"),
                  mode: str = "mean", allow_partial: bool = False) -> dict[str, Any]:
        return board(select, mode, allow_partial)[0]

    @app.get("/api/export.csv", response_class=PlainTextResponse)
    def export_csv(select: str | None = None, mode: str = "mean", allow_partial: bool = False) -> PlainTextResponse:
        return PlainTextResponse(board_csv(board(select, mode, allow_partial)[0]), media_type="text/csv")

    @app.get("/", response_class=HTMLResponse)
    def page(select: str | None = None, mode: str = "mean", allow_partial: bool = False) -> HTMLResponse:
        result, scores = board(select, mode, allow_partial)
        return HTMLResponse(render_page(result, scores, registry))

    def accept(upload: Any) -> dict[str, Any]:
        """Unpack, check, score and store one upload (runs in a worker thread)."""
        with tempfile.TemporaryDirectory(prefix="cuge-upload-") as temp:
            archive = Path(temp) / "upload.zip"
            with open(archive, "wb") as handle:
                shutil.copyfileobj(upload, handle, length=1024 * 1024)
            if archive.stat().st_size > max_upload_bytes:
                raise HTTPException(status_code=413, detail=f"upload larger than {max_upload_bytes} bytes")
            try:
                folder = safe_extract_zip(archive, Path(temp) / "submission", max_bytes=MAX_UNPACKED_BYTES)
                result = score_submission(folder, data_dir, registry, require_metadata=True)
            except TenfoldError as error:
                raise HTTPException(status_code=400, detail=str(error)) from None
        record = result.to_json(registry)
        with storing:
            try:
                existing = {system_key(s["system"]): s["system"] for s in load_scores(store)} if store.is_dir() else {}
            except TenfoldError as error:
                raise HTTPException(status_code=503, detail=f"the score store is damaged: {error}") from None
            taken = existing.get(system_key(result.system))
            if taken == result.system:
                raise HTTPException(status_code=409, detail=f"a submission named {result.system!r} already exists; "
                                                            f"choose another system name")
            if taken is not None:
                raise HTTPException(status_code=409, detail=f"the name {result.system!r} is too close to the existing "
                                                            f"system {taken!r} (names are compared ignoring case, width "
                                                            f"and spacing); choose another system name")
            atomic_write_text(store / store_name(result.system),
                              json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        return {"system": result.system, "raw": result.raw, "missing": result.missing, "warnings": result.warnings}

    @app.post("/api/submissions")
    async def submit(file: UploadFile = File(...)) -> dict[str, Any]:
        # Unpacking and scoring take seconds of CPU: off the event loop, so the board keeps answering.
        return await run_in_threadpool(accept, file.file)

    return app
