"""Generation components: dialogue responders, pinyin-to-hanzi decoders and math template solvers."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Any

import numpy as np

Record = dict[str, Any]
NUMBER = re.compile(r"\d+(?:\.\d+)?")


# --- dialogue -------------------------------------------------------------------------------------

def _triple_in(response: str, knowledge: list[list[str]]) -> list[str] | None:
    for triple in knowledge:
        if triple[2] in response:
            return triple
    return None


def _template(response: str, triple: list[str]) -> str:
    return response.replace(triple[0], "{s}").replace(triple[2], "{o}")


class DialogueResponder:
    """'retrieve': copy the reply of the nearest training context; 'slot': the same reply with its
    subject and object swapped for the test triple of the same predicate; 'classify': a logistic
    regression predicts the predicate, then fills that predicate's most frequent reply template."""

    def __init__(self, kind: str, seed: int = 0):
        self.kind, self.seed = kind, seed

    def fit(self, train: list[Record]) -> DialogueResponder:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.train_ = train
        questions = [r["context"][-1] for r in train]
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(questions)
        self.matrix_ = self.vectorizer_.transform(questions)
        self.triples_ = [_triple_in(r["response"], r["knowledge"]) for r in train]
        if self.kind == "classify":
            labelled = [(q, t) for q, t in zip(questions, self.triples_, strict=True) if t is not None]
            x = self.vectorizer_.transform([q for q, _ in labelled])
            self.model_ = LogisticRegression(C=4.0, max_iter=2000, random_state=self.seed).fit(x, [t[1] for _, t in labelled])
            templates: dict[str, Counter[str]] = defaultdict(Counter)
            for r, t in zip(train, self.triples_, strict=True):
                if t is not None:
                    templates[t[1]][_template(r["response"], t)] += 1
            self.templates_ = {p: c.most_common(1)[0][0] for p, c in templates.items()}
        return self

    def predict(self, records: list[Record]) -> list[str]:
        questions = [r["context"][-1] for r in records]
        x = self.vectorizer_.transform(questions)
        nearest = np.asarray((x @ self.matrix_.T).argmax(axis=1)).ravel()
        predicates = self.model_.predict(x) if self.kind == "classify" else None
        replies = []
        for i, r in enumerate(records):
            if self.kind == "classify":
                triple = next((t for t in r["knowledge"] if t[1] == predicates[i]), None)
                template = self.templates_.get(str(predicates[i]))
                if triple is not None and template is not None:
                    replies.append(template.format(s=triple[0], o=triple[2]))
                    continue
            neighbour, source = self.train_[nearest[i]], self.triples_[nearest[i]]
            reply = neighbour["response"]
            if self.kind != "retrieve" and source is not None:
                target = next((t for t in r["knowledge"] if t[1] == source[1]), None)
                if target is not None:
                    reply = _template(reply, source).format(s=target[0], o=target[2])
            replies.append(reply)
        return replies


# --- pinyin to hanzi ------------------------------------------------------------------------------

def _pairs(records: list[Record]) -> list[list[tuple[str, str]]]:
    """Align each source syllable with its characters (pypinyin keeps non-hanzi runs as one token)."""
    out = []
    for r in records:
        syllables, target = r["source"].split(" "), r["target"]
        aligned, position = [], 0
        for s in syllables:
            width = len(s) if not s.isascii() or not s.isalpha() else 1
            aligned.append((s, target[position:position + width]))
            position += width
        if position == len(target):
            out.append(aligned)
    return out


