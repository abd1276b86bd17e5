"""The experiment registry and its declarative contract: settings per scale, claims as data, core decides.

An experiment module declares, before anything runs,

    SETTINGS = {Scale.SMOKE: MySettings(...), Scale.SMALL: MySettings(...), Scale.FULL: MySettings(...)}
    CLAIMS = [ClaimSpec("mr_ratio", "IETrans raises mR@50 ...", ">=", 1.5, paper_value=2.03, over="seeds"), ...]

    @experiment("ietrans", paper=PAPER, settings=SETTINGS, claims=CLAIMS)
    def reproduce(scale: Scale, settings: MySettings, out: Path, seed: int) -> Measurements: ...

The function only measures: it returns one value per claim id (a number, a bool for an ordering,
:class:`Samples` for a claim decided on replicates, or :class:`Unmeasured` with a reason). Core
evaluates every claim from its declared operator and threshold (:func:`evaluate`), so the same
declaration drives ``tenfold list``, the verdicts, the exit code and the report. A required claim
that could not be measured at a scale where it is decisive fails; it never passes.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tenfold.core.errors import BadConfigError, UnknownExperimentError
from tenfold.core.intervals import LEVEL, Samples, decide, interval
from tenfold.core.io import jsonable as _jsonable

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

    @property
    def rank(self) -> int:
        return list(Scale).index(self)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of an experiment's settings at one scale: subclass it with one commented field per knob.

    The runner writes the settings into result.json, so a reader sees exactly what ran.
    """

    # torch intra-op threads the runner sets for this run and restores afterwards (None: leave as is);
    # 1 by default because the miniatures' small matrices gain nothing from a second thread on 2 cores.
    threads: int | None = 1

    def to_json(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))


OPERATORS = (">=", ">", "<=", "<", "between", "holds")
UNITS = ("seeds", "splits", "images", "pairs", "tasks", "replicates")


