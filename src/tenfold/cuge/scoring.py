"""CUGE multi-level scoring: baseline-normalised dataset scores averaged up to task, capability, Index.

Two aggregation modes (spec 1.2): ``mean`` follows the report's text (mean of normalised children);
``ratio_of_sums`` (100 * sum of raw / sum of baseline raw) is what reproduces the published Table 2.
A node is None, never 0, unless all of its selected children have a score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tenfold.core.errors import BadInputError
from tenfold.cuge.registry import Registry, RegistryError

MODES = ("mean", "ratio_of_sums")
SCORING_VERSION = "tenfold-cuge-scoring-1"


class NormalizationError(BadInputError):
    """The baseline score of a selected dataset is missing, zero or negative: no ratio exists."""

    def __init__(self, dataset: str, value: Any):
        self.dataset = dataset
        super().__init__(
            f"baseline score for dataset {dataset!r} is {value!r}; normalising needs a baseline score > 0 "
            f"(pick another baseline system or drop {dataset} from the selection)"
        )


@dataclass(frozen=True)
class Node:
    """One scored node: raw = weighted mean of children's raw scores, norm = normalised score (x100)."""

    raw: float | None
    norm: float | None


def round_half_up(value: float, places: int = 0) -> Decimal:
    """Round like the paper's tables (0.5 goes up), not Python's banker's rounding."""
    quantum = Decimal(1).scaleb(-places)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def format_cell(raw: float | None, norm: float | None) -> str:
    """The board's cell text, e.g. ``56.30 (136)``; '-' where a score is missing."""
    if raw is None or norm is None:
        return "-"
    return f"{round_half_up(raw, 2)} ({round_half_up(norm)})"


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise RegistryError(f"unknown aggregation mode {mode!r}; use one of: {', '.join(MODES)}")


def _weights_for(names: list[str], default: dict[str, float], weights: dict[str, float] | None, where: str
                 ) -> list[float]:
    """Sibling weights (user override, else registry), checked: non-negative and not all zero."""
    chosen = []
    for name in names:
        w = float((weights or {}).get(name, default[name]))
        if not w >= 0 or math.isinf(w):
            raise RegistryError(f"weight of {name!r} is {w!r}; weights must be finite and >= 0")
        chosen.append(w)
    if sum(chosen) <= 0:
        raise RegistryError(f"all weights under {where} are zero; at least one must be > 0")
    return chosen


