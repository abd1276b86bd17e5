"""IETrans data transfer as pure functions of (scene graphs, model probabilities, parameters).

Internal transfer (spec 1.3) relabels general predicates on annotated pairs to the informative predicates
the model confuses them with; external transfer (spec 1.4) labels confidently non-background unannotated
pairs. Every stage is a numpy group-by (``np.unique`` / ``bincount`` / ``lexsort``): no per-relation loop.
Probabilities are over all P + 1 classes (index 0 = background); renormalising a slice of softmax(z)
equals the softmax of that slice of z, so logits from any model work through :func:`softmax`.

Choices that the paper leaves open, stated once:

- Rounding of k x pool size. ``floor`` (default) is floor(k n) with a 1e-9 guard, so 0.7 x 30 keeps 21
  although 0.7 * 30 is 20.999999999999996 in floating point; ``official`` is the official code's
  ``int(k * n)`` on doubles, which keeps 20 there (use it to match the official output bit for bit);
  ``round`` and ``ceil`` are offered for small data. With any floor, a pool smaller than 1 / k moves
  nothing: k_I = 0.7 never relabels a pool of one, and a tiny k_E (k_E x candidates < 1) adds no external
  relation at all; the report says so through ``kept = 0``.
- Ties. Pools are ranked by (-P(target), relation index), candidates by (NA score, candidate index): stable,
  so the output is a pure function of the inputs. A relation picked by several targets takes the one
  with the highest attraction A; equal A goes to the lowest predicate id (the official loop keeps the
  first target it meets, so its result depends on the order it visits triplet types; ours does not).
- Merge. Internal labels stay on every annotated pair; an external triplet is added only on a pair that
  is not annotated, over the union of images (spec 1.4 step 6). The official VG-50 ``combine.py`` compares
  (n_ext, 2, 1) with (1, 2, n_int) and reduces ``all`` over the annotated pairs instead of over the two
  coordinates, so it drops an external pair whose subject equals the subject of every annotated pair of
  the image, or whose object equals every annotated object (always, in an image with one annotated
  relation that shares either end): about 2.4% of external relations. It also loops only over images that
  have external candidates. We follow the paper and keep both.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.scene_graphs import (
    SceneGraphs,
    annotated_pair_mask,
    boxes_overlap,
    ordered_pairs,
    pair_index,
)

ROUNDING = ("floor", "official", "round", "ceil")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def check_probabilities(probabilities: np.ndarray, rows: int, num_predicates: int, what: str) -> np.ndarray:
    """Validate a (rows, P + 1) probability array: shape, finiteness, non-negativity; returns float64."""
    array = np.asarray(probabilities)
    if array.ndim != 2 or array.shape[1] != num_predicates + 1:
        raise BadInputError(
            f"{what} has shape {array.shape}; expected ({rows}, {num_predicates + 1}): one column per predicate "
            "plus background at column 0"
        )
    if array.shape[0] != rows:
        raise BadInputError(f"{what} has {array.shape[0]} rows but there are {rows} {what.split()[0]} entries to score")
    # float32 stays float32: candidate arrays of a VG-sized split are millions of rows.
    array = array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise BadInputError(f"{what} contains NaN or infinite values")
    if np.any(array < 0):
        raise BadInputError(f"{what} contains negative values; pass probabilities (or logits through softmax)")
    return array


def _keep_count(n: np.ndarray, share: float, rounding: str) -> np.ndarray:
    """How many of a pool of n to take for a share k: floor, official int(k * n), round or ceil of k * n."""
    raw = share * n.astype(np.float64)
    if rounding == "floor":
        return np.floor(raw + 1e-9).astype(np.int64)
    if rounding == "official":
        return np.trunc(raw).astype(np.int64)
    if rounding == "ceil":
        return np.ceil(raw - 1e-9).astype(np.int64)
    return np.floor(raw + 0.5).astype(np.int64)


def _check_share(value: float, name: str) -> float:
    if not (0.0 <= float(value) <= 1.0):
        raise BadConfigError(f"{name}={value} is outside [0, 1]; it is the share of each pool to relabel")
    return float(value)


@dataclass
class AttractionTable:
    """Counts N(s, p, o) per observed class pair and N(p); attraction A(s, p, o) = N(s, p, o) / N(p)."""

    pair_keys: np.ndarray  # (n_pairs,) sorted keys s * (C + 1) + o
    counts: np.ndarray  # (n_pairs, P + 1) int64, column 0 unused
    predicate_counts: np.ndarray  # (P + 1,) int64

    @property
    def attraction(self) -> np.ndarray:
        """A per (class pair, predicate); predicates with N(p) = 0 get 0 (they are never transfer targets)."""
        totals = np.where(self.predicate_counts > 0, self.predicate_counts, 1)
        return self.counts / totals[None, :]


def attraction_table(graphs: SceneGraphs) -> tuple[AttractionTable, np.ndarray]:
    """Count triplets of the (original) labels; returns the table and each relation's class-pair row."""
    s, p, o = graphs.triplet_classes()
    width = graphs.num_predicates + 1
    keys = s * (graphs.num_object_classes + 1) + o
    pair_keys, pair_of_relation = np.unique(keys, return_inverse=True)
    counts = np.bincount(pair_of_relation * width + p, minlength=len(pair_keys) * width).reshape(-1, width)
    predicate_counts = np.bincount(p, minlength=width)
    return AttractionTable(pair_keys, counts.astype(np.int64), predicate_counts.astype(np.int64)), pair_of_relation


