"""Registry validation, multi-level scoring, selection, weights, partial rows and the normalisation property."""

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.cuge.registry import Registry, RegistryError, cuge_registry, mini_registry
from tenfold.cuge.scoring import MatrixScorer, NormalizationError, rank_rows, score_tree

TINY = {
    "name": "tiny", "version": "1",
    "capabilities": [
        {"code": "A", "tasks": [
            {"code": "a1", "datasets": [{"name": "D1", "metric": "f1"}, {"name": "D2", "metric": "bleu4"}]},
            {"code": "a2", "datasets": [{"name": "D3", "metric": "accuracy"}]}]},
        {"code": "B", "tasks": [{"code": "b1", "datasets": [{"name": "D4", "metric": "rouge_l"}]}]},
    ],
}


def tiny() -> Registry:
    return Registry.from_dict(copy.deepcopy(TINY))


def test_full_cuge_registry_has_the_reported_shape():
    reg = cuge_registry()
    assert (len(reg.capabilities), len(reg.tasks), len(reg.datasets)) == (7, 18, 21)
    assert reg.select("lite") == ["CCPM", "C3", "Sogou-Log", "LCSTS", "KdConv", "WMT20-EnZh", "Math23K"]
    mini = mini_registry()
    assert len(mini.capabilities) == 7 and len(mini.datasets) == 10 and len(mini.select("lite")) == 7


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["capabilities"][1]["tasks"][0]["datasets"].append({"name": "D1", "metric": "f1"}), "two tasks"),
        (lambda d: d["capabilities"][1]["tasks"].append(copy.deepcopy(d["capabilities"][0]["tasks"][1])), "two capabilities"),
        (lambda d: d["capabilities"][0]["tasks"][1]["datasets"][0].update(metric="perplexity"), "unknown metric"),
        (lambda d: d["capabilities"][0]["tasks"][1]["datasets"][0].update(weight=-1), "negative"),
        (lambda d: d["capabilities"][0]["tasks"][1].update(datasets=[]), "no datasets"),
        (lambda d: d.pop("version"), "version"),
    ],
)
def test_registry_errors_are_named(edit, message):
    data = copy.deepcopy(TINY)
    edit(data)
    with pytest.raises(RegistryError, match=message):
        Registry.from_dict(data)


def test_registry_load_reports_bad_json(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RegistryError, match="not valid UTF-8 JSON"):
        Registry.load(path)


def test_selection_errors():
    reg = tiny()
    with pytest.raises(RegistryError, match="matches nothing"):
        reg.select(["cap:Z"])
    with pytest.raises(RegistryError, match="empty"):
        reg.select([])


BASE = {"D1": 90.0, "D2": 10.0, "D3": 50.0, "D4": 20.0}


def test_hand_computed_tree_in_both_modes():
    raw = {"D1": 99.0, "D2": 20.0, "D3": 50.0, "D4": 30.0}
    tree = score_tree(raw, BASE, tiny(), mode="mean")
    # D1 110, D2 200 -> a1 155; a2 100 -> A 127.5; B 150 -> Index 138.75
    assert tree["capabilities"]["A"]["tasks"]["a1"]["norm"] == pytest.approx(155.0)
    assert tree["capabilities"]["A"]["norm"] == pytest.approx(127.5)
    assert tree["index"] == pytest.approx(138.75)
    assert tree["capabilities"]["A"]["raw"] == pytest.approx((59.5 + 50.0) / 2)
    ratio = score_tree(raw, BASE, tiny(), mode="ratio_of_sums")
    # a1: 100*119/100 = 119; A raw (59.5+50)/2 over base (50+50)/2 -> 109.5; Index 100*(54.75+30)/(50+20)
    assert ratio["capabilities"]["A"]["tasks"]["a1"]["norm"] == pytest.approx(119.0)
    assert ratio["capabilities"]["A"]["norm"] == pytest.approx(109.5)
    assert ratio["index"] == pytest.approx(100 * (54.75 + 30.0) / 70.0)


def test_missing_child_makes_parents_none_not_zero():
    tree = score_tree({"D1": 99.0, "D3": 50.0, "D4": 30.0}, BASE, tiny())
    assert tree["capabilities"]["A"]["tasks"]["a1"]["datasets"]["D2"]["norm"] is None
    assert tree["capabilities"]["A"]["tasks"]["a1"]["norm"] is None
    assert tree["capabilities"]["A"]["norm"] is None
    assert tree["index"] is None and tree["complete"] is False
    assert tree["capabilities"]["B"]["norm"] == pytest.approx(150.0)  # siblings still scored


def test_selection_drops_nodes_and_single_capability_equals_index():
    raw = {"D1": 99.0, "D2": 20.0, "D3": 50.0, "D4": 30.0}
    only_a = score_tree(raw, BASE, tiny(), selection=["cap:A"])
    assert set(only_a["capabilities"]) == {"A"}
    assert only_a["index"] == pytest.approx(only_a["capabilities"]["A"]["norm"])
    one_ds = score_tree(raw, BASE, tiny(), selection="ds:D2,ds:D4")
    assert set(one_ds["capabilities"]["A"]["tasks"]) == {"a1"}
    assert one_ds["index"] == pytest.approx((200 + 150) / 2)


