"""The experiment registry and the types an experiment returns (Scale, Claim, Result).

An experiment reproduces one paper's central claim in miniature:

    @experiment("ftrojan", paper="FTrojan: invisible backdoor in the frequency domain (ECCV 2022)")
    def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result: ...

Methods register by importing ``tenfold.<method>.experiment``; :func:`load_experiments`
does that for every method folder that has one.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadConfigError, UnknownExperimentError

# The ten method folders, in the order the report lists them.
METHODS: tuple[str, ...] = (
    "ietrans",
    "bodyreshape",
    "dpfmix",
    "sgld",
    "ftrojan",
    "bayesprivacy",
    "cpt",
    "cuge",
    "mdlm",
    "cpm",
)


class Scale(StrEnum):
    """How big a run is: ``smoke`` (seconds, tests), ``small`` (minutes on 2 cores), ``full`` (paper)."""

    SMOKE = "smoke"
    SMALL = "small"
    FULL = "full"

    @classmethod
    def parse(cls, value: str | Scale) -> Scale:
        if isinstance(value, Scale):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise BadConfigError(
                f"unknown scale {value!r}; use one of: {', '.join(s.value for s in cls)}"
            ) from None


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass
class Claim:
    """One statement of the paper, the paper's number, what we measured, and the rule that decides.

    ``passed`` is None when the claim could not be measured at this scale; ``required`` is
    False for claims the spec calls soft (reported, never forced).
    """

    id: str
    statement: str
    paper_value: float | str | None
    measured: float | str | None
    threshold: str
    passed: bool | None
    required: bool = True

    @classmethod
    def compare(
        cls,
        id: str,
        statement: str,
        measured: float | None,
        op: str,
        bound: float | tuple[float, float],
        *,
        paper_value: float | str | None = None,
        required: bool = True,
        applicable: bool = True,
    ) -> Claim:
        """Build a claim whose verdict is computed from ``measured <op> bound``.

        ``op`` is one of ``>= > <= <`` or ``between`` (then ``bound`` is ``(low, high)``,
        inclusive). A missing or NaN measurement, or ``applicable=False`` (the scale is too
        small for the spec's threshold to mean anything), gives ``passed=None``.
        """
        if op == "between":
            if not (isinstance(bound, tuple) and len(bound) == 2):
                raise BadConfigError("Claim.compare(op='between') needs bound=(low, high)")
            low, high = bound
            threshold = f"in [{_fmt(low)}, {_fmt(high)}]"
        elif op in _OPERATORS:
            if isinstance(bound, tuple):
                raise BadConfigError(f"Claim.compare(op={op!r}) needs a single number as bound")
            threshold = f"{op} {_fmt(bound)}"
        else:
            raise BadConfigError(f"unknown comparison {op!r}; use one of >=, >, <=, <, between")

        value = None if measured is None else float(measured)
        if value is None or math.isnan(value) or not applicable:
            passed = None
        elif op == "between":
            passed = bool(low <= value <= high)
        else:
            passed = bool(_OPERATORS[op](value, bound))
        return cls(id, statement, paper_value, value, threshold, passed, required)

    @classmethod
    def holds(
        cls,
        id: str,
        statement: str,
        condition: bool | None,
        *,
        measured: float | str | None = None,
        threshold: str = "holds",
        paper_value: float | str | None = None,
        required: bool = True,
    ) -> Claim:
        """A claim decided by a boolean computed by the experiment (an ordering, a ranking)."""
        passed = None if condition is None else bool(condition)
        return cls(id, statement, paper_value, measured, threshold, passed, required)


def _fmt(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


@dataclass
class Result:
    """What an experiment measured: metrics, the figures it wrote (file names in its folder), claims."""

    name: str
    scale: Scale
    seed: int
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    notes: str = ""

    @property
    def all_required_passed(self) -> bool:
        """True when no required claim failed (claims not measurable at this scale do not fail)."""
        return all(c.passed is not False for c in self.claims if c.required)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scale"] = Scale.parse(self.scale).value
        return _jsonable(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        claims = [Claim(**c) for c in data.get("claims", [])]
        return cls(
            name=data["name"],
            scale=Scale.parse(data["scale"]),
            seed=int(data["seed"]),
            metrics=data.get("metrics", {}),
            figures=list(data.get("figures", [])),
            claims=claims,
            notes=data.get("notes", ""),
        )


def _jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and arrays, paths and NaN into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


ExperimentFunction = Callable[..., Result]


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    paper: str
    function: ExperimentFunction
    claims: tuple[str, ...] = ()


_REGISTRY: dict[str, ExperimentSpec] = {}
_IMPORT_ERRORS: dict[str, str] = {}


def experiment(
    name: str, *, paper: str, claims: tuple[str, ...] | list[str] = ()
) -> Callable[[ExperimentFunction], ExperimentFunction]:
    """Register ``function(scale, out, seed) -> Result`` under ``name``.

    ``claims`` lists the claim statements up front so ``tenfold list`` can show them
    without running anything.
    """

    def register(function: ExperimentFunction) -> ExperimentFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise BadConfigError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = ExperimentSpec(name, paper, function, tuple(claims))
        return function

    return register


def load_experiments() -> dict[str, str]:
    """Import every method's ``experiment`` module; returns {method: error} for those that failed."""
    for method in METHODS:
        module = f"tenfold.{method}.experiment"
        if method in _IMPORT_ERRORS or any(s.function.__module__ == module for s in _REGISTRY.values()):
            continue
        try:
            if importlib.util.find_spec(f"tenfold.{method}") is None:
                continue
            if importlib.util.find_spec(module) is None:
                continue
            importlib.import_module(module)
        except Exception as error:  # a broken method must not hide the others
            _IMPORT_ERRORS[method] = f"{type(error).__name__}: {error}"
    return dict(_IMPORT_ERRORS)


def list_experiments() -> list[ExperimentSpec]:
    """Registered experiments, in the report's order (known methods first, then the rest by name)."""
    order = {m: i for i, m in enumerate(METHODS)}
    return sorted(_REGISTRY.values(), key=lambda s: (order.get(s.name, len(order)), s.name))


def get_experiment(name: str) -> ExperimentSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(s.name for s in list_experiments()) or "none registered yet"
        raise UnknownExperimentError(f"unknown experiment {name!r}; known experiments: {known}") from None
