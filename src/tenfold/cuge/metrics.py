"""The benchmark's metrics on a 0-100 scale, with the pitfalls of the usual libraries handled.

sacreBLEU needs ``tokenize="zh"`` for unsegmented Chinese ("13a" scores 0); rouge-score's default
tokenizer drops every CJK character, so a character tokenizer is passed in; ``ndcg_score`` raises on
one-document queries and gives 0 for all-zero relevance, so such queries are skipped and counted;
math answers are evaluated with an AST whitelist, never ``eval``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import unicodedata
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from tenfold.core.errors import BadInputError

METRIC_VERSION = "tenfold-cuge-metrics-1"


def metric_versions() -> dict[str, str]:
    """Versions of this module and of the libraries whose numbers enter the scores."""
    found = {"tenfold.cuge.metrics": METRIC_VERSION}
    for package in ("sacrebleu", "rouge-score", "scikit-learn"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            found[package] = "missing"
    return found


def _same_length(predictions: Sequence[Any], references: Sequence[Any], what: str) -> None:
    # sacreBLEU and friends silently score mismatched lists; we refuse instead.
    if len(predictions) != len(references):
        raise BadInputError(f"{what}: {len(predictions)} predictions for {len(references)} references")


def accuracy(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """Share of exact matches, x100."""
    _same_length(predictions, references, "accuracy")
    if not references:
        return 0.0
    return 100.0 * sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)


def binary_f1(predictions: Sequence[int], references: Sequence[int], positive: int = 1) -> float:
    """F1 of the positive class, x100; 0 when nothing is predicted positive (no division by zero)."""
    from sklearn.metrics import f1_score

    _same_length(predictions, references, "f1")
    if not references:
        return 0.0
    return 100.0 * float(f1_score(list(references), list(predictions), pos_label=positive, zero_division=0))


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1}


def word_spans(words: Sequence[str], text: str | None = None) -> list[tuple[int, int]]:
    """Character spans (end-exclusive) of a segmentation; checks it re-concatenates to ``text``."""
    if text is not None and "".join(words) != text:
        raise BadInputError(
            f"segmentation does not tile its text: {''.join(words)[:30]!r}... vs {text[:30]!r}..."
        )
    spans, start = [], 0
    for word in words:
        spans.append((start, start + len(word)))
        start += len(word)
    return spans


def segmentation_prf(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro P/R/F1 of word spans over sentences (the PKU-SEG scoring rule)."""
    _same_length(predicted, gold, "segmentation")
    correct = n_pred = n_gold = 0
    for p, g in zip(predicted, gold, strict=True):
        gold_spans = set(word_spans(g))
        pred_spans = set(word_spans(p, "".join(g)))
        correct += len(gold_spans & pred_spans)
        n_pred += len(pred_spans)
        n_gold += len(gold_spans)
    return _prf(correct, n_pred, n_gold)


def tagging_prf(predicted: Sequence[Sequence[tuple[str, str]]], gold: Sequence[Sequence[tuple[str, str]]]
                ) -> dict[str, float]:
    """Micro P/R/F1 of (span, tag) pairs: a token counts when both its boundaries and tag are right."""
    _same_length(predicted, gold, "seg+pos")
    correct = n_pred = n_gold = 0
    for p, g in zip(predicted, gold, strict=True):
        text = "".join(w for w, _ in g)
        gold_set = set(zip(word_spans([w for w, _ in g]), [t for _, t in g], strict=True))
        pred_set = set(zip(word_spans([w for w, _ in p], text), [t for _, t in p], strict=True))
        correct += len(gold_set & pred_set)
        n_pred += len(pred_set)
        n_gold += len(gold_set)
    return _prf(correct, n_pred, n_gold)


def entity_prf(predicted: Sequence[Sequence[tuple[int, int, str]]], gold: Sequence[Sequence[tuple[int, int, str]]]
               ) -> dict[str, float]:
    """Micro P/R/F1 of exact (start, end, type) entity spans."""
    _same_length(predicted, gold, "ner")
    correct = n_pred = n_gold = 0
    for p, g in zip(predicted, gold, strict=True):
        ps, gs = set(map(tuple, p)), set(map(tuple, g))
        correct += len(ps & gs)
        n_pred += len(ps)
        n_gold += len(gs)
    return _prf(correct, n_pred, n_gold)