def _wmean(values: list[float], weights: list[float]) -> float:
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def score_tree(
    raw: dict[str, float | None],
    baseline: dict[str, float | None],
    registry: Registry,
    *,
    selection: list[str] | str | None = None,
    weights: dict[str, float] | None = None,
    mode: str = "mean",
    norm_cap: float | None = None,
) -> dict[str, Any]:
    """Score one system's per-dataset raw scores (0-100) against the baseline's, bottom-up.

    Returns ``{"index", "raw", "complete", "mode", "warnings", "capabilities": {c: {"raw", "norm",
    "tasks": {t: {"raw", "norm", "datasets": {d: {"raw", "norm"}}}}}}}``.
    """
    _check_mode(mode)
    chosen = registry.select(selection)
    warnings: list[str] = []
    for name in chosen:
        b = baseline.get(name)
        if b is None or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0:
            raise NormalizationError(name, b)
        chance = registry.datasets[name].chance
        if chance is not None and b - chance < 5.0:
            warnings.append(f"{name}: baseline {b:.2f} is within 5 points of chance ({chance:g}); ratios explode")
    chosen_set = set(chosen)
    ds_default = {n: d.weight for n, d in registry.datasets.items()}
    task_default = {n: t.weight for n, t in registry.tasks.items()}
    cap_default = {n: c.weight for n, c in registry.capabilities.items()}

    def combine(children: list[tuple[Node, Node]], w: list[float]) -> Node:
        # children: (system node, baseline node); None anywhere makes the parent None.
        if any(c.raw is None or c.norm is None for c, _ in children):
            return Node(None, None)
        raw_mean = _wmean([c.raw for c, _ in children], w)  # type: ignore[misc]
        if mode == "mean":
            return Node(raw_mean, _wmean([c.norm for c, _ in children], w))  # type: ignore[misc]
        base_mean = _wmean([b.raw for _, b in children], w)  # type: ignore[misc]
        return Node(raw_mean, 100.0 * raw_mean / base_mean)

    caps_out: dict[str, Any] = {}
    cap_pairs: list[tuple[Node, Node]] = []
    cap_names: list[str] = []
    for cap_code, cap in registry.capabilities.items():
        tasks_out: dict[str, Any] = {}
        task_pairs: list[tuple[Node, Node]] = []
        task_names: list[str] = []
        for task_code in cap.tasks:
            names = [d for d in registry.tasks[task_code].datasets if d in chosen_set]
            if not names:
                continue
            ds_out: dict[str, Any] = {}
            pairs: list[tuple[Node, Node]] = []
            for name in names:
                b = float(baseline[name])  # type: ignore[arg-type]
                value = raw.get(name)
                if value is None or not math.isfinite(float(value)):
                    node = Node(None, None)
                else:
                    norm = 100.0 * float(value) / b
                    if norm > 1000:
                        warnings.append(f"{name}: normalised score {norm:.0f} > 1000 dominates the mean")
                    if norm_cap is not None:
                        norm = min(norm, norm_cap)
                    node = Node(float(value), norm)
                pairs.append((node, Node(b, 100.0)))
                ds_out[name] = {"raw": node.raw, "norm": node.norm}
            task_node = combine(pairs, _weights_for(names, ds_default, weights, f"task {task_code}"))
            task_base = combine([(b, b) for _, b in pairs], _weights_for(names, ds_default, weights, task_code))
            tasks_out[task_code] = {"raw": task_node.raw, "norm": task_node.norm, "datasets": ds_out}
            task_pairs.append((task_node, task_base))
            task_names.append(task_code)
        if not task_names:
            continue
        tw = _weights_for(task_names, task_default, weights, f"capability {cap_code}")
        cap_node = combine(task_pairs, tw)
        cap_base = combine([(b, b) for _, b in task_pairs], tw)
        caps_out[cap_code] = {"raw": cap_node.raw, "norm": cap_node.norm, "tasks": tasks_out}
        cap_pairs.append((cap_node, cap_base))
        cap_names.append(cap_code)
    index = combine(cap_pairs, _weights_for(cap_names, cap_default, weights, "the Index"))
    return {
        "index": index.norm,
        "raw": index.raw,
        "complete": index.norm is not None,
        "mode": mode,
        "selection": chosen,
        "warnings": warnings,
        "capabilities": caps_out,
    }


def available_index(tree: dict[str, Any], raw: dict[str, float | None], baseline: dict[str, float | None],
                    registry: Registry, mode: str, *, weights: dict[str, float] | None = None) -> float | None:
    """Index over only the datasets a partial row has (for ``--allow-partial``); None if it has none."""
    present = [d for d in tree["selection"] if raw.get(d) is not None]
    if not present:
        return None
    return score_tree(raw, baseline, registry, selection=[f"ds:{d}" for d in present], weights=weights,
                      mode=mode)["index"]


def rank_rows(indices: dict[str, float | None]) -> dict[str, int | None]:
    """Competition ranks (1, 2, 2, 4) by descending Index; rows without an Index get None."""
    scored = sorted(((v, k) for k, v in indices.items() if v is not None), key=lambda p: (-p[0], p[1]))
    ranks: dict[str, int | None] = {k: None for k in indices}
    previous: float | None = None
    rank = 0
    for position, (value, name) in enumerate(scored, start=1):
        if previous is None or value != previous:
            rank = position
        ranks[name] = rank
        previous = value
    return ranks