class PinyinDecoder:
    """'unigram': most frequent character per syllable; 'bigram': Viterbi over a character bigram
    model with interpolated smoothing (the classic input-method decoder)."""

    def __init__(self, kind: str, interpolation: float = 0.8):
        self.kind, self.interpolation = kind, interpolation

    def fit(self, train: list[Record]) -> PinyinDecoder:
        self.candidates_: dict[str, Counter[str]] = defaultdict(Counter)
        self.unigram_: Counter[str] = Counter()
        self.bigram_: Counter[tuple[str, str]] = Counter()
        for sentence in _pairs(train):
            previous = "<s>"
            for syllable, chars in sentence:
                self.candidates_[syllable][chars] += 1
                self.unigram_[chars] += 1
                self.bigram_[(previous, chars)] += 1
                previous = chars
            self.unigram_["<s>"] += 1
        self.total_ = sum(self.unigram_.values())
        return self

    def _options(self, syllable: str) -> list[str]:
        found = self.candidates_.get(syllable)
        if found:
            return [c for c, _ in found.most_common(12)]
        return [syllable] if not (syllable.isascii() and syllable.isalpha()) else ["?"]

    def _log_p(self, previous: str, current: str) -> float:
        uni = (self.unigram_.get(current, 0) + 0.1) / (self.total_ + 0.1 * 5000)
        context = self.unigram_.get(previous, 0)
        bi = self.bigram_.get((previous, current), 0) / context if context else 0.0
        return math.log(self.interpolation * bi + (1 - self.interpolation) * uni)

    def decode(self, source: str) -> str:
        syllables = source.split(" ")
        if self.kind == "unigram":
            return "".join(self._options(s)[0] for s in syllables)
        beam: dict[str, tuple[float, list[str]]] = {"<s>": (0.0, [])}
        for syllable in syllables:
            nxt: dict[str, tuple[float, list[str]]] = {}
            for option in self._options(syllable):
                best = max(((score + self._log_p(prev, option), path) for prev, (score, path) in beam.items()),
                           key=lambda p: p[0])
                emission = math.log((self.candidates_.get(syllable, Counter()).get(option, 0) + 0.1)
                                    / (self.unigram_.get(option, 0) + 1.0))
                nxt[option] = (best[0] + emission, [*best[1], option])
            beam = nxt
        return "".join(max(beam.values(), key=lambda p: p[0])[1])


# --- arithmetic word problems ---------------------------------------------------------------------

def skeleton(text: str, equation: str) -> str | None:
    """Equation with each number replaced by the slot of the text number it copies (``n0``, ``n1``...)."""
    numbers = NUMBER.findall(text)
    parts, last = [], 0
    for match in NUMBER.finditer(equation):
        parts.append(equation[last:match.start()])
        value = match.group()
        parts.append(f"n{numbers.index(value)}" if value in numbers else value)
        last = match.end()
    parts.append(equation[last:])
    return "".join(parts)


def fill(template: str, text: str) -> str:
    numbers = NUMBER.findall(text)
    return re.sub(r"n(\d+)", lambda m: numbers[int(m.group(1))] if int(m.group(1)) < len(numbers) else "0", template)


class MathSolver:
    """'nearest': the skeleton of the most similar training problem (char TF-IDF), filled with this
    problem's numbers in order; 'classify': a logistic regression over skeletons."""

    def __init__(self, kind: str, seed: int = 0):
        self.kind, self.seed = kind, seed

    def fit(self, train: list[Record]) -> MathSolver:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        masked = [NUMBER.sub("#", r["text"]) for r in train]
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(masked)
        self.matrix_ = self.vectorizer_.transform(masked)
        self.skeletons_ = [skeleton(r["text"], r["equation"]) for r in train]
        if self.kind == "classify":
            self.model_ = LogisticRegression(C=1.0, max_iter=500, random_state=self.seed).fit(self.matrix_, self.skeletons_)
        return self

    def predict(self, records: list[Record]) -> list[str]:
        x = self.vectorizer_.transform([NUMBER.sub("#", r["text"]) for r in records])
        if self.kind == "classify":
            chosen = list(self.model_.predict(x))
        else:
            nearest = np.asarray((x @ self.matrix_.T).argmax(axis=1)).ravel()
            chosen = [self.skeletons_[i] for i in nearest]
        return [fill(t, r["text"]) for t, r in zip(chosen, records, strict=True)]
