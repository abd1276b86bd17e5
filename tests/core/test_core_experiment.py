import json
import math

import pytest

from tenfold.core.errors import BadConfigError, TenfoldError, UnknownExperimentError
from tenfold.core.experiment import (
    ClaimSpec,
    Measurements,
    Result,
    Scale,
    Unmeasured,
    experiment,
    get_experiment,
    list_experiments,
)
from tenfold.core.intervals import Samples


def test_scale_parse_accepts_names_and_rejects_others():
    assert Scale.parse("SMALL") is Scale.SMALL
    assert Scale.parse(Scale.FULL) is Scale.FULL
    assert Scale.SMOKE.rank < Scale.SMALL.rank < Scale.FULL.rank
    with pytest.raises(BadConfigError, match="smoke, small, full"):
        Scale.parse("huge")


@pytest.mark.parametrize(
    ("measured", "op", "bound", "expected"),
    [
        (0.9, ">=", 0.9, "pass"),
        (0.89, ">=", 0.9, "fail"),
        (0.9, ">", 0.9, "fail"),
        (0.1, "<", 0.2, "pass"),
        (0.3, "<=", 0.2, "fail"),
        (0.5, "between", (0.4, 0.6), "pass"),
        (0.7, "between", (0.4, 0.6), "fail"),
    ],
)
def test_point_claims_are_decided_by_core(measured, op, bound, expected):
    claim = ClaimSpec("c", "s", op, bound, paper_value=1.0).evaluate(measured, Scale.SMALL)
    assert claim.verdict == expected and claim.passed is (expected == "pass")
    assert claim.measured == pytest.approx(measured)


def test_unmeasured_required_claim_fails_at_a_decisive_scale_and_is_na_below():
    spec = ClaimSpec("c", "s", ">=", 1.0)
    for measurement in (None, math.nan, Unmeasured("no seed reached the target")):
        claim = spec.evaluate(measurement, Scale.SMALL)
        assert claim.passed is False and claim.verdict == "unmeasured"
    claim = spec.evaluate(Unmeasured("why"), Scale.SMALL)
    assert claim.reason == "why"
    below = spec.evaluate(None, Scale.SMOKE)
    assert below.passed is None and below.verdict == "n/a" and not below.decisive
    late = ClaimSpec("late", "s", ">=", 1.0, decisive_from=Scale.FULL).evaluate(5.0, Scale.SMALL)
    assert late.passed is None and late.measured == 5.0


def test_holds_claims_take_bools_only():
    spec = ClaimSpec("order", "a > b > c", "holds")
    assert spec.evaluate(True, Scale.SMALL).passed is True
    assert spec.evaluate(False, Scale.SMALL).passed is False
    with pytest.raises(BadConfigError):
        spec.evaluate(1.0, Scale.SMALL)


def test_replicated_claims_pass_fail_or_stay_undecided_on_their_interval():
    spec = ClaimSpec("gain", "CPT beats FT", ">", 0.0, over="seeds")
    clear = spec.evaluate(Samples([5.0, 6.0, 5.5, 6.2]), Scale.SMALL)
    assert clear.verdict == "pass" and clear.interval[0] > 0 and clear.n == 4
    against = spec.evaluate(Samples([-5.0, -6.0, -5.5]), Scale.SMALL)
    assert against.verdict == "fail" and against.passed is False
    noisy = spec.evaluate(Samples([3.0, -2.0, 1.0]), Scale.SMALL)
    assert noisy.verdict == "undecided" and noisy.passed is False and "straddles" in noisy.reason
    too_few = spec.evaluate(Samples([5.0, 6.0]), Scale.SMALL)
    assert too_few.verdict == "unmeasured" and too_few.passed is False
    not_finite = spec.evaluate(Samples([5.0, math.nan, 6.0]), Scale.SMALL)
    assert not_finite.verdict == "unmeasured"
    with pytest.raises(BadConfigError, match="Samples"):
        spec.evaluate(5.0, Scale.SMALL)
    with pytest.raises(BadConfigError, match="not declared over"):
        ClaimSpec("p", "s", ">", 0.0).evaluate(Samples([1.0, 2.0, 3.0]), Scale.SMALL)


def test_log_ratio_claims_speak_of_the_ratio():
    spec = ClaimSpec("speed", "PT is not slower", "<=", 1.0, over="pairs", log_ratio=True)
    faster = spec.evaluate(Samples.log_ratios([0.8, 0.82, 0.79, 0.81], [1.0, 1.0, 1.0, 1.0]), Scale.SMALL)
    assert faster.verdict == "pass" and faster.measured == pytest.approx(0.805, abs=0.01)
    assert faster.interval[1] < 1.0
    slower = spec.evaluate(Samples.log_ratios([1.3, 1.31, 1.29], [1.0, 1.0, 1.0]), Scale.SMALL)
    assert slower.verdict == "fail"
    assert "geometric-mean ratio" in spec.threshold_text