class MatrixScorer:
    """Vectorised Index for many systems at once (re-ranking 1,000 rows on a selection change).

    Aggregation is a chain of row-normalised weight matrices: datasets -> tasks -> capabilities ->
    Index. A missing child (NaN) makes its parent NaN, as in :func:`score_tree`.
    """

    def __init__(self, registry: Registry, baseline: dict[str, float | None], *, selection: list[str] | str | None = None,
                 weights: dict[str, float] | None = None, mode: str = "mean"):
        import numpy as np

        _check_mode(mode)
        self.mode = mode
        self.datasets = registry.select(selection)
        every = list(registry.datasets)
        self._columns = [every.index(d) for d in self.datasets]
        self._width = len(every)
        for name in self.datasets:
            b = baseline.get(name)
            if b is None or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0:
                raise NormalizationError(name, b)
        self.baseline = np.array([float(baseline[d]) for d in self.datasets])  # type: ignore[arg-type]
        chosen = set(self.datasets)
        tasks = [t for t, task in registry.tasks.items() if any(d in chosen for d in task.datasets)]
        caps = [c for c, cap in registry.capabilities.items() if any(t in tasks for t in cap.tasks)]
        self.capabilities = caps

        def matrix(children: list[str], parents: list[str], parent_of: dict[str, str], default: dict[str, float]
                   ) -> Any:
            m = np.zeros((len(children), len(parents)))
            for j, parent in enumerate(parents):
                rows = [i for i, c in enumerate(children) if parent_of[c] == parent]
                w = _weights_for([children[i] for i in rows], default, weights, parent)
                m[rows, j] = np.array(w) / sum(w)
            return m

        self.to_task = matrix(self.datasets, tasks, {d: registry.datasets[d].task for d in self.datasets},
                              {n: d.weight for n, d in registry.datasets.items()})
        self.to_cap = matrix(tasks, caps, {t: registry.tasks[t].capability for t in tasks},
                             {n: t.weight for n, t in registry.tasks.items()})
        cap_w = np.array(_weights_for(caps, {n: c.weight for n, c in registry.capabilities.items()}, weights, "the Index"))
        self.to_index = (cap_w / cap_w.sum())[:, None]

    @staticmethod
    def _propagate(values: Any, weights: Any) -> Any:
        import numpy as np

        missing = np.isnan(values).astype(float) @ (weights > 0) > 0
        out = np.nan_to_num(values) @ weights
        out[missing] = np.nan
        return out

    def _selected(self, raw: Any) -> Any:
        """Accept [systems, selected datasets] or [systems, every registry dataset] (columns are picked)."""
        import numpy as np

        raw = np.atleast_2d(np.asarray(raw, dtype=float))
        if raw.shape[1] == len(self.datasets):
            return raw
        if raw.shape[1] == self._width:
            return raw[:, self._columns]
        raise BadInputError(f"score matrix has {raw.shape[1]} columns; expected {len(self.datasets)} selected "
                            f"or {self._width} registry datasets")

    def capability_scores(self, raw: Any) -> Any:
        """[systems, capabilities] normalised capability scores; ``raw`` is [systems, datasets] (NaN = missing)."""
        raw = self._selected(raw)
        if self.mode == "mean":
            norm = 100.0 * raw / self.baseline
            return self._propagate(self._propagate(norm, self.to_task), self.to_cap)
        caps = self._propagate(self._propagate(raw, self.to_task), self.to_cap)
        base = (self.baseline @ self.to_task) @ self.to_cap
        return 100.0 * caps / base

    def index(self, raw: Any) -> Any:
        """[systems] Index values (NaN where a selected dataset is missing)."""
        raw = self._selected(raw)
        if self.mode == "mean":
            return self._propagate(self.capability_scores(raw), self.to_index)[:, 0]
        caps_raw = self._propagate(self._propagate(raw, self.to_task), self.to_cap)
        base = ((self.baseline @ self.to_task) @ self.to_cap) @ self.to_index
        return 100.0 * self._propagate(caps_raw, self.to_index)[:, 0] / base[0]
