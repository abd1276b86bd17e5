"""The leaderboard web app (FastAPI): board JSON for any selection, zip upload, CSV export, the page.

Scores live as ``<store>/<system>.json`` files (the same files ``cuge score`` writes), so the web
board and the offline scorer can never disagree. Serve on 127.0.0.1 (``tenfold cuge serve``).
"""


import json
import re
import tempfile
from pathlib import Path
from typing import Any

from tenfold.core.errors import TenfoldError
from tenfold.cuge.board import board_csv, build_leaderboard, load_scores
from tenfold.cuge.jsonl import write_text_atomic
from tenfold.cuge.registry import Registry
from tenfold.cuge.site import render_page
from tenfold.cuge.submission import MAX_UNPACKED_BYTES, safe_extract_zip, score_submission

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def create_app(store: str | Path, data_dir: str | Path, registry: Registry, *, baseline: str | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """A FastAPI app over a score store and the benchmark's private test data."""
    from fastapi import FastAPI, File, HTTPException, Query, UploadFile
    from fastapi.responses import HTMLResponse, PlainTextResponse

    store, data_dir = Path(store), Path(data_dir)
    app = FastAPI(title=f"{registry.name} leaderboard")

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
    def export_csv(select: str | None = None, mode: str = "mean") -> PlainTextResponse:
        return PlainTextResponse(board_csv(board(select, mode, False)[0]), media_type="text/csv")

    @app.get("/", response_class=HTMLResponse)
    def page(select: str | None = None, mode: str = "mean") -> HTMLResponse:
        result, scores = board(select, mode, False)
        return HTMLResponse(render_page(result, scores, registry))

    @app.post("/api/submissions")
    async def submit(file: UploadFile = File(...)) -> dict[str, Any]:
        payload = await file.read(max_upload_bytes + 1)
        if len(payload) > max_upload_bytes:
            raise HTTPException(status_code=413, detail=f"upload larger than {max_upload_bytes} bytes")
        with tempfile.TemporaryDirectory() as temp:
            archive = Path(temp) / "upload.zip"
            archive.write_bytes(payload)
            try:
                folder = safe_extract_zip(archive, Path(temp) / "submission", max_bytes=MAX_UNPACKED_BYTES)
                result = score_submission(folder, data_dir, registry, require_metadata=True)
            except TenfoldError as error:
                raise HTTPException(status_code=400, detail=str(error)) from None
        name = SAFE_NAME.sub("_", result.system).strip("._") or "submission"
        target = store / f"{name}.json"
        if target.exists():
            raise HTTPException(status_code=409, detail=f"a submission named {result.system!r} already exists")
        record = result.to_json(registry)
        write_text_atomic(target, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        return {"system": result.system, "raw": result.raw, "missing": result.missing, "warnings": result.warnings}

    return app
