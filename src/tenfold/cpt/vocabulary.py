"""The closed word-level vocabulary of the synthetic shapes world, with a tokenizer-like API.

It mirrors the parts of a Hugging Face tokenizer that CPT needs (``tokenize``,
``convert_tokens_to_ids``, the special tokens), so the grounder treats it and a real BERT
WordPiece tokenizer the same way.
"""

from __future__ import annotations

import re

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
SIZES: tuple[str, ...] = ("small", "big")
FILLS: tuple[str, ...] = ("filled", "hollow")
# The pre-training palette (spec 5.2); "gray" names uncoloured objects.
PALETTE: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
# "pink" is a negative-control colour word: in the vocabulary, never shown in pre-training,
# like "none" (which few-shot CPT uses for negative copies).
COLOR_WORDS: tuple[str, ...] = (*PALETTE, "gray", "pink")
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
FUNCTION_WORDS: tuple[str, ...] = ("a", "the", "is", "in", "color", "and", "of", ".")
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")
WORDS: tuple[str, ...] = (
    *SPECIAL_TOKENS,
    *SHAPES,
    *SIZES,
    *FILLS,
    *COLOR_WORDS,
    *RELATIONS,
    *FUNCTION_WORDS,
    "none",
)

_TOKEN_PATTERN = re.compile(r"\[[A-Z]+\]|[A-Za-z]+|[^\sA-Za-z]")


class Vocabulary:
    """Word-level tokenizer over a closed word list (unknown words map to [UNK])."""

    pad_token = "[PAD]"
    cls_token = "[CLS]"
    sep_token = "[SEP]"
    mask_token = "[MASK]"
    unk_token = "[UNK]"

    def __init__(self, words: tuple[str, ...] = WORDS) -> None:
        if len(set(words)) != len(words):
            raise ValueError("vocabulary words must be unique")
        self.words = tuple(words)
        self._ids = {word: index for index, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def tokenize(self, text: str) -> list[str]:
        """Split lower-cased text into words, punctuation and [SPECIAL] tokens."""
        tokens = _TOKEN_PATTERN.findall(text.strip())
        return [t if t.startswith("[") else t.lower() for t in tokens] if tokens else []

    def convert_tokens_to_ids(self, tokens: list[str] | str) -> list[int] | int:
        if isinstance(tokens, str):
            return self._ids.get(tokens, self._ids[self.unk_token])
        return [self._ids.get(t, self._ids[self.unk_token]) for t in tokens]

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self.words[i] for i in ids]

    @property
    def pad_token_id(self) -> int:
        return self._ids[self.pad_token]

    @property
    def mask_token_id(self) -> int:
        return self._ids[self.mask_token]

    def single_token_id(self, word: str) -> int | None:
        """The id of ``word`` when it is exactly one known token, else None."""
        tokens = self.tokenize(word)
        if len(tokens) != 1 or tokens[0] not in self._ids:
            return None
        return self._ids[tokens[0]]