@dataclass
class InternalTransfer:
    """Result of internal transfer: the new predicate of every relation and a JSON-able report."""

    predicates: np.ndarray  # (n_rel,) new predicate per relation
    changed: np.ndarray  # (n_rel,) bool
    report: dict[str, Any] = field(default_factory=dict)


def internal_transfer(
    graphs: SceneGraphs,
    relation_probabilities: np.ndarray,
    k_int: float = 0.7,
    *,
    rounding: str = "floor",
) -> InternalTransfer:
    """Relabel general predicates to informative ones (spec 1.3).

    ``relation_probabilities`` (n_rel, P + 1) are the base model's probabilities for each annotated relation.
    For each triplet type t = (s, p, o): the confusion set is the predicates ranked above p by the summed
    foreground distribution; kept sources g have A(s, g, o) < A(s, p, o); the pool (relations of (s, o)
    labelled with a kept g) is ranked by P(p) (stable, ties by relation index) and the top k_int * |pool|
    (rounded as ``rounding`` says; see the module notes) become p. A relation picked by several targets takes the one with the highest A (ties: lowest predicate id).
    """
    k_int = _check_share(k_int, "k_int")
    if rounding not in ROUNDING:
        raise BadConfigError(f"rounding={rounding!r}; use one of {', '.join(ROUNDING)}")
    n_rel = graphs.num_relations
    num_p = graphs.num_predicates
    probabilities = check_probabilities(relation_probabilities, n_rel, num_p, "relation probabilities")
    original = graphs.relations[:, 2].copy()
    table, pair_of_relation = attraction_table(graphs)
    zero = [int(p) for p in np.flatnonzero(table.predicate_counts[1:] == 0) + 1]
    report: dict[str, Any] = {
        "k_int": k_int,
        "rounding": rounding,
        "relations": n_rel,
        "predicates_without_instances": zero,
    }
    if n_rel == 0 or k_int == 0.0:
        report.update(changed=0, transfers=[], transfer_pairs=0)
        return InternalTransfer(original, np.zeros(n_rel, bool), report)

    foreground = probabilities[:, 1:]
    mass = foreground.sum(axis=1, keepdims=True)
    if np.any(mass <= 0):
        raise BadInputError("relation probabilities have a row with zero foreground mass; cannot rank predicates")
    q = (foreground / mass).astype(np.float64)  # (n_rel, P): softmax over foreground, background dropped

    width = num_p + 1
    type_keys, type_of_relation = np.unique(pair_of_relation * width + original, return_inverse=True)
    order = np.argsort(type_of_relation, kind="stable")
    type_sizes = np.bincount(type_of_relation, minlength=len(type_keys))
    type_starts = np.concatenate([[0], np.cumsum(type_sizes)[:-1]])
    from scipy import sparse

    # (T, P) summed distribution per type, as a sparse (type x relation) indicator product: one pass over q.
    indicator = sparse.csr_matrix(
        (np.ones(n_rel), (type_of_relation, np.arange(n_rel))), shape=(len(type_keys), n_rel)
    )
    confusion = np.asarray(indicator @ q)
    type_pair = type_keys // width
    type_predicate = type_keys % width

    attraction = table.attraction
    target_attraction = attraction[type_pair, type_predicate]  # (T,)
    own = confusion[np.arange(len(type_keys)), type_predicate - 1][:, None]
    predicate_ids = np.arange(1, width)[None, :]
    # Strictly above p in a stable descending sort: larger mass, or equal mass and a smaller id.
    above = (confusion > own) | ((confusion == own) & (predicate_ids < type_predicate[:, None]))
    source_attraction = attraction[type_pair, 1:]
    # 0 < A(s, g, o) < A(s, p, o): g is more general here and has relations of (s, o) to move.
    edge_target, edge_source_column = np.nonzero(
        above & (source_attraction < target_attraction[:, None]) & (source_attraction > 0)
    )
    edge_source_type = np.searchsorted(type_keys, type_pair[edge_target] * width + edge_source_column + 1)

    # Expand every (target, source type) edge into the source type's relations: the target's pool.
    sizes = type_sizes[edge_source_type]
    total = int(sizes.sum())
    pool_target = np.repeat(edge_target, sizes)
    within = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pool_relation = order[np.repeat(type_starts[edge_source_type], sizes) + within]
    pool_score = q[pool_relation, type_predicate[pool_target] - 1]
    ranked = np.lexsort((pool_relation, -pool_score, pool_target))
    pool_target, pool_relation = pool_target[ranked], pool_relation[ranked]
    pool_sizes = np.bincount(pool_target, minlength=len(type_keys))
    pool_starts = np.concatenate([[0], np.cumsum(pool_sizes)[:-1]])
    rank = np.arange(total) - pool_starts[pool_target]
    selected = rank < _keep_count(pool_sizes, k_int, rounding)[pool_target]
    chosen_target, chosen_relation = pool_target[selected], pool_relation[selected]

    # Conflicts: the highest-attraction target wins; exact ties go to the lowest predicate id.
    pick = np.lexsort((type_predicate[chosen_target], -target_attraction[chosen_target], chosen_relation))
    chosen_target, chosen_relation = chosen_target[pick], chosen_relation[pick]
    first = np.concatenate([[True], chosen_relation[1:] != chosen_relation[:-1]]) if len(pick) else np.zeros(0, bool)
    new = original.copy()
    new[chosen_relation[first]] = type_predicate[chosen_target[first]]
    changed = new != original
    report.update(
        changed=int(changed.sum()),
        transfer_pairs=int(len(edge_target)),
        transfers=_transfer_rows(graphs, original, new, changed),
    )
    return InternalTransfer(new, changed, report)


