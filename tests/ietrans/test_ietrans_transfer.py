"""Internal and external transfer on hand-computed cases and as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.scene_graphs import SceneGraphs
from tenfold.ietrans.transfer import (
    Candidates,
    TransferConfig,
    attraction_table,
    external_candidates,
    external_transfer,
    ietrans_transfer,
    internal_transfer,
    knowledge_base,
    merge_transfers,
    softmax,
)

ON, RIDING, OTHER = 1, 2, 3
MAN, HORSE, TABLE, CUP = 1, 2, 3, 4


def worked_example(make_graphs, make_probabilities):
    """Spec 1.3: (man, horse) 10x on, 4x riding; N(on) = 100, N(riding) = 10."""
    triplets = [(MAN, ON, HORSE)] * 10 + [(MAN, RIDING, HORSE)] * 4
    triplets += [(TABLE, ON, CUP)] * 90 + [(MAN, RIDING, CUP)] * 6
    graphs = make_graphs(triplets, 4, 3)
    rows = []
    for k in range(10):  # "on" instances: P(riding) rises with k, and riding outranks on for k >= 5
        riding = 0.1 + 0.08 * k
        rows.append([1.0 - riding, riding, 0.05])
    rows += [[0.6, 0.35, 0.05]] * 4  # riding instances: the model prefers "on"
    rows += [[0.9, 0.05, 0.05]] * 90
    rows += [[0.1, 0.85, 0.05]] * 6
    return graphs, make_probabilities(rows)


def test_attraction_factor_matches_the_worked_example(make_graphs, make_probabilities):
    graphs, _ = worked_example(make_graphs, make_probabilities)
    table, _ = attraction_table(graphs)
    row = int(np.searchsorted(table.pair_keys, MAN * 5 + HORSE))
    assert table.predicate_counts[ON] == 100 and table.predicate_counts[RIDING] == 10
    assert table.attraction[row, ON] == pytest.approx(0.10)
    assert table.attraction[row, RIDING] == pytest.approx(0.40)


def test_internal_transfer_moves_the_top_seven_on_to_riding(make_graphs, make_probabilities):
    graphs, probs = worked_example(make_graphs, make_probabilities)
    result = internal_transfer(graphs, probs, 0.7)
    moved = np.flatnonzero(result.changed)
    assert moved.tolist() == [3, 4, 5, 6, 7, 8, 9]  # the 7 "on" with the highest P(riding)
    assert np.all(result.predicates[moved] == RIDING)
    assert np.all(result.predicates[10:14] == RIDING)  # riding never flows back into on (A blocks it)
    assert result.report["changed"] == 7
    assert result.report["transfers"][0] == {"subject": MAN, "object": HORSE, "from": ON, "to": RIDING, "count": 7}


def test_zero_share_is_the_identity(make_graphs, make_probabilities):
    graphs, probs = worked_example(make_graphs, make_probabilities)
    result = internal_transfer(graphs, probs, 0.0)
    assert not result.changed.any()
    np.testing.assert_array_equal(result.predicates, graphs.relations[:, 2])


def test_floor_of_a_tiny_pool_moves_nothing_but_ceil_moves_one(make_graphs, make_probabilities):
    triplets = [(MAN, ON, HORSE), (MAN, RIDING, HORSE)] + [(TABLE, ON, CUP)] * 20 + [(MAN, RIDING, CUP)]
    graphs = make_graphs(triplets, 4, 3)
    probs = make_probabilities([[0.3, 0.6, 0.1], [0.6, 0.3, 0.1]] + [[0.9, 0.05, 0.05]] * 20 + [[0.1, 0.8, 0.1]])
    assert internal_transfer(graphs, probs, 0.7).report["changed"] == 0
    assert internal_transfer(graphs, probs, 0.7, rounding="ceil").predicates[0] == RIDING


def test_official_rounding_is_int_of_k_times_n_on_doubles():
    from tenfold.ietrans.transfer import _keep_count

    sizes = np.arange(0, 200)
    official = _keep_count(sizes, 0.7, "official")
    # A hand port of the official `int(len(idxs) * topk_percent)`.
    assert official.tolist() == [int(n * 0.7) for n in sizes.tolist()]
    assert official[90] == 62 and _keep_count(np.array([90]), 0.7, "floor")[0] == 63  # 90 * 0.7 = 62.99999999999999
    assert _keep_count(np.array([1]), 0.7, "official")[0] == 0  # a pool of one never moves


def test_official_rounding_changes_only_the_pools_where_floating_point_bites(make_graphs, make_probabilities):
    triplets = [(MAN, ON, HORSE)] * 90 + [(MAN, RIDING, HORSE)] * 10 + [(TABLE, ON, CUP)] * 900
    graphs = make_graphs(triplets, 4, 3)
    probs = make_probabilities([[0.3, 0.6, 0.1]] * 90 + [[0.6, 0.35, 0.05]] * 10 + [[0.9, 0.05, 0.05]] * 900)
    assert internal_transfer(graphs, probs, 0.7).report["changed"] == 63
    assert internal_transfer(graphs, probs, 0.7, rounding="official").report["changed"] == 62


def test_conflicts_go_to_the_target_with_highest_attraction(make_graphs, make_probabilities):
    # One "on" relation of (man, horse) is wanted by riding (A = 1/2) and by OTHER (A = 1/1).
    triplets = [(MAN, ON, HORSE), (MAN, RIDING, HORSE), (MAN, OTHER, HORSE)]
    triplets += [(TABLE, ON, CUP)] * 20 + [(TABLE, RIDING, CUP)]
    graphs = make_graphs(triplets, 4, 3)
    rows = [[0.2, 0.4, 0.4], [0.6, 0.3, 0.1], [0.6, 0.1, 0.3]] + [[0.9, 0.05, 0.05]] * 20 + [[0.1, 0.8, 0.1]]
    result = internal_transfer(graphs, make_probabilities(rows), 1.0)
    assert result.predicates[0] == OTHER


def test_internal_transfer_validates_its_inputs(make_graphs, make_probabilities):
    graphs, probs = worked_example(make_graphs, make_probabilities)
    with pytest.raises(BadConfigError, match="k_int"):
        internal_transfer(graphs, probs, 1.5)
    with pytest.raises(BadInputError, match="rows"):
        internal_transfer(graphs, probs[:-1], 0.7)
    with pytest.raises(BadInputError, match="shape"):
        internal_transfer(graphs, probs[:, :-1], 0.7)
    bad = probs.copy()
    bad[0, 1] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        internal_transfer(graphs, bad, 0.7)
    bad[0, 1] = -0.1
    with pytest.raises(BadInputError, match="negative"):
        internal_transfer(graphs, bad, 0.7)
    with pytest.raises(BadConfigError, match="rounding"):
        internal_transfer(graphs, probs, 0.7, rounding="up")


def test_predicates_without_instances_are_reported(make_graphs, make_probabilities):
    graphs, probs = worked_example(make_graphs, make_probabilities)
    graphs.num_predicates = 4
    probs = np.concatenate([probs, np.zeros((len(probs), 1))], axis=1)
    assert internal_transfer(graphs, probs, 0.7).report["predicates_without_instances"] == [3, 4]


@st.composite
def random_problem(draw):
    n = draw(st.integers(1, 40))
    num_c, num_p = 3, 4
    triplets = [
        (draw(st.integers(1, num_c)), draw(st.integers(1, num_p)), draw(st.integers(1, num_c))) for _ in range(n)
    ]
    seed = draw(st.integers(0, 2**16))
    k = draw(st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
    return triplets, seed, k


@settings(max_examples=40, deadline=None)
@given(random_problem())
def test_internal_transfer_properties(problem):
    """Never adds or removes relations, only moves mass from lower to higher attraction, deterministic."""
    triplets, seed, k = problem
    graphs = _graphs(triplets, 3, 4)
    rng = np.random.default_rng(seed)
    probs = softmax(rng.normal(0, 2, (len(triplets), 5)))
    first = internal_transfer(graphs, probs, k)
    second = internal_transfer(graphs, probs, k)
    np.testing.assert_array_equal(first.predicates, second.predicates)
    assert len(first.predicates) == graphs.num_relations
    table, pair_row = attraction_table(graphs)
    attraction = table.attraction
    old = graphs.relations[:, 2]
    moved = first.changed
    assert np.all(attraction[pair_row[moved], first.predicates[moved]] > attraction[pair_row[moved], old[moved]])
    if k == 0.0:
        assert not moved.any()


def _graphs(triplets, num_c, num_p) -> SceneGraphs:
    n = len(triplets)
    labels = np.array([[s, o] for s, _, o in triplets], np.int64).reshape(-1)
    return SceneGraphs(
        object_labels=labels,
        boxes=np.tile(np.array([[0, 0, 1, 1], [0.5, 0.5, 1.5, 1.5]], np.float32), (n, 1)),
        object_offsets=np.arange(0, 2 * n + 1, 2, dtype=np.int64),
        relations=np.array([[2 * i, 2 * i + 1, p] for i, (_, p, _) in enumerate(triplets)], np.int64),
        num_object_classes=num_c,
        num_predicates=num_p,
    )


def test_external_transfer_ranks_by_na_and_excludes_heads_after_the_cut():
    # One image, 3 objects; (0, 1) annotated with predicate 1; classes make (1,2) and (2,2) KB pairs.
    graphs = SceneGraphs(
        object_labels=np.array([1, 2, 2, 1, 2]),
        boxes=np.array([[0, 0, 2, 2], [1, 1, 3, 3], [1.5, 1.5, 4, 4], [0, 0, 2, 2], [1, 1, 3, 3]], np.float32),
        object_offsets=np.array([0, 3, 5]),
        relations=np.array([[0, 1, 1], [1, 2, 2], [3, 4, 3]]),
        num_object_classes=2,
        num_predicates=3,
    )
    kb = knowledge_base(graphs)
    assert kb.to_json() == {"1_2": [1, 3], "2_2": [2]}
    candidates = external_candidates(graphs, kb)
    pairs = sorted(zip(candidates.subject.tolist(), candidates.object.tolist(), strict=True))
    assert pairs == [(0, 2), (2, 1)]  # unannotated, overlapping, class pair in the KB
    probs = np.zeros((len(candidates), 4))
    order = {p: k for k, p in enumerate(zip(candidates.subject.tolist(), candidates.object.tolist(), strict=True))}
    probs[order[(0, 2)]] = [0.2, 0.1, 0.6, 0.1]  # KB {1, 3} ∪ {0}: na = 0.2/0.4, label 1 (0.1 vs 0.1 tie -> 1)
    probs[order[(2, 1)]] = [0.1, 0.0, 0.8, 0.1]  # KB {2} ∪ {0}: na = 0.1/0.9, label 2
    result = external_transfer(graphs, candidates, probs, 1.0, kb=kb)
    assert result.na_scores[order[(0, 2)]] == pytest.approx(0.5)
    assert result.relations.tolist() == [[0, 2, 1], [2, 1, 2]]
    half = external_transfer(graphs, candidates, probs, 0.5, kb=kb)  # floor(0.5 * 2) = 1: the lowest NA
    assert half.relations.tolist() == [[2, 1, 2]]
    no_head = external_transfer(graphs, candidates, probs, 0.5, kb=kb, head_predicates=[2])
    assert no_head.relations.tolist() == [] and no_head.report["head_dropped"] == 1  # not refilled after the cut
    with pytest.raises(BadConfigError, match="head predicates"):
        external_transfer(graphs, candidates, probs, 1.0, head_predicates=[7])
    with pytest.raises(BadConfigError, match="k_ext"):
        external_transfer(graphs, candidates, probs, -0.1)
    empty = Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert external_transfer(graphs, empty, np.zeros((0, 4)), 1.0).relations.shape == (0, 3)


def test_merge_keeps_internal_labels_and_adds_external_on_free_pairs():
    graphs = SceneGraphs(
        object_labels=np.array([1, 2, 2]),
        boxes=np.array([[0, 0, 2, 2], [1, 1, 3, 3], [1.5, 1.5, 4, 4]], np.float32),
        object_offsets=np.array([0, 3]),
        relations=np.array([[0, 1, 1]]),
        num_object_classes=2,
        num_predicates=3,
    )
    merged = merge_transfers(graphs, np.array([3]), np.array([[0, 1, 2], [1, 2, 2]]))
    assert merged.relations.tolist() == [[0, 1, 3], [1, 2, 2]]


def test_full_transfer_reports_histograms(make_graphs, make_probabilities):
    graphs, probs = worked_example(make_graphs, make_probabilities)
    candidates = external_candidates(graphs)
    result = ietrans_transfer(graphs, probs, candidates, np.zeros((len(candidates), 4)) + 0.25, TransferConfig())
    assert result.report["histogram_before"] == [100, 10, 0]
    assert result.report["histogram_after"] == [93, 17, 0]
    assert result.graphs.num_relations == graphs.num_relations


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[1, 0] == pytest.approx(0.5)
