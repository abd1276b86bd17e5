"""Reading the user's files for the cpm commands: text for pre-training, LCQMC-style pair jsonl, token arrays.

Every malformed file (missing, empty, a folder, not UTF-8, not JSON, wrong shape, NaN) ends in one
named :class:`~tenfold.core.errors.TenfoldError` that says which option and file and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError
from tenfold.core.io import check_input_file, parse_json, read_npy
from tenfold.core.validation import check_array
from tenfold.cpm.tasks import PairData, to_field


def _label(option: str, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def _utf8_lines(path: Path, option: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise BadInputError(f"{_label(option, path)} is not UTF-8 text; save it as UTF-8") from None


def _json_object(line: str, path: Path, number: int, option: str, wanted: str) -> dict:
    try:
        record = parse_json(line)
    except BadInputError as error:
        raise BadInputError(f"{_label(option, path)} line {number}: {error}; expected {wanted}") from None
    if not isinstance(record, dict):
        raise BadInputError(f"{_label(option, path)} line {number}: expected {wanted}")
    return record


def read_texts(path: Path, *, option: str = "") -> list[str]:
    """A .jsonl file (one {"text": ...} per line) or a UTF-8 text file (documents split on blank lines)."""
    path = check_input_file(path, option=option, what="text file (.jsonl or UTF-8 text)")
    lines = _utf8_lines(path, option)
    if "\x00" in "".join(lines[:1000]):
        raise BadInputError(f"{_label(option, path)} holds NUL bytes; give UTF-8 text, not a binary file")
    if path.suffix.lower() == ".jsonl":
        texts = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = _json_object(line, path, number, option, "a JSON object with a 'text' field")
            if not isinstance(record.get("text"), str):
                raise BadInputError(f"{_label(option, path)} line {number}: expected a JSON object with a 'text' string")
            texts.append(record["text"])
    else:
        texts = [t.strip() for t in "\n".join(lines).split("\n\n") if t.strip()]
    if not any(texts):
        raise BadInputError(f"{_label(option, path)} holds no text")
    return texts


def read_pairs(path: Path, *, width: int = 25, require_labels: bool = True, option: str = "") -> tuple[PairData, list[dict]]:
    """LCQMC-style jsonl: {"sentence1": str, "sentence2": str, "label": 0|1}; fields cut/padded to ``width`` bytes."""
    path = check_input_file(path, option=option, what="pair file (.jsonl)")
    records, first, second, labels = [], [], [], []
    wanted = "a JSON object with 'sentence1' and 'sentence2' strings"
    for number, line in enumerate(_utf8_lines(path, option), 1):
        if not line.strip():
            continue
        record = _json_object(line, path, number, option, wanted)
        s1, s2 = record.get("sentence1"), record.get("sentence2")
        if not isinstance(s1, str) or not isinstance(s2, str):
            raise BadInputError(f"{_label(option, path)} line {number}: expected {wanted}")
        label = record.get("label")
        if label is None and require_labels:
            raise BadInputError(f"{_label(option, path)} line {number}: missing 'label' (0 or 1)")
        if label is not None and (isinstance(label, bool) or label not in (0, 1, "0", "1")):
            raise BadInputError(f"{_label(option, path)} line {number}: label {label!r} is not 0 or 1")
        records.append(record)
        first.append(to_field(s1.encode(), width))
        second.append(to_field(s2.encode(), width))
        labels.append(int(label) if label is not None else -1)
    if not records:
        raise BadInputError(f"{_label(option, path)} holds no pairs")
    return PairData(np.stack(first), np.stack(second), np.array(labels, dtype=np.int64)), records


def read_tokens(path: Path, d_model: int, *, option: str = "") -> np.ndarray:
    """A .npy float array [N, d_model] of finite token features for the offload engine."""
    array = read_npy(path, option=option)
    if not np.issubdtype(array.dtype, np.floating):
        raise BadInputError(f"{_label(option, Path(path))} has dtype {array.dtype}; give float token features")
    array = check_array(array, name=_label(option, Path(path)), shape=(None, d_model))
    return array.astype(np.float32)
