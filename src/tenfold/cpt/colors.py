"""Cross-modal colour search: which RGB value does the backbone call "red", "blue", ...? (CPT's colour set)

Every colour of an RGB lattice is blended over a grey object; the MLM head fills
"the {shape} is in [MASK] color ." and, for each colour word, the lattice colour that maximises
that word's probability (averaged over probe scenes) is the word's visual counterpart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.cpt.grounder import _as_batch
from tenfold.cpt.marking import check_alpha, mark
from tenfold.cpt.prompt import build_prompt, single_token_id
from tenfold.cpt.synth import ShapeObject, render
from tenfold.cpt.vocabulary import SHAPES


@dataclass
class ColorSearchResult:
    """lattice [L, 3] RGB; probabilities [L, W] (mean over probes); per word: best RGB and its probability."""

    lattice: np.ndarray
    words: list[str]
    probabilities: np.ndarray
    best_rgb: dict[str, tuple[int, int, int]]
    best_probability: dict[str, float]

    def ranking(self) -> list[tuple[str, tuple[int, int, int], float]]:
        """Colour words sorted by how confidently the backbone names their best colour."""
        return sorted(((w, self.best_rgb[w], self.best_probability[w]) for w in self.words), key=lambda t: -t[2])


def rgb_lattice(levels: int = 6) -> np.ndarray:
    """All RGB triples whose channels take ``levels`` evenly spaced values in 0..255: [levels**3, 3]."""
    if levels < 2:
        raise BadConfigError("a colour lattice needs at least 2 levels per channel")
    values = np.round(np.linspace(0, 255, levels)).astype(int)
    return np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(-1, 3)


def synthetic_probes(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """One big filled grey object of each shape, centred: (image, box [1, 4], query)."""
    rng = np.random.default_rng(seed)
    probes = []
    for shape in SHAPES:
        obj = ShapeObject(shape, "big", "filled", 70, (32, 32))
        probes.append((render([obj], rng), obj.box[None], f"the {shape}"))
    return probes


def color_search(
    backbone: Any,
    words: Sequence[str],
    *,
    probes: Sequence[tuple[np.ndarray, np.ndarray, str]] | None = None,
    levels: int = 6,
    alpha: float = 0.5,
    template: str = "{query} is in [MASK] color .",
    batch_size: int = 256,
) -> ColorSearchResult:
    """Score every lattice colour for every word; ``probes`` are (image, boxes, query) with the first box marked."""
    alpha = check_alpha(alpha)
    probes = list(probes) if probes is not None else synthetic_probes()
    tokenizer = backbone.tokenizer
    word_ids = [single_token_id(tokenizer, word) for word in words]
    lattice = rgb_lattice(levels)
    totals = np.zeros((len(lattice), len(words)))
    with torch.no_grad():
        for image, boxes, query in probes:
            prompt = build_prompt(tokenizer, query, template, backbone.max_text_length)
            copies = [mark(image, boxes[:1], tuple(int(v) for v in rgb), alpha) for rgb in lattice]
            for start in range(0, len(copies), batch_size):
                chunk = copies[start : start + batch_size]
                batch = _as_batch(chunk, [boxes] * len(chunk), [prompt] * len(chunk), tokenizer.pad_token_id, "cpu")
                text_states, _ = backbone.encode(**batch)
                logits = backbone.mlm_logits(text_states[:, prompt.mask_index])
                probability = torch.softmax(logits.float(), dim=-1)[:, word_ids]
                totals[start : start + len(chunk)] += probability.numpy()
    mean = totals / len(probes)
    best = mean.argmax(axis=0)
    return ColorSearchResult(
        lattice,
        list(words),
        mean,
        {w: tuple(int(v) for v in lattice[best[j]]) for j, w in enumerate(words)},
        {w: float(mean[best[j], j]) for j, w in enumerate(words)},
    )
