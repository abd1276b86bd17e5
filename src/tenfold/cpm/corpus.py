"""The miniature's real text: docstrings of Python's standard library plus pydoc topics, byte-level.

Every machine with the same CPython (3.11.x here) extracts the same corpus, so the manifest's sha256
identifies it. Items are split into train / held-out by an md5 hash of the API name, so the pair task's
test items come from APIs never seen in pre-training.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadInputError

# Modules that open windows, print on import, or are test suites: never imported.
_SKIP = {
    "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip", "venv",
    "antigravity", "this", "__hello__", "__phello__", "_pyrepl", "pydoc_data",
}

BYTE_VOCAB = 256  # ids 0..255 are raw bytes
PAD_ID = 256
BOS_ID = 257
SEP_ID = 258
SENTINEL_BASE = 259  # <s_0> ... <s_{n-1}>
NUM_SENTINELS = 5
VOCAB_SIZE = SENTINEL_BASE + NUM_SENTINELS  # 264


@dataclass(frozen=True)
class DocItem:
    """One docstring: the qualified API name, its module and the cleaned text."""

    name: str
    module: str
    text: str


@dataclass
class Corpus:
    """Train and held-out docstrings plus the sha256 manifest of the whole extraction."""

    train: list[DocItem]
    heldout: list[DocItem]
    sha256: str

    @property
    def num_bytes(self) -> int:
        return sum(len(i.text.encode()) for i in self.train + self.heldout)


def _is_heldout(name: str, modulus: int = 5) -> bool:
    return int(hashlib.md5(name.encode()).hexdigest(), 16) % modulus == 0


def extract_stdlib_docstrings(max_modules: int | None = None) -> list[DocItem]:
    """Import stdlib modules quietly and collect module + public member docstrings (deduplicated, sorted)."""
    items: dict[str, DocItem] = {}
    seen: set[str] = set()
    names = sorted(n for n in sys.stdlib_module_names if n not in _SKIP and not n.startswith("_"))
    if max_modules is not None:
        names = names[:max_modules]
    for module_name in names:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(module_name)
            except BaseException:  # noqa: BLE001 - platform-specific modules fail to import; skip them
                continue
        candidates = [(module_name, module)]
        for attr in sorted(dir(module)):
            if attr.startswith("_"):
                continue
            try:
                member = getattr(module, attr)
            except BaseException:  # noqa: BLE001
                continue
            if getattr(member, "__module__", None) != module_name:
                continue
            candidates.append((f"{module_name}.{attr}", member))
        for qualified, obj in candidates:
            doc = obj.__doc__ if isinstance(getattr(obj, "__doc__", None), str) else None
            if not doc:
                continue
            text = inspect.cleandoc(doc)
            if len(text) <= 40:
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            items[qualified] = DocItem(qualified, module_name, text)
    from pydoc_data.topics import topics

    for key in sorted(topics):
        text = topics[key].strip()
        digest = hashlib.sha256(text.encode()).hexdigest()
        if len(text) > 40 and digest not in seen:
            seen.add(digest)
            items[f"topics.{key}"] = DocItem(f"topics.{key}", "topics", text)
    return [items[k] for k in sorted(items)]


_CACHE: dict[int | None, Corpus] = {}


def load_corpus(max_modules: int | None = None) -> Corpus:
    """The docstring corpus split by API-name hash (md5 % 5 == 0 held out), cached per process."""
    if max_modules not in _CACHE:
        items = extract_stdlib_docstrings(max_modules)
        manifest = hashlib.sha256()
        for item in items:
            manifest.update(item.name.encode() + b"\0" + item.text.encode() + b"\0")
        train = [i for i in items if not _is_heldout(i.name)]
        heldout = [i for i in items if _is_heldout(i.name)]
        _CACHE[max_modules] = Corpus(train, heldout, manifest.hexdigest())
    return _CACHE[max_modules]


def encode_text(text: str) -> np.ndarray:
    """UTF-8 bytes as int64 token ids (the byte-level vocabulary needs no tokenizer)."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def token_stream(texts: list[str]) -> np.ndarray:
    """Concatenate texts into one id stream, each document followed by a separator."""
    if not texts:
        raise BadInputError("no text to build a token stream from; give at least one non-empty document")
    parts: list[np.ndarray] = []
    for text in texts:
        parts.append(encode_text(text))
        parts.append(np.array([SEP_ID], dtype=np.int64))
    return np.concatenate(parts)


class LMBatches:
    """Seeded random windows of ``seq_len + 1`` tokens from a stream: the same order for every model."""

    def __init__(self, stream: np.ndarray, seq_len: int, batch_size: int, seed: int) -> None:
        if stream.ndim != 1 or len(stream) < seq_len + 2:
            raise BadInputError(
                f"text too short: {len(stream)} tokens for windows of {seq_len + 1}; give more text or a smaller seq_len"
            )
        self.stream = stream
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def next(self) -> np.ndarray:
        starts = self.rng.integers(0, len(self.stream) - self.seq_len - 1, size=self.batch_size)
        return np.stack([self.stream[s : s + self.seq_len + 1] for s in starts])


def fixed_batches(stream: np.ndarray, seq_len: int, batch_size: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` held-out batches drawn once, for a validation loss every model sees identically."""
    batches = LMBatches(stream, seq_len, batch_size, seed)
    return [batches.next() for _ in range(count)]
