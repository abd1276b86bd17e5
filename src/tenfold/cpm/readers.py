"""Reading the user's files for the cpm commands: text for pre-training, LCQMC-style pair jsonl, token arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError, MissingDataError
from tenfold.cpm.tasks import PairData, to_field


def _existing(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{what} {path} does not exist")
    return path


def read_texts(path: Path) -> list[str]:
    """A .jsonl file (one {"text": ...} per line) or a UTF-8 text file (documents split on blank lines)."""
    path = _existing(path, "text file")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text") from None
    if path.suffix == ".jsonl":
        texts = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                texts.append(str(record["text"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise BadInputError(f"{path} line {number}: expected a JSON object with a 'text' field") from None
    else:
        texts = [t.strip() for t in raw.split("\n\n") if t.strip()]
    if not texts:
        raise BadInputError(f"{path} holds no text")
    return texts


def read_pairs(path: Path, *, width: int = 25, require_labels: bool = True) -> tuple[PairData, list[dict]]:
    """LCQMC-style jsonl: {"sentence1": str, "sentence2": str, "label": 0|1}; fields cut/padded to ``width`` bytes."""
    path = _existing(path, "pair file")
    records, first, second, labels = [], [], [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            s1, s2 = str(record["sentence1"]), str(record["sentence2"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BadInputError(f"{path} line {number}: expected JSON with 'sentence1' and 'sentence2'") from None
        label = record.get("label")
        if label is None and require_labels:
            raise BadInputError(f"{path} line {number}: missing 'label' (0 or 1)")
        if label is not None and label not in (0, 1, "0", "1"):
            raise BadInputError(f"{path} line {number}: label {label!r} is not 0 or 1")
        records.append(record)
        first.append(to_field(s1.encode(), width))
        second.append(to_field(s2.encode(), width))
        labels.append(int(label) if label is not None else -1)
    if not records:
        raise BadInputError(f"{path} holds no pairs")
    return PairData(np.stack(first), np.stack(second), np.array(labels, dtype=np.int64)), records


def read_tokens(path: Path, d_model: int) -> np.ndarray:
    """A .npy float array [N, d_model] of token features for the offload engine."""
    path = _existing(path, "token file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise BadInputError(f"{path} is not a .npy array ({error})") from None
    if array.ndim != 2 or array.shape[1] != d_model:
        raise BadInputError(f"{path} has shape {array.shape}; expected [N, {d_model}] to match the experts")
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise BadInputError(f"{path} must hold finite floats")
    return array.astype(np.float32)
