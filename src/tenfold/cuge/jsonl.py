"""The CUGE-style JSON-lines reader and writer.

CUGE ships one ``*.jsonl`` file per dataset split (train/valid/test_public/test_private) and expects
predictions in the same format. The reader refuses what platforms answer with "score 0" and no
reason: non-UTF-8 bytes, a byte-order mark, blank or non-JSON lines, nesting too deep to parse,
integers too long to convert (each named by file and line number).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadInputError, MissingDataError
from tenfold.core.io import atomic_write_text, parse_json


class SubmissionError(BadInputError):
    """A submission or data file is malformed; the message names the file, the line and the fix."""


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a UTF-8 JSON-lines file of objects; raises SubmissionError naming the bad line."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist or is not a file")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        raise SubmissionError(f"{path.name} starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SubmissionError(f"{path.name} line {line}: not UTF-8 (byte {error.start}); re-encode the file as UTF-8") from None
    records = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise SubmissionError(f"{path.name} line {number}: blank line; every line must hold one JSON object")
        try:
            record = parse_json(line)  # maps RecursionError and over-long integers to BadInputError
        except BadInputError as error:
            raise SubmissionError(f"{path.name} line {number}: {error}") from None
        if not isinstance(record, dict):
            raise SubmissionError(f"{path.name} line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return records


def dumps_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """Records as JSON lines (UTF-8 characters kept readable, keys in insertion order)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write records atomically (core.io: a temp file beside the target, then a rename)."""
    path = Path(path)
    atomic_write_text(path, dumps_jsonl(records))
    return path
