"""Textual sub-prompts: templates with exactly one [MASK], query truncation, optional object tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenfold.core.errors import BadConfigError, BadInputError

DEFAULT_TEMPLATE = "{query} is in [MASK] color ."
# The six templates of the official code (refcoco_zsl_cpt_dataset.py); #3 is the default.
TEMPLATES: tuple[str, ...] = (
    "{query} is [MASK] .",
    "{query} is [MASK] color .",
    "{query} is in [MASK] color .",
    "[MASK] {query} .",
)
TEXT_TYPE, TAG_TYPE = 0, 1


@dataclass(frozen=True)
class Prompt:
    """Token ids and types of one text input, and the position of its [MASK] (-1 when it has none)."""

    input_ids: list[int]
    token_types: list[int]
    mask_index: int
    truncated: bool = False


def check_template(template: str, tokenizer: Any) -> None:
    """A template needs one ``{query}`` slot and exactly one mask token."""
    mask = tokenizer.mask_token
    if template.count("{query}") != 1:
        raise BadConfigError(f"template {template!r} needs exactly one '{{query}}' slot")
    count = template.count(mask)
    if count != 1:
        raise BadConfigError(f"template {template!r} has {count} {mask} tokens; it needs exactly one")


def clean_query(query: str) -> str:
    """Strip whitespace and the trailing period, as CPT does before filling the template."""
    text = " ".join(str(query).split()).rstrip(" .")
    if not text:
        raise BadInputError("query is empty; give the referring expression to ground")
    return text


def build_prompt(
    tokenizer: Any,
    query: str,
    template: str | None,
    max_length: int,
    tags: list[str] | None = None,
) -> Prompt:
    """[CLS] template(query) [SEP] (tags [SEP]); the query is truncated, never the template.

    ``template=None`` gives the plain query (the fine-tuning baseline's input).
    """
    text = clean_query(query)
    query_tokens = tokenizer.tokenize(text)
    if tokenizer.mask_token in query_tokens:
        raise BadInputError(f"query {query!r} contains {tokenizer.mask_token}; remove it")
    if template is None:
        prefix: list[str] = []
        suffix: list[str] = []
    else:
        check_template(template, tokenizer)
        before, after = template.split("{query}")
        prefix, suffix = tokenizer.tokenize(before), tokenizer.tokenize(after)
    room = max_length - 2 - len(prefix) - len(suffix)
    if room < 1:
        raise BadConfigError(f"template {template!r} leaves no room for the query within {max_length} tokens")
    truncated = len(query_tokens) > room
    query_tokens = query_tokens[:room]
    tokens = [tokenizer.cls_token, *prefix, *query_tokens, *suffix, tokenizer.sep_token]
    types = [TEXT_TYPE] * len(tokens)
    if tags:
        tag_tokens = [t for tag in tags for t in tokenizer.tokenize(tag)]
        tag_tokens = tag_tokens[: max(0, max_length - len(tokens) - 1)]
        if tag_tokens:
            tokens += [*tag_tokens, tokenizer.sep_token]
            types += [TAG_TYPE] * (len(tag_tokens) + 1)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    mask_index = tokens.index(tokenizer.mask_token) if template is not None else -1
    return Prompt(list(ids), types, mask_index, truncated)


def single_token_id(tokenizer: Any, word: str) -> int:
    """The id of a colour word that is exactly one known token; otherwise a clear error."""
    tokens = tokenizer.tokenize(word)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is None:
        unknown = tokenizer.convert_tokens_to_ids(tokenizer.unk_token)
    if len(tokens) != 1 or ids[0] == unknown:
        raise BadConfigError(
            f"colour word {word!r} is not a single known token of the backbone's tokenizer "
            f"(it tokenises as {tokens}); pick a word that is one vocabulary entry"
        )
    return int(ids[0])
