"""R@K, mR@K, F@K and VG-1800 accuracy on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.metrics import f_score, predicate_accuracy, recall_metrics
from tenfold.ietrans.scene_graphs import SceneGraphs, ordered_pairs, pair_index


@pytest.fixture
def two_images():
    graphs = SceneGraphs(
        object_labels=np.array([1, 1, 1, 1, 1]),
        boxes=np.array([[0, 0, 1, 1]] * 5, np.float32),
        object_offsets=np.array([0, 3, 5]),
        relations=np.array([[0, 1, 1], [0, 2, 2], [2, 1, 2], [2, 1, 2], [3, 4, 2]]),  # one exact duplicate
        num_object_classes=1,
        num_predicates=2,
    )
    probs = np.array(
        [
            [0.1, 0.8, 0.1],  # (0,1) -> 1 @ .8
            [0.5, 0.1, 0.4],  # (0,2) -> 2 @ .4
            [0.3, 0.6, 0.1],  # (1,0) -> 1 @ .6
            [0.2, 0.1, 0.7],  # (1,2) -> 2 @ .7
            [0.9, 0.05, 0.05],  # (2,0)
            [0.9, 0.06, 0.04],  # (2,1) -> 1 @ .06: the GT (2,1,2) is missed under the constraint
            [0.0, 0.3, 0.7],  # (3,4) -> 2 @ .7
            [0.0, 0.9, 0.1],  # (4,3) -> 1 @ .9
        ]
    )
    return graphs, probs


def test_pair_enumeration_is_row_major_and_invertible(two_images):
    graphs, _ = two_images
    subject, obj, image = ordered_pairs(graphs)
    assert list(zip(subject.tolist(), obj.tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)
    ]
    assert image.tolist() == [0] * 6 + [1] * 2
    np.testing.assert_array_equal(pair_index(graphs, subject, obj), np.arange(8))


def test_graph_constrained_recall_by_hand(two_images):
    graphs, probs = two_images
    m = recall_metrics(graphs, probs, ks=(1, 4))
    assert m["R@1"] == pytest.approx((1 / 3 + 0) / 2)
    assert m["R@4"] == pytest.approx((2 / 3 + 1) / 2)
    # predicate 1: image 0 recall 1; predicate 2: image 0 1/2, image 1 1 -> 0.75
    assert m["per_predicate@4"] == pytest.approx([1.0, 0.75])
    assert m["mR@4"] == pytest.approx(0.875)
    assert m["F@4"] == pytest.approx(f_score(5 / 6, 0.875))
    assert m["images_evaluated"] == 2


def test_unconstrained_recall_lets_a_pair_use_its_second_predicate(two_images):
    graphs, probs = two_images
    m = recall_metrics(graphs, probs, ks=(4, 12), graph_constraint=False)
    assert m["R@4"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["R@12"] == pytest.approx(1.0)


def test_absent_predicates_count_zero_or_are_skipped(two_images):
    graphs, probs = two_images
    graphs.num_predicates = 3
    probs = np.concatenate([probs, np.zeros((len(probs), 1))], axis=1)
    with pytest.warns(UserWarning, match="absent"):
        all_mean = recall_metrics(graphs, probs, ks=(4,))
    present = recall_metrics(graphs, probs, ks=(4,), mean_over="present")
    assert all_mean["mR@4"] == pytest.approx(1.75 / 3)
    assert present["mR@4"] == pytest.approx(0.875)
    assert all_mean["absent_predicates"] == [3]


def test_recall_rejects_bad_arguments(two_images):
    graphs, probs = two_images
    with pytest.raises(BadInputError, match="shape"):
        recall_metrics(graphs, probs[:-1])
    with pytest.raises(BadConfigError):
        recall_metrics(graphs, probs, mean_over="some")
    nan = probs.copy()
    nan[0, 0] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        recall_metrics(graphs, nan)


def test_f_score():
    assert f_score(0.0, 0.0) == 0.0
    assert f_score(0.64, 0.152) == pytest.approx(0.2456, abs=1e-3)  # Motif R@50 / mR@50 in Table 1


def test_vg1800_accuracy_by_hand():
    labels = np.array([1, 2, 2, 3])
    probs = np.array(
        [
            [0.0, 0.6, 0.3, 0.1],  # top-1 = 1: correct
            [0.0, 0.6, 0.3, 0.1],  # top-1 = 1, top-2 includes 2
            [0.0, 0.1, 0.8, 0.1],  # correct
            [0.0, 0.5, 0.4, 0.1],  # 3 is last
        ]
    )
    m = predicate_accuracy(labels, probs, ks=(1, 2))
    assert m["Acc@1"] == pytest.approx(0.5)
    assert m["mAcc@1"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["NonZero@1"] == 2
    assert m["Acc@2"] == pytest.approx(0.75)
    assert m["NonZero@2"] == 2
    assert m["F-Acc@1"] == pytest.approx(f_score(0.5, 0.5))
    with pytest.raises(BadInputError):
        predicate_accuracy(np.array([0]), probs[:1])
