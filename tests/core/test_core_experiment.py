import json
import math

import pytest

from tenfold.core.errors import BadConfigError, TenfoldError, UnknownExperimentError
from tenfold.core.experiment import Claim, Result, Scale, experiment, get_experiment, list_experiments


def test_scale_parse_accepts_names_and_rejects_others():
    assert Scale.parse("SMALL") is Scale.SMALL
    assert Scale.parse(Scale.FULL) is Scale.FULL
    with pytest.raises(BadConfigError, match="smoke, small, full"):
        Scale.parse("huge")


@pytest.mark.parametrize(
    ("measured", "op", "bound", "expected"),
    [
        (0.9, ">=", 0.9, True),
        (0.89, ">=", 0.9, False),
        (0.9, ">", 0.9, False),
        (0.1, "<", 0.2, True),
        (0.3, "<=", 0.2, False),
        (0.5, "between", (0.4, 0.6), True),
        (0.7, "between", (0.4, 0.6), False),
    ],
)
def test_claim_compare_computes_the_verdict(measured, op, bound, expected):
    claim = Claim.compare("c", "s", measured, op, bound, paper_value=1.0)
    assert claim.passed is expected
    assert claim.measured == pytest.approx(measured)
    assert op.replace("between", "in [") in claim.threshold or claim.threshold.startswith(op)


def test_claim_not_measured_gives_none():
    assert Claim.compare("c", "s", None, ">=", 1.0).passed is None
    assert Claim.compare("c", "s", math.nan, ">=", 1.0).passed is None
    assert Claim.compare("c", "s", 5.0, ">=", 1.0, applicable=False).passed is None


def test_claim_compare_rejects_bad_rules():
    with pytest.raises(BadConfigError):
        Claim.compare("c", "s", 1.0, "==", 1.0)
    with pytest.raises(BadConfigError):
        Claim.compare("c", "s", 1.0, "between", 1.0)


def test_result_required_claims_decide_and_soft_ones_do_not():
    soft_fail = Claim.compare("soft", "s", 0.0, ">=", 1.0, required=False)
    unmeasured = Claim.compare("na", "s", None, ">=", 1.0)
    ok = Claim.holds("ok", "s", True)
    result = Result("x", Scale.SMOKE, 0, claims=[soft_fail, unmeasured, ok])
    assert result.all_required_passed
    result.claims.append(Claim.holds("bad", "s", False))
    assert not result.all_required_passed


def test_result_json_round_trip_handles_numpy_and_nan():
    import numpy as np

    result = Result(
        "x",
        Scale.SMALL,
        3,
        metrics={"acc": np.float32(0.5), "curve": np.arange(3), "nan": float("nan")},
        claims=[Claim.compare("c", "s", np.float64(0.7), ">=", 0.5, paper_value=0.8)],
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["scale"] == "small" and data["metrics"]["curve"] == [0, 1, 2] and data["metrics"]["nan"] is None
    again = Result.from_json(data)
    assert again.claims[0].passed is True and again.scale is Scale.SMALL


def test_registry_registers_lists_in_method_order_and_names_known_on_miss(isolated_registry):
    @experiment("zeta", paper="Z")
    def zeta(scale, out, seed=0):
        return Result("zeta", scale, seed)

    @experiment("cpm", paper="C", claims=["faster"])
    def cpm(scale, out, seed=0):
        return Result("cpm", scale, seed)

    assert [s.name for s in list_experiments()] == ["cpm", "zeta"]
    assert get_experiment("cpm").claims == ("faster",)
    with pytest.raises(UnknownExperimentError) as error:
        get_experiment("nope")
    assert isinstance(error.value, TenfoldError)
    assert "cpm" in str(error.value) and "zeta" in str(error.value)


def test_registering_a_different_function_under_a_taken_name_fails(isolated_registry):
    @experiment("dup", paper="A")
    def first(scale, out, seed=0):
        return Result("dup", scale, seed)

    with pytest.raises(BadConfigError, match="twice"):

        @experiment("dup", paper="B")
        def second(scale, out, seed=0):
            return Result("dup", scale, seed)
