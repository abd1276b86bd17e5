"""Transfer on a VG-150-sized synthetic split, stage by stage, and the vectorised internal transfer vs a loop.

Run: .venv/bin/python benchmarks/ietrans/bench_transfer.py [--images 58000]
The issue's target: the whole transfer (KB, candidates, internal, external, merge) under 60 s on this CPU.
The split is random (Zipf classes and predicates, ~12 objects and ~7 relations per image); only its size
and skew matter here. Random probabilities stand in for a model's.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from tenfold.ietrans.scene_graphs import SceneGraphs, select_images
from tenfold.ietrans.transfer import (
    external_candidates,
    external_transfer,
    internal_transfer,
    knowledge_base,
    merge_transfers,
)


def vg_sized_split(images: int, seed: int = 0, num_classes: int = 150, num_predicates: int = 50) -> SceneGraphs:
    rng = np.random.default_rng(seed)
    counts = rng.integers(4, 21, images)  # ~12 objects per image
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_obj = int(offsets[-1])
    class_p = 1.0 / np.arange(1, num_classes + 1) ** 0.9
    labels = rng.choice(np.arange(1, num_classes + 1), n_obj, p=class_p / class_p.sum())
    xy = rng.uniform(0, 0.8, (n_obj, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.05, 0.4, (n_obj, 2))], axis=1).astype(np.float32)
    rel_counts = rng.integers(1, 13, images)  # ~7 relations per image, ~400k at 58k images
    image = np.repeat(np.arange(images), rel_counts)
    n = counts[image]
    i = rng.integers(0, n)
    j = (i + rng.integers(1, n)) % n
    pred_p = 1.0 / np.arange(1, num_predicates + 1) ** 1.3
    predicates = rng.choice(np.arange(1, num_predicates + 1), len(image), p=pred_p / pred_p.sum())
    relations = np.stack([offsets[image] + i, offsets[image] + j, predicates], axis=1)
    relations = np.unique(relations, axis=0)  # sorted by subject, hence by image
    return SceneGraphs(labels, boxes, offsets, relations, num_classes, num_predicates)


def random_probabilities(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    logits = rng.standard_normal((rows, width), dtype=np.float32) * 2
    logits = np.exp(logits - logits.max(axis=1, keepdims=True))
    return logits / logits.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=58_000)
    parser.add_argument("--loop-images", type=int, default=3_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    graphs = vg_sized_split(args.images)
    print(f"split: {graphs.num_images} images, {len(graphs.object_labels)} objects, {graphs.num_relations} relations "
          f"({time.perf_counter() - start:.1f} s to generate)")
    rel_probs = random_probabilities(rng, graphs.num_relations, graphs.num_predicates + 1)
    stages = {}
    t = time.perf_counter()
    kb = knowledge_base(graphs)
    stages["knowledge base"] = time.perf_counter() - t
    t = time.perf_counter()
    candidates = external_candidates(graphs, kb)
    stages["candidates"] = time.perf_counter() - t
    cand_probs = random_probabilities(rng, len(candidates), graphs.num_predicates + 1)
    t = time.perf_counter()
    internal = internal_transfer(graphs, rel_probs, 0.7)
    stages["internal transfer"] = time.perf_counter() - t
    t = time.perf_counter()
    external = external_transfer(graphs, candidates, cand_probs, 1.0, head_predicates=list(range(1, 16)), kb=kb)
    stages["external transfer"] = time.perf_counter() - t
    t = time.perf_counter()
    merged = merge_transfers(graphs, internal.predicates, external.relations)
    stages["merge"] = time.perf_counter() - t
    total = sum(stages.values())
    for name, seconds in stages.items():
        print(f"  {name:18s} {seconds:7.2f} s")
    print(f"  {'total':18s} {total:7.2f} s  (target < 60 s)  candidates {len(candidates)}, "
          f"relabelled {internal.report['changed']}, added {external.report['added']}, relations {merged.num_relations}")

    # Vectorised vs the official-style loop over triplet types, on a subset both finish quickly.
    spec = importlib.util.spec_from_file_location("naive", Path(__file__).with_name("naive_transfer.py"))
    naive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(naive)
    subset = select_images(graphs, np.arange(args.loop_images))
    probs = random_probabilities(rng, subset.num_relations, subset.num_predicates + 1).astype(np.float64)
    s, p, o = subset.triplet_classes()
    t = time.perf_counter()
    looped = naive.naive_internal_transfer(s, p, o, probs, 0.7)
    loop_seconds = time.perf_counter() - t
    t = time.perf_counter()
    vectorised = internal_transfer(subset, probs, 0.7).predicates
    vector_seconds = time.perf_counter() - t
    assert np.array_equal(looped, vectorised), "vectorised and loop transfers disagree"
    print(f"internal transfer on {subset.num_relations} relations: loop {loop_seconds:.2f} s, "
          f"vectorised {vector_seconds:.3f} s, ratio {loop_seconds / max(vector_seconds, 1e-9):.1f}x (same output)")


if __name__ == "__main__":
    main()