def test_weights_renormalise_and_all_zero_is_an_error():
    raw = {"D1": 99.0, "D2": 20.0, "D3": 50.0, "D4": 30.0}
    weighted = score_tree(raw, BASE, tiny(), weights={"D2": 0.0})
    assert weighted["capabilities"]["A"]["tasks"]["a1"]["norm"] == pytest.approx(110.0)
    with pytest.raises(RegistryError, match="all weights"):
        score_tree(raw, BASE, tiny(), weights={"A": 0.0, "B": 0.0})
    with pytest.raises(RegistryError, match=">= 0"):
        score_tree(raw, BASE, tiny(), weights={"D1": -1.0})


@pytest.mark.parametrize("bad", [0.0, -3.0, None, float("nan")])
def test_baseline_must_be_positive(bad):
    with pytest.raises(NormalizationError, match="D4"):
        score_tree(BASE, {**BASE, "D4": bad}, tiny())


def test_majority_class_baseline_with_f1_zero_cannot_normalise():
    # A majority-class polarity baseline scores F1 = 0: the guard refuses it instead of dividing.
    reg = mini_registry()
    base = dict.fromkeys(reg.datasets, 50.0) | {"MiniPolarity": 0.0}
    with pytest.raises(NormalizationError, match="MiniPolarity"):
        score_tree(base, base, reg)


def test_near_chance_baseline_and_exploding_ratio_warn():
    reg = cuge_registry()
    base = dict.fromkeys(reg.datasets, 50.0) | {"CCPM": 27.0}
    raw = dict(base) | {"KdConv": 600.0}
    tree = score_tree(raw, base, reg)
    assert any("CCPM" in w and "chance" in w for w in tree["warnings"])
    assert any("KdConv" in w and "1000" in w for w in tree["warnings"])
    capped = score_tree(raw, base, reg, norm_cap=300.0)
    assert capped["capabilities"]["CI"]["norm"] == 300.0


def test_rank_rows_competition_ranking():
    assert rank_rows({"a": 120.0, "b": 130.0, "c": 120.0, "d": None}) == {"b": 1, "a": 2, "c": 2, "d": None}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    table=st.lists(st.lists(st.floats(1.0, 100.0), min_size=21, max_size=21), min_size=2, max_size=5),
    column=st.integers(0, 20),
    factor=st.floats(0.01, 100.0),
    mode=st.sampled_from(["mean", "ratio_of_sums"]),
)
def test_matrix_scorer_equals_tree_scorer(table, column, factor, mode):
    reg = cuge_registry()
    names = list(reg.datasets)
    matrix = np.array(table)
    base = dict(zip(names, matrix[0], strict=True))
    fast = MatrixScorer(reg, base, mode=mode).index(matrix)
    slow = [score_tree(dict(zip(names, row, strict=True)), base, reg, mode=mode)["index"] for row in matrix]
    assert fast == pytest.approx(slow, rel=1e-9)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    table=st.lists(st.lists(st.floats(1.0, 100.0), min_size=21, max_size=21), min_size=2, max_size=4),
    column=st.integers(0, 20),
    factor=st.floats(0.01, 100.0),
)
def test_rescaling_one_metric_leaves_normalised_scores_unchanged(table, column, factor):
    reg = cuge_registry()
    names = list(reg.datasets)
    matrix = np.array(table)
    scaled = matrix.copy()
    scaled[:, column] *= factor
    before = MatrixScorer(reg, dict(zip(names, matrix[0], strict=True)))
    after = MatrixScorer(reg, dict(zip(names, scaled[0], strict=True)))
    assert after.capability_scores(scaled) == pytest.approx(before.capability_scores(matrix), rel=1e-9)
    assert after.index(scaled) == pytest.approx(before.index(matrix), rel=1e-9)
    if not math.isclose(factor, 1.0, rel_tol=1e-3):  # the plain raw mean does change
        assert not np.allclose(scaled.mean(axis=1), matrix.mean(axis=1), rtol=1e-6)


def test_raw_mean_is_dominated_by_large_scale_metrics():
    reg = tiny()
    base = {"D1": 90.0, "D2": 10.0, "D3": 50.0, "D4": 20.0}
    bump_small, bump_large = dict(base, D2=15.0), dict(base, D1=135.0)
    raw_gain_small = np.mean(list(bump_small.values())) - np.mean(list(base.values()))
    raw_gain_large = np.mean(list(bump_large.values())) - np.mean(list(base.values()))
    assert raw_gain_large / raw_gain_small == pytest.approx(9.0)  # b_max / b_min
    index = score_tree(base, base, reg)["index"]
    assert score_tree(bump_small, base, reg)["index"] - index == pytest.approx(score_tree(bump_large, base, reg)["index"] - index)


def test_registry_json_files_are_valid_json():
    from importlib import resources

    for name in ("cuge_registry.json", "mini_registry.json"):
        json.loads(resources.files("tenfold.cuge").joinpath("data", name).read_text(encoding="utf-8"))


def test_matrix_scorer_with_selection_and_missing_values():
    reg = tiny()
    names = list(reg.datasets)
    table = np.array([[90.0, 10.0, 50.0, 20.0], [99.0, np.nan, 50.0, 30.0]])
    scorer = MatrixScorer(reg, dict(zip(names, table[0], strict=True)), selection="cap:B,ds:D3")
    both_shapes = scorer.index(table), scorer.index(table[:, [2, 3]])
    assert both_shapes[0] == pytest.approx(both_shapes[1]) and both_shapes[0][1] == pytest.approx(125.0)
    full = MatrixScorer(reg, dict(zip(names, table[0], strict=True))).index(table)
    assert full[0] == pytest.approx(100.0) and np.isnan(full[1])
