"""Metrics on hand-computed cases, including the library pitfalls the spec lists."""

import math

import pytest

from tenfold.core.errors import BadInputError
from tenfold.cuge import metrics


def test_segmentation_f1_hand_computed():
    gold = [["我们", "爱", "北京"]]
    pred = [["我", "们", "爱", "北京"]]
    # correct spans: 爱, 北京 -> P = 2/4, R = 2/3, F1 = 4/7
    prf = metrics.segmentation_prf(pred, gold)
    assert prf["precision"] == pytest.approx(50.0)
    assert prf["recall"] == pytest.approx(200 / 3)
    assert prf["f1"] == pytest.approx(400 / 7)


def test_segmentation_must_tile_the_text():
    with pytest.raises(BadInputError, match="does not tile"):
        metrics.segmentation_prf([["我们", "爱"]], [["我们", "爱", "北京"]])


def test_tagging_needs_both_span_and_tag():
    gold = [[("我们", "r"), ("爱", "v"), ("北京", "ns")]]
    pred = [[("我们", "r"), ("爱", "n"), ("北京", "ns")]]
    assert metrics.tagging_prf(pred, gold)["f1"] == pytest.approx(200 / 3)


def test_entity_f1_and_no_prediction_is_zero_not_an_error():
    gold = [[(0, 2, "PER"), (3, 5, "LOC")]]
    assert metrics.entity_prf([[(0, 2, "PER")]], gold)["f1"] == pytest.approx(200 / 3)
    assert metrics.entity_prf([[]], gold)["f1"] == 0.0


def test_ndcg_skips_degenerate_queries_and_averages_ties():
    value, skipped = metrics.ndcg([[2, 0, 1], [1], [0, 0]], [[3.0, 1.0, 2.0], [1.0], [1.0, 2.0]], k=10)
    assert value == pytest.approx(100.0) and skipped == 2
    constant, _ = metrics.ndcg([[1, 0]], [[0.5, 0.5]], k=10)
    assert 0.0 < constant < 100.0  # a constant ranking is not 0 (tied gains are averaged)
    with pytest.raises(BadInputError, match="NaN"):
        metrics.ndcg([[1, 0]], [[float("nan"), 0.0]])


def test_rouge_counts_chinese_characters():
    scores = metrics.rouge(["北京欢迎你"], ["北京欢迎您"])
    # LCS 4 of 5 characters each side -> F1 0.8; the library's default tokenizer would give 0.
    assert scores["rouge_l"] == pytest.approx(80.0)
    assert metrics.rouge([""], ["北京"])["rouge_l"] == 0.0


def test_bleu_uses_the_chinese_tokenizer_and_checks_lengths():
    assert metrics.bleu4(["今天天气很好我们去公园"], ["今天天气很好我们去公园"]) == pytest.approx(100.0)
    with pytest.raises(BadInputError, match="2 predictions for 1"):
        metrics.bleu4(["a", "b"], ["a"])


def test_distinct_n():
    assert metrics.distinct(["好好好", "好"], 1) == pytest.approx(25.0)
    assert metrics.distinct(["你好吗", "你好"], 2) == pytest.approx(200 / 3)
    assert metrics.distinct([""], 2) == 0.0


@pytest.mark.parametrize(
    "expression, value",
    [("x=(12+3)*2", 30.0), ("x=200*25%", 50.0), ("x=１２＋３", 15.0), ("3×4÷2", 6.0), ("-(2**3)", -8.0)],
)
def test_safe_arithmetic_values(expression, value):
    assert metrics.safe_arithmetic(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression", ["1/0", "2**100000", "__import__('os')", "x=abc", "", "[1,2]", "1e400*10"])
def test_safe_arithmetic_refuses_without_crashing(expression):
    assert metrics.safe_arithmetic(expression) is None


def test_math_accuracy_uses_relative_tolerance():
    assert metrics.math_accuracy(["x=1/3", "x=1/0", "x=2"], [0.3333333333, 1.0, 3.0]) == pytest.approx(100 / 3)


def test_accuracy_and_binary_f1():
    assert metrics.accuracy([1, 2, 3], [1, 2, 4]) == pytest.approx(200 / 3)
    assert metrics.binary_f1([0, 0, 0], [1, 0, 1]) == 0.0  # majority class: F1 of class 1 is 0
    assert metrics.binary_f1([1, 0, 1], [1, 0, 1]) == pytest.approx(100.0)
    assert not math.isnan(metrics.accuracy([], []))


def test_metric_versions_recorded():
    versions = metrics.metric_versions()
    assert versions["tenfold.cuge.metrics"] == metrics.METRIC_VERSION and "sacrebleu" in versions
