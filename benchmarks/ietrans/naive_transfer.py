"""A direct, loop-per-triplet-type internal transfer following the official pseudo-code (spec 1.6).

It is the baseline the benchmark times the vectorised version against, and the reference the tests
compare it with on random data. Conflicts: highest attraction wins; equal attraction keeps the target
processed first, and types are processed in (subject, predicate, object) order, i.e. the lowest predicate id.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np


def naive_internal_transfer(subject: np.ndarray, predicate: np.ndarray, obj: np.ndarray, probabilities: np.ndarray, k: float) -> np.ndarray:
    """New predicate per relation, given class ids, labels and (n, P + 1) probabilities."""
    foreground = probabilities[:, 1:]
    q = foreground / foreground.sum(axis=1, keepdims=True)
    triplets = list(zip(subject.tolist(), predicate.tolist(), obj.tolist(), strict=True))
    n_spo = Counter(triplets)
    n_p = Counter(predicate.tolist())
    attraction = {t: n_spo[t] / n_p[t[1]] for t in n_spo}
    by_type: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for r, t in enumerate(triplets):
        by_type[t].append(r)
    best = [0.0] * len(triplets)
    new = predicate.copy()
    num_p = q.shape[1]
    for t in sorted(by_type):
        s, p, o = t
        mass = q[by_type[t]].sum(axis=0)
        order = sorted(range(num_p), key=lambda g: (-mass[g], g))
        rank = order.index(p - 1)
        general = [g + 1 for g in order[:rank] if attraction.get((s, g + 1, o), 0.0) < attraction[t]]
        pool = [r for g in general for r in by_type.get((s, g, o), [])]
        pool.sort(key=lambda r: (-q[r, p - 1], r))
        for r in pool[: math.floor(k * len(pool) + 1e-9)]:
            if best[r] < attraction[t]:
                best[r] = attraction[t]
                new[r] = p
    return new