def ndcg(relevances: Sequence[Sequence[float]], scores: Sequence[Sequence[float]], k: int = 10
         ) -> tuple[float, int]:
    """Mean nDCG@k x100 over queries (ties get averaged gains), and how many queries were skipped.

    Queries with fewer than two documents or no relevant document are skipped: sklearn raises on
    the first and scores the second 0, which would punish every system alike.
    """
    import numpy as np
    from sklearn.metrics import ndcg_score

    _same_length(scores, relevances, "ndcg")
    values, skipped = [], 0
    for rel, score in zip(relevances, scores, strict=True):
        if len(rel) != len(score):
            raise BadInputError(f"ndcg: a query has {len(score)} scores for {len(rel)} documents")
        score_array = np.asarray(score, dtype=float)
        if not np.all(np.isfinite(score_array)):
            raise BadInputError("ndcg: ranking scores contain NaN or inf")
        if len(rel) < 2 or max(rel) <= 0:
            skipped += 1
            continue
        values.append(ndcg_score([list(rel)], [score_array], k=k))
    return (100.0 * float(np.mean(values)) if values else 0.0), skipped


class CharTokenizer:
    """rouge-score tokenizer: one token per non-space character (its default drops CJK entirely)."""

    def tokenize(self, text: str) -> list[str]:
        return [c for c in unicodedata.normalize("NFKC", text) if not c.isspace()]


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 x100 on characters; an empty prediction scores 0."""
    from rouge_score import rouge_scorer

    _same_length(predictions, references, "rouge")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=CharTokenizer())
    totals = {"rouge_1": 0.0, "rouge_2": 0.0, "rouge_l": 0.0}
    for p, r in zip(predictions, references, strict=True):
        if not p.strip():
            continue
        s = scorer.score(r, p)
        totals["rouge_1"] += s["rouge1"].fmeasure
        totals["rouge_2"] += s["rouge2"].fmeasure
        totals["rouge_l"] += s["rougeL"].fmeasure
    n = max(len(references), 1)
    return {k: 100.0 * v / n for k, v in totals.items()}


def bleu4(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 with sacreBLEU's ``zh`` tokenizer (0-100)."""
    import sacrebleu

    _same_length(predictions, references, "bleu")
    if not references:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize="zh").score)


def distinct(predictions: Sequence[str], n: int) -> float:
    """Distinct-n x100: distinct character n-grams over all n-grams of all predictions."""
    grams: list[tuple[str, ...]] = []
    for p in predictions:
        chars = [c for c in p if not c.isspace()]
        grams.extend(tuple(chars[i:i + n]) for i in range(len(chars) - n + 1))
    return 100.0 * len(set(grams)) / len(grams) if grams else 0.0


# --- arithmetic answers -------------------------------------------------------------------------

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
MAX_EXPONENT = 64.0
MAX_EXPRESSION_CHARS = 500


def safe_arithmetic(expression: str) -> float | None:
    """Evaluate a Math23K-style expression (``x=(12+3)*50%``) with an AST whitelist.

    Returns None for anything that is not plain arithmetic, divides by zero, overflows or uses an
    exponent above 64: such answers are counted wrong, never crash the scorer.
    """
    text = unicodedata.normalize("NFKC", str(expression)).strip().replace("×", "*").replace("÷", "/")
    text = re.sub(r"^\s*x\s*=", "", text)
    text = _PERCENT.sub(r"(\1*0.01)", text)
    if not text or len(text) > MAX_EXPRESSION_CHARS:
        return None
    try:
        tree = ast.parse(text, mode="eval")
        value = _evaluate(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError("exponent too large")
        return float(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return float(_UNARY[type(node.op)](_evaluate(node.operand)))
    raise ValueError(f"not arithmetic: {ast.dump(node)[:40]}")


def math_accuracy(predicted: Sequence[str], gold_answers: Sequence[float], rel_tol: float = 1e-6) -> float:
    """Share of predicted expressions whose value equals the gold answer (relative tolerance), x100."""
    _same_length(predicted, gold_answers, "math accuracy")
    if not gold_answers:
        return 0.0
    hits = 0
    for expr, answer in zip(predicted, gold_answers, strict=True):
        value = safe_arithmetic(expr)
        if value is not None and math.isclose(value, float(answer), rel_tol=rel_tol, abs_tol=1e-9):
            hits += 1
    return 100.0 * hits / len(gold_answers)
