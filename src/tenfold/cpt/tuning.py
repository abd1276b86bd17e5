"""Choosing a few-shot method's hyper-parameters on a validation split, as its authors would.

Both CPT and the fine-tuning baseline get the same treatment: each setting of a small grid is fit
on K-shot draws that are not the evaluation splits and scored on validation queries that are not
test queries; the best mean validation accuracy wins, and ties go to the earlier setting (grids
list the spec's defaults first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.cpt.examples import GroundingExample, hit

# draw_shots seeds numpy with 1000*K + seed, so tuning draws from this seed on never share the random
# stream of an evaluation split (seeds 0..splits-1) at any K, as long as there are fewer than 500 splits.
TUNING_DRAW_OFFSET = 500


def finetune_grid(body_lrs: Sequence[float], steps: Sequence[int], head_lr_factor: float) -> list[dict[str, Any]]:
    """Fine-tuning settings: body learning rate x steps, the new head at ``head_lr_factor`` x the body's rate."""
    return [{"body_lr": float(lr), "head_lr": float(lr) * head_lr_factor, "steps": int(n)} for lr in body_lrs for n in steps]


def cpt_grid(negative_words: Sequence[str], lrs: Sequence[float], steps: int) -> list[dict[str, Any]]:
    """CPT settings: learning rate x the word that labels negative copies, at one step count."""
    return [{"lr": float(lr), "steps": int(steps), "negative_word": str(word)} for lr in lrs for word in negative_words]


def best_setting(scores: Sequence[float]) -> int:
    """Index of the highest validation score; the first one on a tie."""
    if not scores:
        raise BadConfigError("tuning needs at least one setting")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def validation_accuracy(grounder: Any, examples: Sequence[GroundingExample]) -> float:
    return float(np.mean([hit(e, c) for e, c in zip(examples, grounder.predict_many(list(examples)), strict=True)]))


def tune(
    make: Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]],
    grid: Sequence[dict[str, Any]],
    pool: Sequence[GroundingExample],
    validation: Sequence[GroundingExample],
    k: int,
    draws: int = 1,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fit every setting on ``draws`` tuning draws of K shots and score it on ``validation``.

    ``make(setting)`` returns the method and its ``fit`` options. Returns the chosen setting and one
    row per setting with its mean validation accuracy.
    """
    if not validation:
        raise BadConfigError("tuning needs validation examples")
    rows = []
    for setting in grid:
        method, options = make(setting)
        runs = method.fit_few_shot(pool, k, [TUNING_DRAW_OFFSET + d for d in range(draws)], **options)
        rows.append({**setting, "validation_accuracy": float(np.mean([validation_accuracy(r.grounder, validation) for r in runs]))})
    return dict(grid[best_setting([r["validation_accuracy"] for r in rows])]), rows
