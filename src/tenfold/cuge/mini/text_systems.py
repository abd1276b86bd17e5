"""Discourse- and document-level components: cloze choosers, polarity classifiers, rankers, headliners."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np

Record = dict[str, Any]
CLAUSE_END = re.compile(r"[，。！？；：]")
DATELINE = re.compile(r"^.{0,30}?(电|讯)(（[^）]{0,40}）)?")


def _split_blank(context: str) -> tuple[str, str]:
    left, _, right = context.partition("____")
    left_sentences = [s for s in re.split(r"(?<=[。！？])", left) if s]
    right_sentences = [s for s in re.split(r"(?<=[。！？])", right) if s]
    return (left_sentences[-1] if left_sentences else ""), (right_sentences[0] if right_sentences else "")


class ClozeChooser:
    """Pick the option most similar (char TF-IDF) to the sentences around the blank; with
    ``rerank=True`` a logistic regression weighs several similarity features learned on train."""

    def __init__(self, rerank: bool = False, seed: int = 0):
        self.rerank = rerank
        self.seed = seed

    def _features(self, record: Record) -> np.ndarray:
        context = record["context"][0]
        left, right = _split_blank(context)
        whole = context.replace("____", "")
        options = self.vectorizer_.transform(record["choice"])
        around = self.vectorizer_.transform([left, right, whole])
        sims = (options @ around.T).toarray()  # [options, 3]
        lengths = np.array([len(c) for c in record["choice"]], dtype=float)
        mean_len = np.mean([len(s) for s in re.split(r"(?<=[。！？])", whole) if s] or [30.0])
        bigram_overlap = np.array([
            len(_bigrams(c) & (_bigrams(left) | _bigrams(right))) / max(len(_bigrams(c)), 1) for c in record["choice"]
        ])
        centred = sims - sims.mean(axis=0, keepdims=True)
        return np.column_stack([sims, centred, np.abs(lengths - mean_len) / 50.0, bigram_overlap])

    def fit(self, train: list[Record]) -> ClozeChooser:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = [r["context"][0].replace("____", "") for r in train] + [c for r in train for c in r["choice"]]
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        if self.rerank:
            x = np.vstack([self._features(r) for r in train])
            y = np.concatenate([[int(c == r["answer"]) for c in r["choice"]] for r in train])
            self.model_ = LogisticRegression(C=1.0, max_iter=1000, random_state=self.seed).fit(x, y)
        return self

    def predict(self, records: list[Record]) -> list[str]:
        answers = []
        for r in records:
            features = self._features(r)
            if self.rerank:
                score = self.model_.decision_function(features)
            else:
                score = features[:, 0] + features[:, 1]  # similarity to the left and right sentences
            answers.append(r["choice"][int(np.argmax(score))])
        return answers


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def polarity_classifier(kind: str, seed: int = 0) -> Any:
    """'unigram_nb' (char unigrams), 'bigram_nb' (char 1-2-grams) or 'tfidf_lr' (char 1-3-gram TF-IDF LR)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    if kind == "unigram_nb":
        return make_pipeline(CountVectorizer(analyzer="char", ngram_range=(1, 1)), MultinomialNB())
    if kind == "bigram_nb":
        return make_pipeline(CountVectorizer(analyzer="char", ngram_range=(1, 2)), MultinomialNB())
    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
                         LogisticRegression(C=4.0, max_iter=2000, random_state=seed))


class BM25:
    """Okapi BM25 over character bigrams (hand-written: 12 candidates per query need no index)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [text[i:i + 2] for i in range(len(text) - 1)] or list(text)

    def fit(self, documents: list[str]) -> BM25:
        frequency: Counter[str] = Counter()
        lengths = []
        for d in documents:
            toks = self.tokens(d)
            lengths.append(len(toks))
            frequency.update(set(toks))
        n = max(len(documents), 1)
        self.idf_ = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        self.default_idf_ = math.log(1 + (n + 0.5) / 0.5)
        self.avg_len_ = float(np.mean(lengths)) if lengths else 1.0
        return self

    def score(self, query: str, document: str) -> float:
        counts = Counter(self.tokens(document))
        length = sum(counts.values())
        total = 0.0
        for token in set(self.tokens(query)):
            tf = counts.get(token, 0)
            if tf:
                norm = tf + self.k1 * (1 - self.b + self.b * length / self.avg_len_)
                total += self.idf_.get(token, self.default_idf_) * tf * (self.k1 + 1) / norm
        return total


def rank_documents(kind: str, train: list[Record], records: list[Record], seed: int = 0) -> list[dict[str, float]]:
    """Scores per docid: 'random' (seeded), 'tfidf' (char cosine) or 'fusion' (z-scored BM25 + TF-IDF)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(seed)
    corpus = [d["text"] for r in train for d in r["docs"]]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit(corpus)
    bm25 = BM25().fit(corpus) if kind == "fusion" else None
    out = []
    for r in records:
        texts = [d["text"] for d in r["docs"]]
        if kind == "random":
            scores = rng.random(len(texts))
        else:
            tfidf = (vectorizer.transform(texts) @ vectorizer.transform([r["query"]]).T).toarray().ravel()
            scores = tfidf
            if bm25 is not None:
                b = np.array([bm25.score(r["query"], t) for t in texts])
                scores = _z(tfidf) + _z(b)
        out.append({d["docid"]: round(float(s), 6) for d, s in zip(r["docs"], scores, strict=True)})
    return out


def _z(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else values * 0.0


def strip_dateline(text: str) -> str:
    """Drop a news dateline ("本报北京１月１日讯", "新华社…电（记者…）") and a reporter lead-in ending in "："."""
    stripped = DATELINE.sub("", text, count=1) or text
    colon = stripped.find("：")
    if 0 <= colon <= 25 and stripped[colon + 1:]:
        stripped = stripped[colon + 1:]
    return stripped


def first_clauses(text: str, count: int) -> str:
    parts = re.split(r"([，。！？；：])", text)
    return "".join(parts[: 2 * count - 1])


def headline(kind: str, text: str, clauses: int = 1) -> str:
    """'lead' (first 10 characters), 'clause' (first clause) or 'dateline_clauses' (dateline and
    reporter lead-in stripped, then the first ``clauses`` clauses)."""
    if kind == "lead":
        return text[:10]
    if kind == "clause":
        return CLAUSE_END.split(text, maxsplit=1)[0]
    return first_clauses(strip_dateline(text), clauses)


def fit_clause_count(train: list[Record], limit: int = 500) -> int:
    """How many clauses maximise ROUGE-L on (a slice of) the training pairs: the learned length."""
    from tenfold.cuge.metrics import rouge

    pairs = train[:limit]
    best = max(range(1, 5), key=lambda k: (rouge([headline("dateline_clauses", r["text"], k) for r in pairs],
                                                 [r["summary"] for r in pairs])["rouge_l"], -k))
    return best