def _transfer_rows(graphs: SceneGraphs, before: np.ndarray, after: np.ndarray, changed: np.ndarray) -> list[dict]:
    """Per (subject class, from, object class, to): how many relations moved, most first."""
    if not changed.any():
        return []
    s, _, o = graphs.triplet_classes()
    width_p, width_c = graphs.num_predicates + 1, graphs.num_object_classes + 1
    key = ((s[changed] * width_p + before[changed]) * width_c + o[changed]) * width_p + after[changed]
    unique, counts = np.unique(key, return_counts=True)
    target, rest = unique % width_p, unique // width_p
    obj, rest = rest % width_c, rest // width_c
    source, subject = rest % width_p, rest // width_p
    order = np.lexsort((target, source, -counts))
    names = graphs.predicate_names
    out = []
    for k in order.tolist():
        row = {"subject": int(subject[k]), "object": int(obj[k]), "from": int(source[k]), "to": int(target[k]),
               "count": int(counts[k])}
        if names:
            row["from_name"], row["to_name"] = names[source[k]], names[target[k]]
        out.append(row)
    return out


@dataclass
class KnowledgeBase:
    """Predicates seen per (subject class, object class) in the training annotations (VGKB.json)."""

    pair_keys: np.ndarray  # (n,) sorted s * (C + 1) + o
    allowed: np.ndarray  # (n, P + 1) bool, column 0 False
    num_object_classes: int

    def rows(self, subject_classes: np.ndarray, object_classes: np.ndarray) -> np.ndarray:
        """KB row of each class pair, -1 where the pair was never annotated."""
        width = self.num_object_classes + 1
        keys = subject_classes * width + object_classes
        if width * width <= 50_000_000:  # a dense table beats a binary search (VG-150: 22,801 cells)
            table = np.full(width * width, -1, np.int64)
            table[self.pair_keys] = np.arange(len(self.pair_keys))
            return table[keys]
        row = np.minimum(np.searchsorted(self.pair_keys, keys), max(len(self.pair_keys) - 1, 0))
        found = (self.pair_keys[row] == keys) if len(self.pair_keys) else np.zeros(len(keys), bool)
        return np.where(found, row, -1)

    def lookup(self, subject_classes: np.ndarray, object_classes: np.ndarray) -> np.ndarray:
        """(n, P + 1) allowed-predicate masks for class pairs; all False for pairs never annotated."""
        row = self.rows(subject_classes, object_classes)
        result = np.zeros((len(row), self.allowed.shape[1]), bool)
        result[row >= 0] = self.allowed[row[row >= 0]]
        return result

    def to_json(self) -> dict[str, list[int]]:
        """The official ``VGKB.json`` layout: {"s_o": [predicates]}."""
        width = self.num_object_classes + 1
        return {
            f"{key // width}_{key % width}": [int(p) for p in np.flatnonzero(row)]
            for key, row in zip(self.pair_keys.tolist(), self.allowed, strict=True)
        }


