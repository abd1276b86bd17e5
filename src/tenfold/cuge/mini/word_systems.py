"""Word-level components of the included systems: dictionary segmenters, POS taggers, NER gazetteers.

mini-small uses a dictionary from a 10% sample and the most frequent tag; mini-ngram the full
dictionary and a bigram HMM tagger; mini-lr bidirectional maximum matching with digit-run merging
and tagger-derived entities added to the gazetteer.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Any

import numpy as np

Record = dict[str, Any]
DIGITS = re.compile(r"[０-９0-9．.％%·]+")


def vocabulary(records: list[Record]) -> Counter[str]:
    """Word counts of segmented training lines (``words`` field)."""
    counts: Counter[str] = Counter()
    for r in records:
        counts.update(w for w in r["words"].split(" ") if w)
    return counts


def forward_max_match(text: str, vocab: set[str] | Counter[str], max_len: int = 8) -> list[str]:
    """Greedy longest dictionary word from the left; unknown characters become single words."""
    words, i = [], 0
    while i < len(text):
        for size in range(min(max_len, len(text) - i), 0, -1):
            if size == 1 or text[i:i + size] in vocab:
                words.append(text[i:i + size])
                i += size
                break
    return words


def backward_max_match(text: str, vocab: set[str] | Counter[str], max_len: int = 8) -> list[str]:
    """Greedy longest dictionary word from the right."""
    words, j = [], len(text)
    while j > 0:
        for size in range(min(max_len, j), 0, -1):
            if size == 1 or text[j - size:j] in vocab:
                words.append(text[j - size:j])
                j -= size
                break
    return words[::-1]


def bidirectional_max_match(text: str, vocab: set[str] | Counter[str], max_len: int = 8) -> list[str]:
    """Pick the forward or backward result with fewer words, then fewer single characters; merge digit runs."""
    forward, backward = forward_max_match(text, vocab, max_len), backward_max_match(text, vocab, max_len)

    def cost(words: list[str]) -> tuple[int, int]:
        return len(words), sum(len(w) == 1 for w in words)

    best = backward if cost(backward) <= cost(forward) else forward
    merged: list[str] = []
    for word in best:  # "１９９８" split into single unknown digits becomes one number word
        if merged and DIGITS.fullmatch(word) and DIGITS.fullmatch(merged[-1]):
            merged[-1] += word
        else:
            merged.append(word)
    return merged


class MostFrequentTagger:
    """Tag each word with its most frequent training tag (OOV: 'm' for numbers, else 'n')."""

    def fit(self, sentences: list[list[tuple[str, str]]]) -> MostFrequentTagger:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for sentence in sentences:
            for word, tag in sentence:
                counts[word][tag] += 1
        self.best_ = {w: c.most_common(1)[0][0] for w, c in counts.items()}
        return self

    def tag(self, words: list[str]) -> list[str]:
        return [self.best_.get(w, "m" if DIGITS.fullmatch(w) else "n") for w in words]


class HMMTagger:
    """Bigram hidden Markov POS tagger with add-one transitions; OOV emissions from the last character."""

    def fit(self, sentences: list[list[tuple[str, str]]]) -> HMMTagger:
        tags = sorted({t for s in sentences for _, t in s})
        self.tags_ = tags
        index = {t: i for i, t in enumerate(tags)}
        k = len(tags)
        transition = np.ones((k + 1, k))  # row k = sentence start
        tag_counts = np.zeros(k)
        emission: dict[str, Counter[int]] = defaultdict(Counter)
        word_counts: Counter[str] = Counter()
        for sentence in sentences:
            previous = k
            for word, tag in sentence:
                t = index[tag]
                transition[previous, t] += 1
                tag_counts[t] += 1
                emission[word][t] += 1
                word_counts[word] += 1
                previous = t
        self.log_transition_ = np.log(transition / transition.sum(axis=1, keepdims=True))
        self.tag_counts_ = tag_counts
        self.emission_ = emission
        # Rare words stand for unknown ones: P(tag | last char) from hapax legomena.
        suffix: dict[str, np.ndarray] = defaultdict(lambda: np.ones(k) * 0.1)
        rare_tags = np.ones(k) * 0.1
        for word, count in word_counts.items():
            if count == 1:
                t = next(iter(emission[word]))
                suffix[word[-1]][t] += 1
                rare_tags[t] += 1
        self.suffix_ = dict(suffix)
        self.rare_ = rare_tags / rare_tags.sum()
        return self

    def _log_emission(self, word: str) -> np.ndarray:
        counts = self.emission_.get(word)
        if counts:
            row = np.full(len(self.tags_), 1e-3)
            for t, c in counts.items():
                row[t] += c
            return np.log(row / (self.tag_counts_ + 1.0))
        prior = self.suffix_.get(word[-1])
        p_tag = prior / prior.sum() if prior is not None else self.rare_
        # Bayes: P(word | tag) is proportional to P(tag | word) / P(tag).
        return np.log(p_tag + 1e-12) - np.log(self.tag_counts_ / self.tag_counts_.sum() + 1e-12) - math.log(1e4)

    def tag(self, words: list[str]) -> list[str]:
        if not words:
            return []
        k = len(self.tags_)
        score = self.log_transition_[k] + self._log_emission(words[0])
        back = []
        for word in words[1:]:
            candidates = score[:, None] + self.log_transition_[:k]  # [previous, current]
            back.append(candidates.argmax(axis=0))
            score = candidates.max(axis=0) + self._log_emission(word)
        best = [int(score.argmax())]
        for pointers in reversed(back):
            best.append(int(pointers[best[-1]]))
        return [self.tags_[t] for t in reversed(best)]


def gazetteer(records: list[Record]) -> dict[str, str]:
    """Entity string -> most frequent type, from training spans."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        for e in r["entities"]:
            counts[r["text"][e["start"]:e["end"]]][e["type"]] += 1
    return {name: c.most_common(1)[0][0] for name, c in counts.items() if len(name) >= 2}


def gazetteer_entities(text: str, names: dict[str, str], max_len: int = 12) -> list[dict[str, Any]]:
    """Leftmost-longest gazetteer matches as end-exclusive spans."""
    found, i = [], 0
    while i < len(text):
        for size in range(min(max_len, len(text) - i), 1, -1):
            kind = names.get(text[i:i + size])
            if kind:
                found.append({"start": i, "end": i + size, "type": kind})
                i += size
                break
        else:
            i += 1
    return found


def tagged_entities(words: list[str], tags: list[str]) -> list[dict[str, Any]]:
    """Merge runs of nr/ns/nt tags into PER/LOC/ORG spans."""
    kinds = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
    found, position, i = [], 0, 0
    while i < len(words):
        kind = kinds.get(tags[i])
        if kind is None:
            position += len(words[i])
            i += 1
            continue
        start = position
        while i < len(words) and kinds.get(tags[i]) == kind:
            position += len(words[i])
            i += 1
        found.append({"start": start, "end": position, "type": kind})
    return found


def merge_entities(primary: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Primary spans plus extra spans that overlap none of them."""
    taken = [(e["start"], e["end"]) for e in primary]
    out = list(primary)
    for e in extra:
        if all(e["end"] <= s or e["start"] >= t for s, t in taken):
            out.append(e)
            taken.append((e["start"], e["end"]))
    return sorted(out, key=lambda e: e["start"])
