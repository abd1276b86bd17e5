"""Small files the CUGE tests write: a tiny registry (weights, a two-dataset task, chance levels), its
benchmark data, submissions and score files, so CLI, web and browser tests need no CUGE-mini build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenfold.cuge.jsonl import write_jsonl

TINY_REGISTRY = {
    "name": "tiny", "version": "tiny-1", "baseline": "base",
    "capabilities": [
        {"code": "U", "name": "Understanding", "weight": 2.0, "tasks": [
            {"code": "reading", "datasets": [
                {"name": "MiniCloze", "metric": "accuracy", "adapter": "choice", "chance": 25.0},
                {"name": "MiniPolarity", "metric": "f1", "adapter": "binary", "chance": 50.0, "weight": 3.0}]}]},
        {"code": "R", "name": "Retrieval", "tasks": [
            {"code": "retrieval", "datasets": [{"name": "MiniRetrieval", "metric": "ndcg@10", "adapter": "ranking"}]}]},
        {"code": "G", "name": "Generation", "tasks": [
            {"code": "headline", "datasets": [{"name": "MiniHeadline", "metric": "rouge_l", "adapter": "summary"}]}]},
    ],
}

CHOICES = ["一二", "三四", "五六", "七八"]
CLOZE = [{"id": f"q{i}", "context": ["甲。____乙。"], "question": "?", "choice": CHOICES, "answer": CHOICES[i % 4]}
         for i in range(4)]
POLARITY = [{"id": f"r{i}", "text": "很好" if i % 2 else "太差", "label": i % 2} for i in range(4)]
RANKING = [{"id": f"s{i}", "query": "北京", "docs": [{"docid": "a", "text": "北京", "rel": 2},
                                                    {"docid": "b", "text": "上海", "rel": 1},
                                                    {"docid": "c", "text": "广州", "rel": 0}]} for i in range(2)]
HEADLINE = [{"id": "h0", "text": "北京今天下雪了", "summary": "北京下雪"},
            {"id": "h1", "text": "上海明天有大雨", "summary": "上海大雨"}]
HIDDEN = {"MiniCloze": (CLOZE, "answer"), "MiniPolarity": (POLARITY, "label"),
          "MiniRetrieval": (RANKING, None), "MiniHeadline": (HEADLINE, "summary")}


def write_data(root: Path) -> Path:
    for name, (rows, hidden) in HIDDEN.items():
        write_jsonl(root / name / "test_private.jsonl", rows)
        public = []
        for row in rows:
            copy = {k: v for k, v in row.items() if k != hidden}
            if "docs" in copy:
                copy["docs"] = [{k: v for k, v in d.items() if k != "rel"} for d in copy["docs"]]
            public.append(copy)
        write_jsonl(root / name / "test_public.jsonl", public)
    return root


def write_submission(folder: Path, *, cloze: int, polarity: int, ranking: int, headline: int | None,
                     metadata: dict | None = None) -> Path:
    """A submission whose quality per dataset is set by how many items it gets right."""
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "MiniCloze.jsonl",
                [{"id": r["id"], "answer": r["answer"] if i < cloze else CHOICES[(i + 1) % 4]} for i, r in enumerate(CLOZE)])
    write_jsonl(folder / "MiniPolarity.jsonl",
                [{"id": r["id"], "label": r["label"] if i < polarity else 1 - r["label"]} for i, r in enumerate(POLARITY)])
    good, bad = {"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 1.0, "b": 2.0, "c": 3.0}
    write_jsonl(folder / "MiniRetrieval.jsonl",
                [{"id": r["id"], "scores": good if i < ranking else bad} for i, r in enumerate(RANKING)])
    if headline is not None:
        texts = [["北京下雪", "上海大雨"], ["北京今天", "上海明天"], ["下雪", "大雨"]][headline]
        write_jsonl(folder / "MiniHeadline.jsonl", [{"id": r["id"], "summary": t} for r, t in zip(HEADLINE, texts, strict=True)])
    if metadata is not None:
        (folder / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Path]:
    """A tiny registry file, its data folder and a baseline submission."""
    root = tmp_path / "tiny"
    root.mkdir()
    registry = root / "registry.json"
    registry.write_text(json.dumps(TINY_REGISTRY), encoding="utf-8")
    data = write_data(root / "data")
    base = write_submission(root / "subs" / "base", cloze=1, polarity=2, ranking=1, headline=2,
                            metadata={"system": "base", "honour_code": True})
    return {"root": root, "registry": registry, "data": data, "base": base}


@pytest.fixture
def make_submission():
    """``make_submission(folder, cloze=, polarity=, ranking=, headline=, metadata=)`` (see write_submission)."""
    return write_submission
