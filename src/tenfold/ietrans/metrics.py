"""Scene-graph metrics: PredCls R@K, mR@K, F@K (graph-constrained or not) and VG-1800 Acc/mAcc/F-Acc/Non-Zero.

No library implements these, so they are written here (spec 3) and unit-tested on hand-computed cases.
Scores come as probabilities over P + 1 classes for every ordered pair of :func:`ordered_pairs`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.scene_graphs import SceneGraphs, clean_relations, pair_index, pair_offsets

KS = (20, 50, 100)


def f_score(recall: float, mean_recall: float) -> float:
    """Harmonic mean of R and mR, the paper's single overall number (0 when both are 0)."""
    total = recall + mean_recall
    return 0.0 if total <= 0 else 2.0 * recall * mean_recall / total


def _gt_hits(
    graphs: SceneGraphs, probabilities: np.ndarray, gt: np.ndarray, ks: tuple[int, ...], graph_constraint: bool
) -> np.ndarray:
    """(n_gt, len(ks)) bool: is each GT triplet among its image's top-K predictions."""
    num_p = graphs.num_predicates
    rows = pair_index(graphs, gt[:, 0], gt[:, 1])
    starts = pair_offsets(graphs.object_offsets)
    image_of_gt = graphs.object_image[gt[:, 0]]
    hits = np.zeros((len(gt), len(ks)), bool)
    if graph_constraint:
        foreground = probabilities[:, 1:]
        predicted = foreground.argmax(axis=1) + 1
        score = foreground.max(axis=1)
        pair_image = np.repeat(np.arange(graphs.num_images), np.diff(starts))
        order = np.lexsort((np.arange(len(score)), -score, pair_image))
        rank = np.empty(len(score), np.int64)
        rank[order] = np.arange(len(score)) - starts[:-1][pair_image[order]]
        correct = predicted[rows] == gt[:, 2]
        for column, k in enumerate(ks):
            hits[:, column] = correct & (rank[rows] < k)
        return hits
    # Without the constraint every (pair, predicate) competes; only the top max(ks) of each pair can matter.
    top = min(max(ks), num_p)
    for first_image in range(0, graphs.num_images, 2048):
        last_image = min(first_image + 2048, graphs.num_images)
        lo, hi = starts[first_image], starts[last_image]
        block = probabilities[lo:hi, 1:]
        if block.size == 0:
            continue
        part = np.argpartition(-block, top - 1, axis=1)[:, :top] if top < num_p else np.tile(np.arange(num_p), (len(block), 1))
        entry_score = np.take_along_axis(block, part, axis=1).ravel()
        entry_pair = np.repeat(np.arange(lo, hi), part.shape[1])
        entry_predicate = part.ravel() + 1
        counts = np.diff(starts[first_image : last_image + 1]) * part.shape[1]
        entry_image = np.repeat(np.arange(first_image, last_image), counts)
        order = np.lexsort((entry_predicate, entry_pair, -entry_score, entry_image))
        entry_starts = np.concatenate([[0], np.cumsum(counts)])
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order)) - entry_starts[:-1][entry_image[order] - first_image]
        key = entry_pair * (num_p + 1) + entry_predicate
        sorter = np.argsort(key)
        mine = (image_of_gt >= first_image) & (image_of_gt < last_image)
        gt_key = rows[mine] * (num_p + 1) + gt[mine, 2]
        position = np.searchsorted(key, gt_key, sorter=sorter)
        position = np.minimum(position, len(key) - 1)
        found = key[sorter[position]] == gt_key
        gt_rank = np.where(found, rank[sorter[position]], np.iinfo(np.int64).max)
        for column, k in enumerate(ks):
            hits[mine, column] = gt_rank < k
    return hits


