"""The capability -> task -> dataset hierarchy as validated data, plus label-based selection.

The hierarchy is stored as nested JSON (``data/cuge_registry.json``, ``data/mini_registry.json``);
nesting makes cycles impossible by construction, and the loader rejects the remaining ways a
hand-edited registry goes wrong (a dataset or task listed twice, unknown metrics, bad weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadConfigError

# Primary/secondary metric names a registry may use; implemented in tenfold.cuge.metrics.
KNOWN_METRICS: frozenset[str] = frozenset(
    {
        "accuracy", "f1", "seg_f1", "pos_f1", "ner_f1", "gcrc_avg", "accuracy_at_1", "exact_match",
        "ndcg@1", "ndcg@5", "ndcg@10", "rouge_1", "rouge_2", "rouge_l", "bleu4",
        "distinct_1", "distinct_2", "math_accuracy",
    }
)


class RegistryError(BadConfigError):
    """The registry file or a selection over it is inconsistent."""


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    capability: str
    metric: str
    secondary: tuple[str, ...] = ()
    domain: str = ""
    language: str = "zh"
    lite: bool = False
    chance: float | None = None
    adapter: str | None = None
    weight: float = 1.0

    @property
    def labels(self) -> set[str]:
        """Labels a selection can name: ``cap:``, ``task:``, ``ds:``, ``domain:``, ``lang:``, ``lite``."""
        found = {f"cap:{self.capability}", f"task:{self.task}", f"ds:{self.name}", f"lang:{self.language}"}
        if self.domain:
            found.add(f"domain:{self.domain}")
        if self.lite:
            found.add("lite")
        return found


@dataclass(frozen=True)
class Task:
    code: str
    name: str
    capability: str
    datasets: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class Capability:
    code: str
    name: str
    tasks: tuple[str, ...]
    weight: float = 1.0


@dataclass
class Registry:
    """A validated benchmark hierarchy; look-ups by name keep insertion (display) order."""

    name: str
    version: str
    baseline: str
    capabilities: dict[str, Capability]
    tasks: dict[str, Task]
    datasets: dict[str, Dataset]
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registry:
        """Build and validate a registry from its nested JSON form."""
        if not isinstance(data, dict):
            raise RegistryError(f"a registry is a JSON object with name, version and capabilities, not {type(data).__name__}")
        for key in ("name", "version", "capabilities"):
            if key not in data:
                raise RegistryError(f"registry is missing the top-level key {key!r}")
        _need_list(data["capabilities"], "'capabilities'")
        capabilities: dict[str, Capability] = {}
        tasks: dict[str, Task] = {}
        datasets: dict[str, Dataset] = {}
        for cap in data["capabilities"]:
            cap_code = _need(cap, "code", "capability")
            if cap_code in capabilities:
                raise RegistryError(f"capability {cap_code!r} is listed twice")
            task_codes = []
            for task in _need_list(cap.get("tasks", []), f"'tasks' of capability {cap_code}"):
                task_code = _need(task, "code", f"task in capability {cap_code}")
                if task_code in tasks:
                    raise RegistryError(
                        f"task {task_code!r} is listed under two capabilities "
                        f"({tasks[task_code].capability} and {cap_code}); a task belongs to one capability"
                    )
                names = []
                for ds in _need_list(task.get("datasets", []), f"'datasets' of task {task_code}"):
                    ds_name = _need(ds, "name", f"dataset in task {task_code}")
                    if ds_name in datasets:
                        raise RegistryError(
                            f"dataset {ds_name!r} is listed under two tasks ({datasets[ds_name].task} and "
                            f"{task_code}); a dataset belongs to one task"
                        )
                    metric = _need(ds, "metric", f"dataset {ds_name}")
                    for m in [metric, *_need_list(ds.get("secondary", []), f"'secondary' of dataset {ds_name}")]:
                        if m not in KNOWN_METRICS:
                            raise RegistryError(
                                f"dataset {ds_name!r} names unknown metric {m!r}; known: {', '.join(sorted(KNOWN_METRICS))}"
                            )
                    datasets[ds_name] = Dataset(
                        name=ds_name, task=task_code, capability=cap_code, metric=metric,
                        secondary=tuple(ds.get("secondary", [])), domain=ds.get("domain", ""),
                        language=ds.get("language", "zh"), lite=bool(ds.get("lite", False)),
                        chance=_chance(ds.get("chance"), ds_name), adapter=_adapter_name(ds.get("adapter"), ds_name),
                        weight=_weight(ds.get("weight", 1.0), ds_name),
                    )
                    names.append(ds_name)
                if not names:
                    raise RegistryError(f"task {task_code!r} has no datasets")
                tasks[task_code] = Task(task_code, task.get("name", task_code), cap_code, tuple(names),
                                        _weight(task.get("weight", 1.0), task_code))
                task_codes.append(task_code)
            if not task_codes:
                raise RegistryError(f"capability {cap_code!r} has no tasks")
            capabilities[cap_code] = Capability(cap_code, cap.get("name", cap_code), tuple(task_codes),
                                                _weight(cap.get("weight", 1.0), cap_code))
        if not datasets:
            raise RegistryError("registry holds no datasets")
        return cls(str(data["name"]), str(data["version"]), str(data.get("baseline", "")),
                   capabilities, tasks, datasets, str(data.get("source", "")))

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        """Read a registry JSON file (UTF-8); every way it can be malformed is a RegistryError naming it."""
        from tenfold.core.errors import BadInputError, MissingDataError
        from tenfold.core.io import read_json

        path = Path(path)
        try:
            data = read_json(path, max_bytes=4 * 2**20)
        except MissingDataError:
            raise RegistryError(f"registry file {path} does not exist") from None
        except BadInputError as error:
            raise RegistryError(f"registry file {path} is not valid UTF-8 JSON: {error}") from None
        try:
            return cls.from_dict(data)
        except RegistryError as error:
            raise RegistryError(f"registry file {path}: {error}") from None

    def select(self, selection: list[str] | str | None = None) -> list[str]:
        """Dataset names matching any label of ``selection`` (None = all), in registry order."""
        if selection is None:
            return list(self.datasets)
        if isinstance(selection, str):
            selection = [s for s in selection.split(",") if s.strip()]
        labels = [s.strip() for s in selection]
        every = set().union(*(d.labels for d in self.datasets.values()))
        for label in labels:
            if label not in every:
                raise RegistryError(f"selection label {label!r} matches nothing in {self.name}; "
                                    f"use cap:CODE, task:CODE, ds:NAME, domain:NAME, lang:CODE or lite")
        chosen = [name for name, d in self.datasets.items() if d.labels & set(labels)]
        if not chosen:
            raise RegistryError("the selection is empty")
        return chosen


def _need(node: dict[str, Any], key: str, what: str) -> str:
    if not isinstance(node, dict) or not node.get(key):
        raise RegistryError(f"{what} has no {key!r}")
    return str(node[key])


def _need_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RegistryError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _chance(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) < 100.0:
        raise RegistryError(f"chance level of {where!r} is {value!r}; give a number in [0, 100) or leave it out")
    return float(value)


def _adapter_name(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RegistryError(f"adapter of {where!r} must be a name, got {type(value).__name__}")
    return value


def _weight(value: Any, where: str) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RegistryError(f"weight of {where!r} is not a number: {str(value)[:40]!r}") from None
    if not weight >= 0 or weight == float("inf"):  # also catches NaN
        raise RegistryError(f"weight of {where!r} is negative, infinite or NaN ({str(value)[:40]}); weights must be finite and >= 0")
    return weight


def _load_bundled(filename: str) -> Registry:
    text = resources.files("tenfold.cuge").joinpath("data", filename).read_text(encoding="utf-8")
    return Registry.from_dict(json.loads(text))


def cuge_registry() -> Registry:
    """The full CUGE v2 hierarchy: 7 capabilities, 18 tasks, 21 datasets."""
    return _load_bundled("cuge_registry.json")


def mini_registry() -> Registry:
    """The CUGE-mini hierarchy (7 capabilities, 10 datasets built by ``tenfold cuge mini build``)."""
    return _load_bundled("mini_registry.json")