@dataclass(frozen=True)
class ClaimSpec:
    """A claim declared before the run: what the paper says and the rule that will decide it.

    ``op``/``threshold``: ``measured <op> threshold`` (``between`` takes ``(low, high)``, inclusive;
    ``holds`` takes a bool such as an ordering). ``over``: the claim is decided on the interval of
    the mean over these replicates (at least ``min_samples`` of them), not on a point.
    ``log_ratio``: the replicates are natural logs of ratios; the threshold and report speak of the
    ratio (geometric mean). ``decisive_from``: the smallest scale whose verdict counts; below it the
    claim is reported as n/a. ``required=False`` marks the spec's soft claims (reported, never forced).
    """

    id: str
    statement: str
    op: str
    threshold: float | tuple[float, float] | None = None
    paper_value: float | str | None = None
    required: bool = True
    decisive_from: Scale = Scale.SMALL
    over: str | None = None
    interval: str = "t"
    min_samples: int = 3
    log_ratio: bool = False

    def __post_init__(self) -> None:
        if not self.id or not self.id.replace("_", "").isalnum():
            raise BadConfigError(f"claim id {self.id!r}: use letters, digits and underscores")
        if self.op not in OPERATORS:
            raise BadConfigError(f"claim {self.id}: unknown operator {self.op!r}; use one of {', '.join(OPERATORS)}")
        if self.op == "holds":
            if self.threshold is not None or self.over is not None:
                raise BadConfigError(f"claim {self.id}: 'holds' takes a bool, no threshold and no replicates")
        elif self.op == "between":
            if not (isinstance(self.threshold, tuple) and len(self.threshold) == 2 and self.threshold[0] <= self.threshold[1]):
                raise BadConfigError(f"claim {self.id}: 'between' needs threshold=(low, high)")
        elif not isinstance(self.threshold, int | float) or isinstance(self.threshold, bool) or not math.isfinite(self.threshold):
            raise BadConfigError(f"claim {self.id}: {self.op!r} needs one finite number as threshold")
        if self.over is not None and self.over not in UNITS:
            raise BadConfigError(f"claim {self.id}: over={self.over!r}; use one of {', '.join(UNITS)}")
        if self.over is not None and self.min_samples < 2:
            raise BadConfigError(f"claim {self.id}: an interval needs min_samples >= 2")
        if self.log_ratio and (self.over is None or self.op == "between" and min(self.threshold) <= 0):  # type: ignore[arg-type]
            raise BadConfigError(f"claim {self.id}: log_ratio needs replicates and positive ratio thresholds")
        if self.log_ratio and self.op != "between" and float(self.threshold) <= 0:  # type: ignore[arg-type]
            raise BadConfigError(f"claim {self.id}: a ratio threshold must be positive")
        object.__setattr__(self, "decisive_from", Scale.parse(self.decisive_from))

    @property
    def threshold_text(self) -> str:
        """The rule in words, exactly as ``tenfold list`` and the report show it."""
        if self.op == "holds":
            rule = "holds"
        elif self.op == "between":
            low, high = self.threshold  # type: ignore[misc]
            rule = f"in [{_fmt(low)}, {_fmt(high)}]"
        else:
            rule = f"{self.op} {_fmt(self.threshold)}"  # type: ignore[arg-type]
        if self.over:
            what = "geometric-mean ratio" if self.log_ratio else "mean"
            rule += f" ({what}, {int(LEVEL * 100)}% {self.interval} interval over >= {self.min_samples} {self.over})"
        return rule

    def evaluate(self, measurement: Any, scale: Scale, detail: str = "") -> Claim:
        """Turn one measurement into a verdict by this claim's declared rule."""
        scale = Scale.parse(scale)
        decisive = scale.rank >= self.decisive_from.rank
        claim = Claim(
            id=self.id, statement=self.statement, paper_value=self.paper_value, measured=None,
            threshold=self.threshold_text, passed=None, required=self.required, verdict="n/a",
            decisive=decisive, detail=detail,
        )
        verdict, reason = self._verdict(measurement, claim)
        if not decisive:
            claim.verdict = "n/a"
            claim.reason = f"decided from scale {self.decisive_from.value}" + (f"; {reason}" if reason else "")
            return claim
        claim.verdict = verdict
        claim.reason = reason
        claim.passed = verdict == "pass"
        return claim

    def _verdict(self, measurement: Any, claim: Claim) -> tuple[str, str]:
        if isinstance(measurement, Unmeasured):
            return "unmeasured", measurement.reason
        if measurement is None:
            return "unmeasured", "the experiment returned no measurement"
        if self.op == "holds":
            if not isinstance(measurement, bool):
                raise BadConfigError(f"claim {self.id}: 'holds' needs a bool, got {type(measurement).__name__}")
            claim.measured = measurement
            return ("pass" if measurement else "fail"), ""
        if self.over is not None:
            if not isinstance(measurement, Samples):
                raise BadConfigError(f"claim {self.id}: declared over {self.over}, so it needs Samples, not {type(measurement).__name__}")
            claim.samples = [round(v, 6) for v in measurement.values]
            claim.n = len(measurement)
            if not measurement.finite:
                return "unmeasured", "a replicate is missing or not finite"
            if len(measurement) < self.min_samples:
                claim.measured = _from_log(sum(measurement.values) / len(measurement), self.log_ratio)
                return "unmeasured", f"{len(measurement)} {self.over} < {self.min_samples} needed for an interval"
            bounds = interval(measurement.values, self.interval)
            claim.measured = _from_log(bounds.mean, self.log_ratio)
            claim.interval = [_from_log(bounds.low, self.log_ratio), _from_log(bounds.high, self.log_ratio)]
            threshold = self.threshold
            if self.log_ratio:
                threshold = tuple(math.log(t) for t in threshold) if self.op == "between" else math.log(threshold)  # type: ignore[union-attr,arg-type]
            verdict = decide(self.op, threshold, bounds.low, bounds.high)  # type: ignore[arg-type]
            return verdict, "" if verdict != "undecided" else "the interval straddles the threshold"
        if isinstance(measurement, Samples):
            raise BadConfigError(f"claim {self.id}: Samples given, but the claim is not declared over replicates")
        if isinstance(measurement, bool) or not isinstance(measurement, int | float):
            try:
                value = float(measurement)
            except (TypeError, ValueError):
                raise BadConfigError(f"claim {self.id}: needs a number, got {type(measurement).__name__}") from None
        else:
            value = float(measurement)
        if not math.isfinite(value):
            return "unmeasured", f"measured value is {value}"
        claim.measured = value
        return decide(self.op, self.threshold, value, value), ""  # type: ignore[arg-type]


def _from_log(value: float, log_ratio: bool) -> float:
    return math.exp(value) if log_ratio else value


@dataclass(frozen=True)
class Unmeasured:
    """A claim's measurement that could not be taken, with the reason (shown in the report)."""

    reason: str


@dataclass
class Measurements:
    """What an experiment returns: one measurement per declared claim id, plus metrics and figures.

    ``details`` holds a short human reading per claim id (``"66.6 > 42.6 > 25.4"``) shown beside
    the number.
    """

    claims: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    notes: str = ""
    details: dict[str, str] = field(default_factory=dict)


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