def recall_metrics(
    graphs: SceneGraphs,
    pair_probabilities: np.ndarray,
    *,
    ks: tuple[int, ...] = KS,
    graph_constraint: bool = True,
    mean_over: str = "all",
) -> dict[str, Any]:
    """PredCls R@K, mR@K, F@K and per-predicate recall@K against ``graphs.relations``.

    Duplicate GT triplets are removed; multi-label pairs keep every label; images without GT are skipped.
    ``mean_over="all"`` averages mR over all P predicates (absent ones count 0, the official convention);
    ``"present"`` averages over predicates present in the GT.
    """
    if mean_over not in ("all", "present"):
        raise BadConfigError(f"mean_over={mean_over!r}; use 'all' or 'present'")
    if any(k < 1 for k in ks):
        raise BadConfigError(f"K values must be positive, got {ks}")
    num_p = graphs.num_predicates
    n_pairs = int(pair_offsets(graphs.object_offsets)[-1])
    probabilities = np.asarray(pair_probabilities, dtype=np.float64)
    if probabilities.shape != (n_pairs, num_p + 1):
        raise BadInputError(f"pair probabilities have shape {probabilities.shape}; expected ({n_pairs}, {num_p + 1})")
    if not np.all(np.isfinite(probabilities)):
        raise BadInputError("pair probabilities contain NaN or infinite values")
    gt, _, _ = clean_relations(graphs.relations)
    gt = gt[np.argsort(graphs.object_image[gt[:, 0]], kind="stable")] if len(gt) else gt
    result: dict[str, Any] = {"images_evaluated": 0, "graph_constraint": graph_constraint, "mean_over": mean_over}
    if len(gt) == 0:
        warnings.warn("no ground-truth relations to evaluate against", stacklevel=2)
        for k in ks:
            result.update({f"R@{k}": 0.0, f"mR@{k}": 0.0, f"F@{k}": 0.0, f"per_predicate@{k}": [0.0] * num_p})
        return result
    hits = _gt_hits(graphs, probabilities, gt, ks, graph_constraint)
    image = graphs.object_image[gt[:, 0]]
    gt_per_image = np.bincount(image, minlength=graphs.num_images)
    evaluated = gt_per_image > 0
    result["images_evaluated"] = int(evaluated.sum())
    key = image * (num_p + 1) + gt[:, 2]
    cell_keys, cell_of_gt, cell_gt = np.unique(key, return_inverse=True, return_counts=True)
    cell_predicate = cell_keys % (num_p + 1)
    images_with = np.bincount(cell_predicate, minlength=num_p + 1)[1:]
    present = images_with > 0
    absent = [int(p) + 1 for p in np.flatnonzero(~present)]
    if absent and mean_over == "all":
        warnings.warn(f"{len(absent)} predicates are absent from the test set and count 0 in mR", stacklevel=2)
    result["absent_predicates"] = absent
    for column, k in enumerate(ks):
        hit = hits[:, column].astype(np.float64)
        per_image = np.bincount(image, weights=hit, minlength=graphs.num_images)[evaluated] / gt_per_image[evaluated]
        recall = float(per_image.mean())
        cell_recall = np.bincount(cell_of_gt, weights=hit, minlength=len(cell_keys)) / cell_gt
        summed = np.bincount(cell_predicate, weights=cell_recall, minlength=num_p + 1)[1:]
        per_predicate = np.divide(summed, images_with, out=np.zeros(num_p), where=present)
        mean_recall = float(per_predicate.mean() if mean_over == "all" else per_predicate[present].mean())
        result[f"R@{k}"] = recall
        result[f"mR@{k}"] = mean_recall
        result[f"F@{k}"] = f_score(recall, mean_recall)
        result[f"per_predicate@{k}"] = per_predicate.tolist()
    return result


def predicate_accuracy(
    labels: np.ndarray, probabilities: np.ndarray, *, ks: tuple[int, ...] = (1, 5, 10), num_classes: int | None = None
) -> dict[str, float]:
    """VG-1800 metrics on GT pairs: top-k Acc, mean per-class accuracy mAcc, F-Acc and Non-Zero classes.

    ``labels`` are foreground predicates 1..P; ``probabilities`` (n, P + 1). mAcc divides by all P classes.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_p = (num_classes or probabilities.shape[1] - 1)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), num_p + 1):
        raise BadInputError(f"probabilities have shape {probabilities.shape}; expected ({len(labels)}, {num_p + 1})")
    if len(labels) and (labels.min() < 1 or labels.max() > num_p):
        raise BadInputError(f"labels must be foreground predicates in 1..{num_p}")
    foreground = probabilities[:, 1:]
    order = np.argsort(-foreground, axis=1, kind="stable")
    result: dict[str, float] = {}
    class_totals = np.bincount(labels, minlength=num_p + 1)[1:]
    for k in ks:
        correct = (order[:, :k] + 1 == labels[:, None]).any(axis=1)
        per_class_hits = np.bincount(labels[correct], minlength=num_p + 1)[1:]
        per_class = np.divide(per_class_hits, class_totals, out=np.zeros(num_p), where=class_totals > 0)
        accuracy = float(correct.mean()) if len(labels) else 0.0
        mean_accuracy = float(per_class.sum() / num_p)
        result[f"Acc@{k}"] = accuracy
        result[f"mAcc@{k}"] = mean_accuracy
        result[f"F-Acc@{k}"] = f_score(accuracy, mean_accuracy)
        result[f"NonZero@{k}"] = int((per_class_hits > 0).sum())
    return result
