"""Per-format adapters: how a prediction record is checked and how a dataset's metrics are computed.

Every record carries an ``id`` (CUGE's originals use ``qid``/``index`` in some sets; the mini build
normalises them to ``id``). Each adapter names its prediction field, validates one prediction against
the public input, and scores a complete list of predictions against the private gold file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenfold.cuge import metrics
from tenfold.cuge.jsonl import SubmissionError

NER_TYPES = ("PER", "LOC", "ORG")

Record = dict[str, Any]


def split_words(value: str) -> list[str]:
    return [w for w in value.split(" ") if w]


def split_tagged(value: str) -> list[tuple[str, str]]:
    pairs = []
    for token in split_words(value):
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise SubmissionError(f"token {token!r} is not word/TAG")
        pairs.append((word, tag))
    return pairs


def _cjk_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum("\u4e00" <= c <= "\u9fff" for c in chars) / len(chars) if chars else 0.0


@dataclass(frozen=True)
class Adapter:
    """One dataset format: the prediction field, a per-record check and a scorer."""

    name: str
    field: str
    check: Callable[[Any, Record], str | None]  # returns a problem or None
    score: Callable[[list[Record], list[Record]], dict[str, float]]  # (predictions, gold) in gold order
    empty_is_warning: bool = False


def _is_str(value: Any, public: Record) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {type(value).__name__}"


def _check_words(value: Any, public: Record) -> str | None:
    if not isinstance(value, str):
        return f"expected a space-separated string, got {type(value).__name__}"
    if "".join(split_words(value)) != public["text"]:
        return "the words do not re-concatenate to the input text"
    return None


def _check_tagged(value: Any, public: Record) -> str | None:
    if not isinstance(value, str):
        return f"expected 'word/TAG word/TAG', got {type(value).__name__}"
    try:
        pairs = split_tagged(value)
    except SubmissionError as error:
        return str(error)
    if "".join(w for w, _ in pairs) != public["text"]:
        return "the words do not re-concatenate to the input text"
    return None


def _check_entities(value: Any, public: Record) -> str | None:
    if not isinstance(value, list):
        return "entities must be a list of {start, end, type}"
    n = len(public["text"])
    for e in value:
        if not isinstance(e, dict) or not all(k in e for k in ("start", "end", "type")):
            return "each entity needs start, end and type"
        s, t = e["start"], e["end"]
        if not (isinstance(s, int) and isinstance(t, int)) or isinstance(s, bool) or isinstance(t, bool):
            return "entity offsets must be integers"
        if not 0 <= s < t <= n:
            return f"entity [{s}, {t}) is outside the text (length {n}) or has end <= start (end is exclusive)"
        if e["type"] not in NER_TYPES:
            return f"entity type {e['type']!r} is not one of {', '.join(NER_TYPES)}"
    return None


def _check_choice(value: Any, public: Record) -> str | None:
    if not isinstance(value, str) or value not in public["choice"]:
        return "answer must be the text of one of the record's choices"
    return None


def _check_label(value: Any, public: Record) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value not in (0, 1):
        return "label must be the integer 0 or 1"
    return None


def _check_scores(value: Any, public: Record) -> str | None:
    if not isinstance(value, dict):
        return "scores must map every docid to a number"
    expected = {d["docid"] for d in public["docs"]}
    if set(value) != expected:
        missing = sorted(expected - set(value))[:10]
        extra = sorted(set(value) - expected)[:10]
        return f"scores must cover exactly the query's docids (missing {missing}, extra {extra})"
    for docid, s in value.items():
        if not isinstance(s, int | float) or isinstance(s, bool):
            return f"score of {docid!r} is not a number"
        try:
            finite = math.isfinite(float(s))
        except OverflowError:  # an integer with hundreds of digits has no float value
            finite = False
        if not finite:
            return f"score of {docid!r} is not a finite number (NaN/inf and integers beyond float range are refused)"
    return None


def _check_option_index(value: Any, public: Record) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(public.get("choices", [])):
        return f"answer must be an integer option index 0-{len(public.get('choices', [])) - 1}"
    return None


def _check_equation(value: Any, public: Record) -> str | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return "equation must be a string such as 'x=3*(4+5)' or a number"
    return None


def _score_seg(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    prf = metrics.segmentation_prf([split_words(p["words"]) for p in pred], [split_words(g["words"]) for g in gold])
    return {"seg_f1": prf["f1"], "precision": prf["precision"], "recall": prf["recall"]}


def _score_pos(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    prf = metrics.tagging_prf([split_tagged(p["tokens"]) for p in pred], [split_tagged(g["tokens"]) for g in gold])
    return {"pos_f1": prf["f1"], "precision": prf["precision"], "recall": prf["recall"]}


def _entities(record: Record) -> list[tuple[int, int, str]]:
    return [(e["start"], e["end"], e["type"]) for e in record["entities"]]


def _score_ner(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    prf = metrics.entity_prf([_entities(p) for p in pred], [_entities(g) for g in gold])
    return {"ner_f1": prf["f1"], "precision": prf["precision"], "recall": prf["recall"]}


def _score_choice(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    return {"accuracy": metrics.accuracy([p["answer"] for p in pred], [g["answer"] for g in gold])}


def _score_option_index(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    return {"accuracy": metrics.accuracy([p["answer"] for p in pred], [g["answer"] for g in gold])}


def _score_binary(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    p, g = [r["label"] for r in pred], [r["label"] for r in gold]
    return {"f1": metrics.binary_f1(p, g), "accuracy": metrics.accuracy(p, g)}


def _score_ranking(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    rels = [[d["rel"] for d in g["docs"]] for g in gold]
    scores = [[p["scores"][d["docid"]] for d in g["docs"]] for p, g in zip(pred, gold, strict=True)]
    out: dict[str, float] = {}
    for k in (1, 5, 10):
        out[f"ndcg@{k}"], skipped = metrics.ndcg(rels, scores, k=k)
    out["skipped_queries"] = float(skipped)
    return out


def _score_summary(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    return metrics.rouge([p["summary"] for p in pred], [g["summary"] for g in gold])


def _score_response(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    hyps = [p["response"] for p in pred]
    return {"bleu4": metrics.bleu4(hyps, [g["response"] for g in gold]),
            "distinct_1": metrics.distinct(hyps, 1), "distinct_2": metrics.distinct(hyps, 2)}


def _score_translation(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    hyps = [p["target"] for p in pred]
    cjk = sum(_cjk_ratio(h) for h in hyps) / max(len(hyps), 1)
    return {"bleu4": metrics.bleu4(hyps, [g["target"] for g in gold]), "prediction_cjk_ratio": 100 * cjk}


def _score_math(pred: list[Record], gold: list[Record]) -> dict[str, float]:
    # Math23K gold files carry only the equation; its value is the answer.
    answers = [g["ans"] if "ans" in g else metrics.safe_arithmetic(g["equation"]) for g in gold]
    return {"math_accuracy": metrics.math_accuracy([str(p["equation"]) for p in pred],
                                                   [float("nan") if a is None else a for a in answers])}


ADAPTERS: dict[str, Adapter] = {
    "segmentation": Adapter("segmentation", "words", _check_words, _score_seg),
    "segpos": Adapter("segpos", "tokens", _check_tagged, _score_pos),
    "ner": Adapter("ner", "entities", _check_entities, _score_ner),
    "choice": Adapter("choice", "answer", _check_choice, _score_choice),
    "option_index": Adapter("option_index", "answer", _check_option_index, _score_option_index),
    "binary": Adapter("binary", "label", _check_label, _score_binary),
    "ranking": Adapter("ranking", "scores", _check_scores, _score_ranking),
    "summary": Adapter("summary", "summary", _is_str, _score_summary, empty_is_warning=True),
    "response": Adapter("response", "response", _is_str, _score_response, empty_is_warning=True),
    "translation": Adapter("translation", "target", _is_str, _score_translation, empty_is_warning=True),
    "math": Adapter("math", "equation", _check_equation, _score_math),
}


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among non-space characters (detects reversed source/target fields)."""
    return _cjk_ratio(text)
