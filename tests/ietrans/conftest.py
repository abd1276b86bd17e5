"""Fixtures for the ietrans tests: small hand-built scene graphs and probability rows."""

from __future__ import annotations

import numpy as np
import pytest

from tenfold.ietrans.scene_graphs import SceneGraphs


def one_pair_per_image(triplets: list[tuple[int, int, int]], num_classes: int, num_predicates: int) -> SceneGraphs:
    """Each (subject class, predicate, object class) triplet in its own two-object image, boxes overlapping."""
    n = len(triplets)
    labels = np.array([[s, o] for s, _, o in triplets], np.int64).reshape(-1)
    boxes = np.tile(np.array([[0.1, 0.1, 0.5, 0.5], [0.3, 0.3, 0.8, 0.8]], np.float32), (n, 1))
    relations = np.array([[2 * k, 2 * k + 1, p] for k, (_, p, _) in enumerate(triplets)], np.int64).reshape(-1, 3)
    return SceneGraphs(
        object_labels=labels,
        boxes=boxes,
        object_offsets=np.arange(0, 2 * n + 1, 2, dtype=np.int64),
        relations=relations,
        num_object_classes=num_classes,
        num_predicates=num_predicates,
    )


def probabilities(rows: list[list[float]]) -> np.ndarray:
    """Rows of foreground weights -> (n, P + 1) probabilities with a small background mass."""
    fg = np.asarray(rows, np.float64)
    fg = fg / fg.sum(axis=1, keepdims=True) * 0.9
    return np.concatenate([np.full((len(fg), 1), 0.1), fg], axis=1)


@pytest.fixture
def make_graphs():
    return one_pair_per_image


@pytest.fixture
def make_probabilities():
    return probabilities
