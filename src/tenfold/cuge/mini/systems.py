"""The included deterministic systems (the board's rows) and how each predicts every CUGE-mini dataset.

``mini-small`` is the normaliser (=100): simplest features, fitted on a seeded 10% of train.
``mini-ngram`` uses all of train with character 1-2-gram statistics; ``mini-lr`` adds learned
rerankers/classifiers (scikit-learn LogisticRegression) and stronger lexicon use where that helps.
Each writes an official submission folder: ``<Dataset>.jsonl`` files plus ``metadata.json``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadConfigError, MissingDataError
from tenfold.core.io import atomic_write_text
from tenfold.cuge.jsonl import read_jsonl, write_jsonl
from tenfold.cuge.mini import generation_systems as gen
from tenfold.cuge.mini import text_systems as txt
from tenfold.cuge.mini import word_systems as words
from tenfold.cuge.registry import mini_registry

Record = dict[str, Any]
SYSTEMS: dict[str, str] = {
    "mini-small": "10% of train, simplest features (the normaliser, =100)",
    "mini-ngram": "all of train, character 1-2-gram statistics",
    "mini-lr": "all of train, logistic-regression rerankers/classifiers and lexicon-aware decoders",
}
NORMALISER = "mini-small"


def sample(records: list[Record], seed: int, share: float = 0.1) -> list[Record]:
    """A seeded share of the training records (at least 20)."""
    rng = random.Random(seed)
    picked = list(records)
    rng.shuffle(picked)
    return picked[: max(20, int(share * len(picked)))]


def _seg(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    if system == "mini-small":
        vocab = words.vocabulary(sample(train, seed))
        cut: Callable[[str], list[str]] = lambda t: words.forward_max_match(t, vocab)  # noqa: E731
    elif system == "mini-ngram":
        vocab = words.vocabulary(train)
        cut = lambda t: words.forward_max_match(t, vocab)  # noqa: E731
    else:
        vocab = words.vocabulary(train)
        cut = lambda t: words.bidirectional_max_match(t, vocab)  # noqa: E731
    return [{"id": r["id"], "words": " ".join(cut(r["text"]))} for r in test]


def _tagged(records: list[Record]) -> list[list[tuple[str, str]]]:
    return [[tuple(tok.rsplit("/", 1)) for tok in r["tokens"].split(" ") if tok] for r in records]  # type: ignore[misc]


def _pos_pipeline(system: str, train: list[Record], seed: int) -> Callable[[str], tuple[list[str], list[str]]]:
    fit_on = sample(train, seed) if system == "mini-small" else train
    sentences = _tagged(fit_on)
    vocab = {w for s in sentences for w, _ in s}
    if system == "mini-small":
        tagger: Any = words.MostFrequentTagger().fit(sentences)
        segment = lambda t: words.forward_max_match(t, vocab)  # noqa: E731
    elif system == "mini-ngram":
        tagger = words.HMMTagger().fit(sentences)
        segment = lambda t: words.forward_max_match(t, vocab)  # noqa: E731
    else:
        tagger = words.HMMTagger().fit(sentences)
        segment = lambda t: words.bidirectional_max_match(t, vocab)  # noqa: E731

    def run(text: str) -> tuple[list[str], list[str]]:
        ws = segment(text)
        return ws, tagger.tag(ws)

    return run


def _segpos(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    run = _pos_pipeline(system, train, seed)
    out = []
    for r in test:
        ws, tags = run(r["text"])
        out.append({"id": r["id"], "tokens": " ".join(f"{w}/{t}" for w, t in zip(ws, tags, strict=True))})
    return out


def _ner(system: str, train: list[Record], test: list[Record], seed: int, pos_train: list[Record] | None = None,
         valid: list[Record] | None = None) -> list[Record]:
    names = words.gazetteer(sample(train, seed) if system == "mini-small" else train)
    if system != "mini-lr" or not pos_train:
        return [{"id": r["id"], "entities": words.gazetteer_entities(r["text"], names)} for r in test]
    # mini-lr: entities from the HMM tagger's nr/ns/nt runs, the gazetteer, or both; which one is
    # chosen on the validation split (never on test).
    run = _pos_pipeline("mini-lr", pos_train, seed)

    def predict(records: list[Record]) -> dict[str, list[list[dict[str, Any]]]]:
        out: dict[str, list[list[dict[str, Any]]]] = {"gazetteer": [], "tagger": [], "tagger+gazetteer": []}
        for r in records:
            gazetteer = words.gazetteer_entities(r["text"], names)
            tagged = words.tagged_entities(*run(r["text"]))
            out["gazetteer"].append(gazetteer)
            out["tagger"].append(tagged)
            out["tagger+gazetteer"].append(words.merge_entities(tagged, gazetteer))
        return out

    choice = "gazetteer"
    if valid:
        from tenfold.cuge.metrics import entity_prf

        gold = [[(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in valid]
        options = predict(valid)
        choice = max(options, key=lambda k: entity_prf(
            [[(e["start"], e["end"], e["type"]) for e in p] for p in options[k]], gold)["f1"])
    return [{"id": r["id"], "entities": e} for r, e in zip(test, predict(test)[choice], strict=True)]


def _cloze(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    if system == "mini-small":
        return [{"id": r["id"], "answer": r["choice"][0]} for r in test]
    chooser = txt.ClozeChooser(rerank=system == "mini-lr", seed=seed).fit(train)
    return [{"id": r["id"], "answer": a} for r, a in zip(test, chooser.predict(test), strict=True)]


def _polarity(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    kind = {"mini-small": "unigram_nb", "mini-ngram": "bigram_nb", "mini-lr": "tfidf_lr"}[system]
    fit_on = sample(train, seed) if system == "mini-small" else train
    model = txt.polarity_classifier(kind, seed).fit([r["text"] for r in fit_on], [r["label"] for r in fit_on])
    labels = model.predict([r["text"] for r in test])
    return [{"id": r["id"], "label": int(y)} for r, y in zip(test, labels, strict=True)]


def _retrieval(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    kind = {"mini-small": "random", "mini-ngram": "tfidf", "mini-lr": "fusion"}[system]
    scores = txt.rank_documents(kind, train, test, seed=0 if kind == "random" else seed)
    return [{"id": r["id"], "scores": s} for r, s in zip(test, scores, strict=True)]


def _headline(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    kind = {"mini-small": "lead", "mini-ngram": "clause", "mini-lr": "dateline_clauses"}[system]
    clauses = txt.fit_clause_count(train) if system == "mini-lr" else 1
    return [{"id": r["id"], "summary": txt.headline(kind, r["text"], clauses)} for r in test]


def _dialogue(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    kind = {"mini-small": "retrieve", "mini-ngram": "slot", "mini-lr": "classify"}[system]
    fit_on = sample(train, seed) if system == "mini-small" else train
    replies = gen.DialogueResponder(kind, seed).fit(fit_on).predict(test)
    return [{"id": r["id"], "response": y} for r, y in zip(test, replies, strict=True)]


def _pinyin(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    if system == "mini-small":
        decoder = gen.PinyinDecoder("unigram").fit(sample(train, seed))
    else:
        # mini-lr keeps the bigram decoder: no learned component helped here (declared, not hidden).
        decoder = gen.PinyinDecoder("bigram").fit(train)
    return [{"id": r["id"], "target": decoder.decode(r["source"])} for r in test]


def _math(system: str, train: list[Record], test: list[Record], seed: int) -> list[Record]:
    kind = "classify" if system == "mini-lr" else "nearest"
    fit_on = sample(train, seed) if system == "mini-small" else train
    equations = gen.MathSolver(kind, seed).fit(fit_on).predict(test)
    return [{"id": r["id"], "equation": e} for r, e in zip(test, equations, strict=True)]


PREDICTORS: dict[str, Callable[..., list[Record]]] = {
    "MiniSeg": _seg, "MiniSegPOS": _segpos, "MiniNER": _ner, "MiniCloze": _cloze, "MiniPolarity": _polarity,
    "MiniRetrieval": _retrieval, "MiniHeadline": _headline, "MiniDialogue": _dialogue, "MiniPinyin": _pinyin,
    "MiniMath": _math,
}


def run_system(system: str, data_dir: str | Path, out_dir: str | Path, *, seed: int = 0,
               progress: Callable[[str], None] | None = None) -> Path:
    """Train ``system`` on every CUGE-mini train split and write its submission folder ``out_dir/system``."""
    if system not in SYSTEMS:
        raise BadConfigError(f"unknown system {system!r}; included systems: {', '.join(SYSTEMS)}")
    data_dir = Path(data_dir)
    if not (data_dir / "manifest.json").exists():
        raise MissingDataError(f"{data_dir} is not a CUGE-mini build (no manifest.json); run `tenfold cuge mini build`")
    target = Path(out_dir) / system
    pos_train = read_jsonl(data_dir / "MiniSegPOS" / "train.jsonl")
    for dataset in mini_registry().datasets:
        if progress:
            progress(f"{system}: {dataset}")
        train = read_jsonl(data_dir / dataset / "train.jsonl")
        test = read_jsonl(data_dir / dataset / "test_public.jsonl")
        extra = {}
        if dataset == "MiniNER":
            extra = {"pos_train": pos_train, "valid": read_jsonl(data_dir / dataset / "valid.jsonl")}
        write_jsonl(target / f"{dataset}.jsonl", PREDICTORS[dataset](system, train, test, seed, **extra))
    meta = {"system": system, "organisation": "tenfold (included system)", "description": SYSTEMS[system],
            "honour_code": True, "seed": seed, "date": "included"}
    atomic_write_text(target / "metadata.json", json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    return target