@dataclass
class Claim:
    """One evaluated claim as stored in result.json.

    ``verdict`` is pass, fail, undecided (the interval straddles the threshold), unmeasured, or n/a
    (below the claim's decisive scale). ``passed`` is True/False at a decisive scale (undecided and
    unmeasured are False) and None below it.
    """

    id: str
    statement: str
    paper_value: float | str | None
    measured: float | bool | str | None
    threshold: str
    passed: bool | None
    required: bool = True
    verdict: str = "n/a"
    decisive: bool = True
    interval: list[float] | None = None
    n: int | None = None
    samples: list[float] | None = None
    detail: str = ""
    reason: str = ""


@dataclass
class Result:
    """What a run produced: its settings, metrics, figures and evaluated claims."""

    name: str
    scale: Scale
    seed: int
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    notes: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def all_required_passed(self) -> bool:
        """True when every required claim that is decisive at this scale passed."""
        return all(c.passed is True for c in self.claims if c.required and c.decisive)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scale"] = Scale.parse(self.scale).value
        return _jsonable(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        names = {f.name for f in dataclasses.fields(Claim)}
        claims = [Claim(**{k: v for k, v in c.items() if k in names}) for c in data.get("claims", [])]
        return cls(
            name=data["name"],
            scale=Scale.parse(data["scale"]),
            seed=int(data["seed"]),
            metrics=data.get("metrics", {}),
            figures=list(data.get("figures", [])),
            claims=claims,
            notes=data.get("notes", ""),
            settings=data.get("settings", {}),
        )


ExperimentFunction = Callable[..., Measurements]


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    paper: str
    function: ExperimentFunction
    settings: Mapping[Scale, Settings]
    claims: tuple[ClaimSpec, ...]

    def evaluate(self, scale: Scale, seed: int, measurements: Measurements) -> Result:
        """Core's verdicts: every declared claim evaluated from the experiment's measurements."""
        if not isinstance(measurements, Measurements):
            raise BadConfigError(f"experiment {self.name!r} returned {type(measurements).__name__}, not Measurements")
        declared = {c.id for c in self.claims}
        unknown = sorted(set(measurements.claims) - declared)
        if unknown:
            raise BadConfigError(f"experiment {self.name!r} measured undeclared claims: {', '.join(unknown)}")
        claims = []
        for spec in self.claims:
            if spec.id in measurements.claims:
                measured = measurements.claims[spec.id]
            else:
                measured = Unmeasured("the experiment did not measure it at this scale")
            claims.append(spec.evaluate(measured, scale, measurements.details.get(spec.id, "")))
        return Result(
            name=self.name, scale=scale, seed=seed, metrics=measurements.metrics, figures=list(measurements.figures),
            claims=claims, notes=measurements.notes, settings=self.settings[scale].to_json(),
        )


_REGISTRY: dict[str, ExperimentSpec] = {}
_IMPORT_ERRORS: dict[str, str] = {}


def check_declarations(name: str, settings: Mapping[Scale, Settings], claims: Sequence[ClaimSpec]) -> None:
    """Settings for every scale (frozen keyword dataclasses) and claims with unique ids."""
    missing = [s.value for s in Scale if s not in settings]
    if missing:
        raise BadConfigError(f"experiment {name!r}: SETTINGS lacks scales {', '.join(missing)}")
    for scale, value in settings.items():
        if not isinstance(value, Settings):
            raise BadConfigError(f"experiment {name!r}: SETTINGS[{scale}] is not a core Settings dataclass")
        parameters = type(value).__dataclass_params__  # type: ignore[attr-defined]
        if not parameters.frozen:
            raise BadConfigError(f"experiment {name!r}: {type(value).__name__} must be a frozen dataclass")
    ids = [c.id for c in claims]
    if not all(isinstance(c, ClaimSpec) for c in claims):
        raise BadConfigError(f"experiment {name!r}: CLAIMS must hold ClaimSpec objects")
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise BadConfigError(f"experiment {name!r}: claim ids declared twice: {', '.join(duplicated)}")


def experiment(
    name: str, *, paper: str, settings: Mapping[Scale, Settings], claims: Sequence[ClaimSpec]
) -> Callable[[ExperimentFunction], ExperimentFunction]:
    """Register ``function(scale, settings, out, seed) -> Measurements`` under ``name``."""
    check_declarations(name, settings, claims)

    def register(function: ExperimentFunction) -> ExperimentFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise BadConfigError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = ExperimentSpec(name, paper, function, dict(settings), tuple(claims))
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