def knowledge_base(graphs: SceneGraphs) -> KnowledgeBase:
    """Build the KB from the annotations: no zero-shot triplets can be created by external transfer."""
    table, _ = attraction_table(graphs)
    allowed = table.counts > 0
    allowed[:, 0] = False
    return KnowledgeBase(table.pair_keys, allowed, graphs.num_object_classes)


@dataclass
class Candidates:
    """Unannotated, overlapping ordered pairs whose class pair has KB predicates (spec 1.4 step 2)."""

    subject: np.ndarray  # (n,) global object index
    object: np.ndarray  # (n,)
    pair_rows: np.ndarray  # (n,) row in ordered_pairs(graphs)

    def __len__(self) -> int:
        return len(self.subject)


def external_candidates(graphs: SceneGraphs, kb: KnowledgeBase | None = None) -> Candidates:
    """Every ordered pair i != j that is unannotated, whose boxes intersect, and whose class pair is in the KB."""
    kb = kb or knowledge_base(graphs)
    subject, obj, _ = ordered_pairs(graphs)
    rows = np.flatnonzero(~annotated_pair_mask(graphs))
    rows = rows[boxes_overlap(graphs.boxes[subject[rows]], graphs.boxes[obj[rows]])]
    labels = graphs.object_labels
    # Every KB row has at least one predicate, so "in the KB" means "non-empty KB entry".
    rows = rows[kb.rows(labels[subject[rows]], labels[obj[rows]]) >= 0]
    return Candidates(subject[rows], obj[rows], rows)


@dataclass
class ExternalTransfer:
    """New relations (subject, object, predicate) from unannotated pairs, and a JSON-able report."""

    relations: np.ndarray  # (n_new, 3)
    na_scores: np.ndarray  # (n_candidates,) background probability within KB ∪ {0}
    report: dict[str, Any] = field(default_factory=dict)


def external_transfer(
    graphs: SceneGraphs,
    candidates: Candidates,
    candidate_probabilities: np.ndarray,
    k_ext: float = 1.0,
    *,
    head_predicates: tuple[int, ...] | list[int] = (),
    kb: KnowledgeBase | None = None,
    rounding: str = "floor",
) -> ExternalTransfer:
    """Label the k_ext share of candidates the model is surest are not background (spec 1.4).

    NA score = P(background) after restricting to KB ∪ {0}; candidates sorted by it ascending (stable); the
    first k_ext * n (rounded as ``rounding`` says) keep label argmax over their KB predicates; then head
    predicates are dropped.
    """
    k_ext = _check_share(k_ext, "k_ext")
    if rounding not in ROUNDING:
        raise BadConfigError(f"rounding={rounding!r}; use one of {', '.join(ROUNDING)}")
    num_p = graphs.num_predicates
    head = np.asarray(list(head_predicates), dtype=np.int64)
    unknown = head[(head < 1) | (head > num_p)]
    if len(unknown):
        raise BadConfigError(f"head predicates {unknown.tolist()} are not predicate ids in 1..{num_p}")
    n = len(candidates)
    probabilities = check_probabilities(candidate_probabilities, n, num_p, "candidate probabilities")
    kb = kb or knowledge_base(graphs)
    report: dict[str, Any] = {"k_ext": k_ext, "candidates": n, "head_predicates": head.tolist()}
    if n == 0:
        report.update(kept=0, head_dropped=0, added=0, added_per_predicate={})
        return ExternalTransfer(np.zeros((0, 3), np.int64), np.zeros(0), report)
    labels = graphs.object_labels
    allowed = kb.lookup(labels[candidates.subject], labels[candidates.object])
    restricted = np.where(allowed, probabilities, 0.0)
    restricted[:, 0] = probabilities[:, 0]
    total = restricted.sum(axis=1)
    # A row with no mass on KB ∪ {0} counts as certain background.
    na = np.divide(restricted[:, 0], total, out=np.ones(n, dtype=restricted.dtype), where=total > 0)
    predicate = np.argmax(np.where(allowed[:, 1:], restricted[:, 1:], -1.0), axis=1) + 1
    order = np.lexsort((np.arange(n), na))
    kept = order[: int(_keep_count(np.array([n]), k_ext, rounding)[0])]
    not_head = ~np.isin(predicate[kept], head)
    final = np.sort(kept[not_head])
    relations = np.stack([candidates.subject[final], candidates.object[final], predicate[final]], axis=1)
    histogram = np.bincount(relations[:, 2], minlength=num_p + 1)
    report.update(
        kept=int(len(kept)),
        head_dropped=int((~not_head).sum()),
        added=int(len(final)),
        added_per_predicate={str(p): int(c) for p, c in enumerate(histogram) if c and p},
    )
    return ExternalTransfer(relations.astype(np.int64), na, report)