def test_soft_claims_are_evaluated_but_do_not_gate():
    result = Result(
        "x", Scale.SMALL, 0,
        claims=[
            ClaimSpec("soft", "s", ">=", 1.0, required=False).evaluate(0.0, Scale.SMALL),
            ClaimSpec("ok", "s", "holds").evaluate(True, Scale.SMALL),
        ],
    )
    assert result.all_required_passed
    result.claims.append(ClaimSpec("bad", "s", ">=", 1.0).evaluate(None, Scale.SMALL))
    assert not result.all_required_passed


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(op="==", threshold=1.0),
        dict(op="between", threshold=1.0),
        dict(op=">=", threshold=None),
        dict(op=">=", threshold=math.nan),
        dict(op="holds", threshold=1.0),
        dict(op=">=", threshold=1.0, over="fortnights"),
        dict(op=">=", threshold=-1.0, over="pairs", log_ratio=True),
        dict(op=">=", threshold=1.0, log_ratio=True),
    ],
)
def test_bad_claim_declarations_are_refused(kwargs):
    with pytest.raises(BadConfigError):
        ClaimSpec("c", "s", **kwargs)


def test_result_json_round_trip_handles_numpy_nan_and_settings(toy_settings):
    import numpy as np

    result = Result(
        "x",
        Scale.SMALL,
        3,
        metrics={"acc": np.float32(0.5), "curve": np.arange(3), "nan": float("nan")},
        claims=[ClaimSpec("c", "s", ">=", 0.5, paper_value=0.8, over="seeds").evaluate(Samples([0.7, 0.71, 0.72]), Scale.SMALL)],
        settings=toy_settings[Scale.SMALL].to_json(),
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["scale"] == "small" and data["metrics"]["curve"] == [0, 1, 2] and data["metrics"]["nan"] is None
    assert data["settings"] == {"threads": 1, "seeds": 3}
    again = Result.from_json(data)
    assert again.claims[0].passed is True and again.claims[0].interval == data["claims"][0]["interval"]


def _measure_nothing(scale, settings, out, seed):
    return Measurements(claims={})


def test_registry_validates_declarations_and_lists_in_method_order(isolated_registry, toy_settings):
    claims = [ClaimSpec("faster", "faster", "<=", 1.0)]
    experiment("zeta", paper="Z", settings=toy_settings, claims=claims)(_measure_nothing)

    @experiment("cpm", paper="C", settings=toy_settings, claims=claims)
    def cpm(scale, settings, out, seed):
        return Measurements(claims={})

    assert [s.name for s in list_experiments()] == ["cpm", "zeta"]
    assert get_experiment("cpm").claims == tuple(claims)
    with pytest.raises(UnknownExperimentError) as error:
        get_experiment("nope")
    assert isinstance(error.value, TenfoldError)
    assert "cpm" in str(error.value) and "zeta" in str(error.value)
    with pytest.raises(BadConfigError, match="lacks scales"):
        experiment("partial", paper="P", settings={Scale.SMALL: toy_settings[Scale.SMALL]}, claims=claims)
    with pytest.raises(BadConfigError, match="twice"):
        experiment("dupes", paper="P", settings=toy_settings, claims=claims * 2)
    with pytest.raises(BadConfigError, match="Settings"):
        experiment("plain", paper="P", settings={s: {"seeds": 1} for s in Scale}, claims=claims)


def test_registering_a_different_function_under_a_taken_name_fails(isolated_registry, toy_settings):
    experiment("dup", paper="A", settings=toy_settings, claims=[])(_measure_nothing)
    with pytest.raises(BadConfigError, match="twice"):

        @experiment("dup", paper="B", settings=toy_settings, claims=[])
        def second(scale, settings, out, seed):
            return Measurements(claims={})


def test_core_evaluates_every_declared_claim_and_refuses_undeclared_ones(isolated_registry, toy_settings):
    claims = [ClaimSpec("a", "s", ">=", 1.0), ClaimSpec("b", "s", "holds")]
    experiment("ev", paper="P", settings=toy_settings, claims=claims)(_measure_nothing)
    spec = get_experiment("ev")
    result = spec.evaluate(Scale.SMALL, 0, Measurements(claims={"a": 2.0}))
    assert [c.id for c in result.claims] == ["a", "b"]
    assert result.claims[1].verdict == "unmeasured" and not result.all_required_passed
    with pytest.raises(BadConfigError, match="undeclared"):
        spec.evaluate(Scale.SMALL, 0, Measurements(claims={"a": 2.0, "typo": 1.0}))
    with pytest.raises(BadConfigError, match="Measurements"):
        spec.evaluate(Scale.SMALL, 0, Result("ev", Scale.SMALL, 0))
