"""Labelled pair tasks built from the docstring corpus (spec 5 (B)), as fixed-width byte fields.

``pair_task`` is the LCQMC analogue ("same intent?"): s1 is the first sentence of an API's docstring, s2
is s1 lightly perturbed (label 1) or a perturbed first sentence of another API, half of them from the same
module (label 0). ``pretext_pairs`` is the PPT-style self-supervised task in the same format, from random
text windows with byte-level edits, so a prompt can be pre-trained without any labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadInputError
from tenfold.cpm.corpus import PAD_ID, DocItem


@dataclass
class PairData:
    """Two fixed-width id fields and a 0/1 label per example."""

    first: np.ndarray  # [n, width] int64
    second: np.ndarray  # [n, width] int64
    labels: np.ndarray  # [n] int64

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, rows: np.ndarray | slice) -> PairData:
        return PairData(self.first[rows], self.second[rows], self.labels[rows])


def to_field(text: bytes, width: int) -> np.ndarray:
    """Cut or pad (with PAD) a byte string to ``width`` ids."""
    ids = np.full(width, PAD_ID, dtype=np.int64)
    raw = np.frombuffer(text[:width], dtype=np.uint8)
    ids[: len(raw)] = raw
    return ids


def first_sentence(text: str) -> str:
    """The docstring's first sentence (up to '. ' or a blank line), whitespace collapsed."""
    head = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    head = " ".join(head.split())
    match = re.search(r"\.(\s|$)", head)
    return head[: match.start() + 1] if match else head


def perturb(sentence: str, rng: np.random.Generator, edits: int = 2) -> str:
    """Drop a word or swap two neighbours, ``edits`` times (a light paraphrase that keeps the intent)."""
    words = sentence.split()
    for _ in range(edits):
        if len(words) < 3:
            break
        i = int(rng.integers(0, len(words) - 1))
        if rng.random() < 0.5:
            del words[i]
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def pair_task(items: list[DocItem], num_pairs: int, *, seed: int = 0, width: int = 25, min_chars: int = 30) -> PairData:
    """``num_pairs`` balanced pairs from ``items`` (label 1 = s2 is a perturbed copy of s1)."""
    pool = [(i.module, first_sentence(i.text)) for i in items]
    pool = [(m, s) for m, s in pool if len(s) >= min_chars]
    if len(pool) < 2:
        raise BadInputError(f"only {len(pool)} docstrings have a first sentence of >= {min_chars} chars; need 2+")
    rng = np.random.default_rng(seed)
    by_module: dict[str, list[int]] = {}
    for index, (module, _) in enumerate(pool):
        by_module.setdefault(module, []).append(index)
    first, second, labels = [], [], []
    for n in range(num_pairs):
        a = int(rng.integers(len(pool)))
        module, s1 = pool[a]
        label = n % 2
        if label == 1:
            s2 = perturb(s1, rng)
        else:
            same = [i for i in by_module[module] if i != a]
            if same and rng.random() < 0.5:
                b = same[int(rng.integers(len(same)))]
            else:
                b = int(rng.integers(len(pool) - 1))
                b += b >= a
            s2 = perturb(pool[b][1], rng)
        first.append(to_field(perturb(s1, rng, edits=0).encode(), width))
        second.append(to_field(s2.encode(), width))
        labels.append(label)
    order = rng.permutation(num_pairs)
    return PairData(np.stack(first)[order], np.stack(second)[order], np.array(labels, dtype=np.int64)[order])


def pretext_pairs(texts: list[str], num_pairs: int, *, seed: int = 0, width: int = 25) -> PairData:
    """Self-supervised pairs in the task's format: a text window vs. the same window with 2 byte edits (1) or a
    window of another text (0). No labels needed, so a prompt can be pre-trained on unlabelled text (PPT)."""
    docs = [t.encode() for t in texts if len(t.encode()) > width + 1]
    if len(docs) < 2:
        raise BadInputError("pretext pairs need at least two texts longer than the field width")
    rng = np.random.default_rng(seed)
    first, second, labels = [], [], []
    for n in range(num_pairs):
        a = int(rng.integers(len(docs)))
        start = int(rng.integers(0, len(docs[a]) - width))
        window = bytearray(docs[a][start : start + width])
        label = n % 2
        if label == 1:
            other = bytearray(window)
            for _ in range(2):
                i = int(rng.integers(0, width - 1))
                other[i], other[i + 1] = other[i + 1], other[i]
        else:
            b = int(rng.integers(len(docs) - 1))
            b += b >= a
            s = int(rng.integers(0, len(docs[b]) - width))
            other = bytearray(docs[b][s : s + width])
        first.append(to_field(bytes(window), width))
        second.append(to_field(bytes(other), width))
        labels.append(label)
    order = rng.permutation(num_pairs)
    return PairData(np.stack(first)[order], np.stack(second)[order], np.array(labels, dtype=np.int64)[order])