def merge_transfers(graphs: SceneGraphs, internal_predicates: np.ndarray, external: np.ndarray) -> SceneGraphs:
    """Internal labels on annotated pairs plus external triplets on pairs not already annotated (internal wins)."""
    internal = graphs.relations.copy()
    internal[:, 2] = internal_predicates
    external = np.asarray(external, dtype=np.int64).reshape(-1, 3)
    if len(external):
        taken = np.zeros(int(annotated_pair_mask(graphs).size), bool)
        taken[pair_index(graphs, internal[:, 0], internal[:, 1])] = True
        external = external[~taken[pair_index(graphs, external[:, 0], external[:, 1])]]
    return graphs.with_relations(np.concatenate([internal, external], axis=0))


@dataclass
class TransferConfig:
    """IETrans knobs (official VG-50 defaults): shares of each pool, head exclusion, rounding of k * n
    (floor, official, round, ceil: see the module notes)."""

    k_int: float = 0.7
    k_ext: float = 1.0
    head_predicates: tuple[int, ...] = ()
    rounding: str = "floor"
    internal: bool = True
    external: bool = True

    def validate(self) -> None:
        _check_share(self.k_int, "k_int")
        _check_share(self.k_ext, "k_ext")
        if self.rounding not in ROUNDING:
            raise BadConfigError(f"rounding={self.rounding!r}; use one of {', '.join(ROUNDING)}")


@dataclass
class TransferResult:
    """The enhanced training set, its report, and the intermediate results."""

    graphs: SceneGraphs
    report: dict[str, Any]
    internal: InternalTransfer | None
    external: ExternalTransfer | None


def ietrans_transfer(
    graphs: SceneGraphs,
    relation_probabilities: np.ndarray | None,
    candidates: Candidates | None,
    candidate_probabilities: np.ndarray | None,
    config: TransferConfig | None = None,
) -> TransferResult:
    """Internal then external transfer and the merge, as one pure function with a JSON report."""
    config = config or TransferConfig()
    config.validate()
    report: dict[str, Any] = {"config": {k: v for k, v in vars(config).items()}}
    before = np.bincount(graphs.relations[:, 2], minlength=graphs.num_predicates + 1)
    internal = None
    predicates = graphs.relations[:, 2].copy()
    if config.internal:
        if relation_probabilities is None:
            raise BadInputError("internal transfer needs probabilities for every annotated training relation")
        internal = internal_transfer(graphs, relation_probabilities, config.k_int, rounding=config.rounding)
        predicates = internal.predicates
        report["internal"] = internal.report
    external = None
    if config.external:
        if candidates is None or candidate_probabilities is None:
            warnings.warn("no candidate probabilities given: external transfer skipped", stacklevel=2)
        else:
            external = external_transfer(
                graphs,
                candidates,
                candidate_probabilities,
                config.k_ext,
                head_predicates=config.head_predicates,
                rounding=config.rounding,
            )
            report["external"] = external.report
    enhanced = merge_transfers(graphs, predicates, external.relations if external is not None else np.zeros((0, 3)))
    after = np.bincount(enhanced.relations[:, 2], minlength=graphs.num_predicates + 1)
    report["histogram_before"] = before[1:].tolist()
    report["histogram_after"] = after[1:].tolist()
    report["relations_before"] = int(graphs.num_relations)
    report["relations_after"] = int(enhanced.num_relations)
    return TransferResult(enhanced, report, internal, external)
