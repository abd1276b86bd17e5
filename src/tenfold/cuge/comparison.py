"""One score table ranked under the peers' aggregation rules, with Kendall's tau between rankings.

CUGE (baseline-normalised, ``mean`` and ``ratio_of_sums``), GLUE/CLUE (plain mean of raw scores),
HELM (mean win rate), OpenCompass (harmonic mean, here of normalised scores) and the Open LLM
Leaderboard (min-max normalisation against a chance floor: (s - chance) / (100 - chance)).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from tenfold.core.errors import BadInputError
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import MatrixScorer

RULES = ("cuge_mean", "cuge_ratio_of_sums", "plain_mean", "helm_mean_win_rate", "harmonic_mean", "minmax_chance")


def aggregate(raw: dict[str, dict[str, float]], baseline: str, registry: Registry,
              selection: list[str] | str | None = None, *, weights: dict[str, float] | None = None
              ) -> dict[str, dict[str, float]]:
    """{rule: {system: aggregate}} over the systems that have every selected dataset.

    ``weights`` override the registry's sibling weights in the two CUGE rules (the peers' rules are
    unweighted means by definition).
    """
    datasets = registry.select(selection)
    systems = [s for s, row in raw.items() if all(row.get(d) is not None for d in datasets)]
    if baseline not in systems:
        raise BadInputError(f"baseline system {baseline!r} lacks a score for some selected dataset")
    matrix = np.array([[float(raw[s][d]) for d in datasets] for s in systems])
    base = dict(zip(datasets, matrix[systems.index(baseline)], strict=True))
    out: dict[str, dict[str, float]] = {}
    for mode in ("mean", "ratio_of_sums"):
        index = MatrixScorer(registry, base, selection=[f"ds:{d}" for d in datasets], weights=weights, mode=mode).index(matrix)
        out[f"cuge_{mode}"] = dict(zip(systems, index.tolist(), strict=True))
    out["plain_mean"] = dict(zip(systems, matrix.mean(axis=1).tolist(), strict=True))
    # HELM: for each dataset, the share of other systems a system beats (ties count half); then the mean.
    n = len(systems)
    wins = np.zeros(n)
    for j in range(matrix.shape[1]):
        col = matrix[:, j]
        beats = (col[:, None] > col[None, :]).sum(axis=1) + 0.5 * ((col[:, None] == col[None, :]).sum(axis=1) - 1)
        wins += beats / max(n - 1, 1)
    out["helm_mean_win_rate"] = dict(zip(systems, (wins / matrix.shape[1]).tolist(), strict=True))
    normalised = 100.0 * matrix / matrix[systems.index(baseline)]
    harmonic = normalised.shape[1] / np.sum(1.0 / np.maximum(normalised, 1e-9), axis=1)
    out["harmonic_mean"] = dict(zip(systems, harmonic.tolist(), strict=True))
    chance = np.array([registry.datasets[d].chance or 0.0 for d in datasets])
    minmax = np.clip((matrix - chance) / (100.0 - chance), 0.0, None).mean(axis=1) * 100
    out["minmax_chance"] = dict(zip(systems, minmax.tolist(), strict=True))
    return out


def ranks(scores: dict[str, float]) -> dict[str, int]:
    """1 = best; ties broken by name so the output is deterministic."""
    order = sorted(scores, key=lambda s: (-scores[s], s))
    return {s: i + 1 for i, s in enumerate(order)}


def kendall_report(aggregates: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Ranks of every system under every rule and Kendall's tau for every pair of rules."""
    from scipy.stats import kendalltau

    rule_ranks = {rule: ranks(values) for rule, values in aggregates.items()}
    systems = sorted(next(iter(aggregates.values())))
    taus: dict[str, float | None] = {}
    for a, b in combinations(aggregates, 2):
        x = [rule_ranks[a][s] for s in systems]
        y = [rule_ranks[b][s] for s in systems]
        tau = kendalltau(x, y).statistic if len(systems) > 1 else float("nan")
        taus[f"{a} vs {b}"] = None if tau != tau else round(float(tau), 6)
    return {"systems": systems, "ranks": rule_ranks, "kendall_tau": taus}
