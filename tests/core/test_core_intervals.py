import numpy as np
import pytest

from tenfold.core.errors import BadConfigError
from tenfold.core.intervals import Samples, bootstrap_interval, decide, t_interval


def test_t_interval_matches_scipy_and_contains_the_mean():
    from scipy import stats

    values = [1.0, 2.0, 4.0, 3.5]
    bounds = t_interval(values, level=0.9)
    expected = stats.t.interval(0.9, df=3, loc=np.mean(values), scale=stats.sem(values))
    assert bounds.low == pytest.approx(expected[0]) and bounds.high == pytest.approx(expected[1])
    assert bounds.low < bounds.mean < bounds.high and bounds.n == 4


def test_interval_covers_the_true_mean_at_about_its_level():
    rng = np.random.default_rng(0)
    covered = sum(
        (b := t_interval(rng.normal(1.0, 2.0, size=5))).low <= 1.0 <= b.high for _ in range(2000)
    )
    assert 0.87 < covered / 2000 < 0.93


def test_bootstrap_interval_is_stable_and_handles_ties():
    values = np.random.default_rng(1).exponential(size=30)
    first, second = bootstrap_interval(values), bootstrap_interval(values)
    assert first == second and first.low < first.mean < first.high
    flat = bootstrap_interval([2.0, 2.0, 2.0])
    assert flat.low == flat.high == 2.0


def test_intervals_need_two_values():
    with pytest.raises(BadConfigError):
        t_interval([1.0])


@pytest.mark.parametrize(
    ("op", "threshold", "low", "high", "verdict"),
    [
        (">=", 0.0, 0.1, 0.5, "pass"),
        (">=", 0.0, -0.5, -0.1, "fail"),
        (">=", 0.0, -0.1, 0.5, "undecided"),
        ("<=", 1.0, 0.5, 0.9, "pass"),
        ("<=", 1.0, 1.1, 1.3, "fail"),
        ("<", 1.0, 0.5, 1.0, "undecided"),
        ("between", (0.5, 2.0), 0.6, 1.9, "pass"),
        ("between", (0.5, 2.0), 2.1, 3.0, "fail"),
        ("between", (0.5, 2.0), 1.5, 2.5, "undecided"),
    ],
)
def test_decide(op, threshold, low, high, verdict):
    assert decide(op, threshold, low, high) == verdict


def test_paired_samples():
    assert Samples.differences([3, 4], [1, 1]).values == (2.0, 3.0)
    assert Samples.log_ratios([2.0], [1.0]).values[0] == pytest.approx(np.log(2.0))
    with pytest.raises(BadConfigError):
        Samples.differences([1, 2], [1])
    with pytest.raises(BadConfigError):
        Samples.log_ratios([0.0], [1.0])
    with pytest.raises(BadConfigError):
        Samples([1.0, 2.0], labels=["only one"])
