"""InfMoE scheduling: the event simulator on hand cases, the rule and the best-of-two option vs brute force and
vs index order, schedules by name."""

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.schedule import (
    best_of_two_order,
    best_order,
    index_order,
    infmoe_greedy_order,
    largest_first_order,
    order_for,
    simulate,
)


def test_simulator_hand_cases():
    # K=1: load0 [0,1], compute0 [1,3], load1 waits for the slot [3,4], compute1 [4,5]
    one = simulate([2.0, 1.0], [0, 1], beta=1.0, slots=1)
    assert one.load_end == (1.0, 4.0) and one.compute_end == (3.0, 5.0) and one.stall == pytest.approx(1.0)
    # K=2: load1 [1,2] hides behind compute0, compute1 [3,4]; makespan = beta + sum(alpha), no stall
    two = simulate([2.0, 1.0], [0, 1], beta=1.0, slots=2)
    assert two.makespan == 4.0 and two.stall == 0.0
    # a small expert first exposes the next load
    assert simulate([2.0, 1.0], [1, 0], beta=1.5, slots=2).stall == pytest.approx(0.5)


def test_zero_token_experts_are_never_scheduled():
    alphas = [0.0, 3.0, 0.0, 1.0, 2.0]
    for order in (index_order(alphas), best_of_two_order(alphas, 1.0, 2), infmoe_greedy_order(alphas, 1.0, 3)):
        assert sorted(order) == [1, 3, 4]
    assert best_of_two_order([0.0, 0.0], 1.0, 2) == []
    assert infmoe_greedy_order([0.0, 0.0], 1.0, 3) == []


def _zipf_alphas(rng, experts, tokens=256, s=1.2):
    p = 1.0 / np.arange(1, experts + 1) ** s
    counts = np.bincount(rng.choice(experts, size=tokens, p=p / p.sum()), minlength=experts)
    alphas = list(rng.permutation(counts).astype(float))
    return alphas, float(np.mean([a for a in alphas if a > 0]))


def test_largest_first_is_optimal_for_two_slots_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(25):
        alphas, beta = _zipf_alphas(rng, 6, tokens=60)
        optimum = best_order(alphas, beta, 2).makespan
        assert simulate(alphas, largest_first_order(alphas), beta, 2).makespan == pytest.approx(optimum)
        assert simulate(alphas, best_of_two_order(alphas, beta, 2), beta, 2).makespan == pytest.approx(optimum)


def test_best_of_two_close_to_optimum_and_better_than_index_order():
    rng = np.random.default_rng(1)
    greedy, index, optimum = [], [], []
    for _ in range(30):
        alphas, beta = _zipf_alphas(rng, 6, tokens=120)
        slots = int(rng.integers(2, 5))
        greedy.append(simulate(alphas, best_of_two_order(alphas, beta, slots), beta, slots).makespan)
        index.append(simulate(alphas, index_order(alphas), beta, slots).makespan)
        optimum.append(best_order(alphas, beta, slots).makespan)
    greedy, index, optimum = map(np.array, (greedy, index, optimum))
    assert (optimum <= greedy + 1e-9).all() and (optimum <= index + 1e-9).all()
    assert greedy.mean() < index.mean()
    assert (greedy / optimum).max() < 1.2


def test_infmoe_rule_beats_index_order_with_four_slots():
    rng = np.random.default_rng(2)
    rule, index = [], []
    for _ in range(100):
        alphas, beta = _zipf_alphas(rng, 16, tokens=1024)
        rule.append(simulate(alphas, infmoe_greedy_order(alphas, beta, 4), beta, 4).stall)
        index.append(simulate(alphas, index_order(alphas), beta, 4).stall)
    assert np.mean(rule) < 0.9 * np.mean(index)


def test_bad_inputs():
    with pytest.raises(BadConfigError, match="slots"):
        best_of_two_order([1.0], 1.0, 0)
    with pytest.raises(BadConfigError, match="slots"):
        order_for("index", [1.0], 1.0, 0)
    with pytest.raises(BadConfigError, match="unknown schedule"):
        order_for("greedy", [1.0], 1.0, 2)
    with pytest.raises(BadInputError, match=">= 0"):
        simulate([-1.0], [0], 1.0, 1)
    with pytest.raises(BadInputError, match="distinct"):
        simulate([1.0, 1.0], [0, 0], 1.0, 1)
    with pytest.raises(BadConfigError, match="n <= 8"):
        best_order([1.0] * 9, 1.0, 2)


def test_schedules_by_name_are_the_rule_index_and_best_of_two():
    alphas, beta = [1.0, 5.0, 0.0, 2.0, 9.0], 3.0
    assert order_for("infmoe", alphas, beta, 3) == infmoe_greedy_order(alphas, beta, 3)
    assert order_for("index", alphas, beta, 3) == [0, 1, 3, 4]
    assert order_for("best-of-two", alphas, beta, 3) == best_of_two_order(alphas, beta, 3)


def test_the_rule_alone_is_not_the_best_of_two_at_two_slots():
    """The engine's best-of-two option may beat the rule; the experiment must measure the rule by itself."""
    rng = np.random.default_rng(3)
    differs = 0
    for _ in range(50):
        alphas, beta = _zipf_alphas(rng, 16, tokens=2048)
        rule = simulate(alphas, infmoe_greedy_order(alphas, beta, 2), beta, 2).stall
        best = simulate(alphas, best_of_two_order(alphas, beta, 2), beta, 2).stall
        assert best <= rule + 1e-9
        differs += best < rule - 1e-9
    assert differs > 0
