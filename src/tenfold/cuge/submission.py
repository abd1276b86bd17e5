"""The submission checker and scorer for the one-file-per-dataset layout (``<Dataset>.jsonl``).

A benchmark data folder holds ``<Dataset>/{train,valid,test_public,test_private}.jsonl``; a
submission folder (or zip) holds ``<Dataset>.jsonl`` predictions for some or all datasets plus an
optional ``metadata.json``. Every problem is a SubmissionError naming file, line and fix.
"""

from __future__ import annotations

import difflib
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tenfold.core.errors import MissingDataError
from tenfold.cuge.adapters import ADAPTERS, Adapter
from tenfold.cuge.jsonl import SubmissionError, read_jsonl
from tenfold.cuge.metrics import metric_versions
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import SCORING_VERSION

METADATA_FILE = "metadata.json"
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_FILES = 64
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")


@dataclass
class SubmissionScore:
    """Per-dataset metrics of one submission; ``raw`` holds each dataset's primary metric (0-100)."""

    system: str
    datasets: dict[str, dict[str, float]]
    raw: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self, registry: Registry) -> dict[str, Any]:
        """The stored score file: scores plus every version that produced them."""
        return {
            "system": self.system,
            "registry": registry.name,
            "registry_version": registry.version,
            "metric_versions": metric_versions(),
            "scoring_version": SCORING_VERSION,
            "metadata": self.metadata,
            "raw": self.raw,
            "datasets": self.datasets,
            "missing": self.missing,
            "warnings": self.warnings,
        }


def _adapter(registry: Registry, dataset: str) -> Adapter:
    name = registry.datasets[dataset].adapter
    if name is None or name not in ADAPTERS:
        raise SubmissionError(f"dataset {dataset!r} has no file adapter in registry {registry.name}; "
                              f"only datasets with an adapter can be checked offline")
    return ADAPTERS[name]


def prediction_files(submission: Path, registry: Registry) -> dict[str, Path]:
    """Map dataset -> prediction file; an unknown file name is refused with the closest known name."""
    if not submission.is_dir():
        raise MissingDataError(f"submission folder {submission} does not exist")
    known = {f"{d}.jsonl": d for d in registry.datasets}
    lowered = {k.lower(): k for k in known}
    found: dict[str, Path] = {}
    for path in sorted(submission.iterdir()):
        if path.name == METADATA_FILE or path.name.startswith("."):
            continue
        if path.is_dir():
            raise SubmissionError(f"{path.name}/ is a folder; a submission holds only <Dataset>.jsonl files")
        if path.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise SubmissionError(f"{path.name}: nested archives are refused; unpack it into the submission")
        if path.name in known:
            found[known[path.name]] = path
            continue
        close = difflib.get_close_matches(path.name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f"; did you mean {lowered[close[0]]}?" if close else f"; expected names like {next(iter(known))}"
        raise SubmissionError(f"unknown prediction file {path.name!r}{hint}")
    if not found:
        raise MissingDataError(f"{submission} holds no <Dataset>.jsonl prediction files for {registry.name}")
    return found


def read_metadata(submission: Path, *, required: bool) -> dict[str, Any]:
    """Read ``metadata.json`` ({system, organisation, honour_code: true, ...})."""
    path = submission / METADATA_FILE
    if not path.exists():
        if required:
            raise SubmissionError(f"{METADATA_FILE} is missing; it must name the system and set honour_code: true")
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SubmissionError(f"{METADATA_FILE} is not UTF-8 JSON: {error}") from None
    if not isinstance(meta, dict) or not str(meta.get("system", "")).strip():
        raise SubmissionError(f"{METADATA_FILE} must be an object with a non-empty 'system'")
    if required and meta.get("honour_code") is not True:
        raise SubmissionError(f"{METADATA_FILE}: honour_code must be true (no human labels of the test set were used)")
    return meta


def _gold(data_dir: Path, dataset: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    folder = data_dir / dataset
    public, private = folder / "test_public.jsonl", folder / "test_private.jsonl"
    if not public.exists() or not private.exists():
        raise MissingDataError(f"benchmark data for {dataset} not found: expected {public} and {private} "
                               f"(build CUGE-mini with `tenfold cuge mini build`)")
    return read_jsonl(public), read_jsonl(private)


def check_predictions(path: Path, dataset: str, adapter: Adapter, public: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate one prediction file against the public inputs; returns predictions in input order."""
    records = read_jsonl(path)
    by_id: dict[Any, dict[str, Any]] = {}
    duplicates = []
    for number, record in enumerate(records, start=1):
        if "id" not in record:
            raise SubmissionError(f"{path.name} line {number}: no 'id' field")
        if record["id"] in by_id:
            duplicates.append(record["id"])
        by_id[record["id"]] = record
    expected = [r["id"] for r in public]
    if duplicates:
        raise SubmissionError(f"{path.name}: duplicate ids (first 10): {duplicates[:10]}")
    missing = [i for i in expected if i not in by_id]
    extra = [i for i in by_id if i not in set(expected)]
    if missing or extra or len(records) != len(expected):
        raise SubmissionError(
            f"{path.name}: {len(records)} records for {len(expected)} test inputs; "
            f"missing ids (first 10): {missing[:10]}; extra ids (first 10): {extra[:10]}"
        )
    warnings = []
    ordered = []
    line_of = {r["id"]: n for n, r in enumerate(records, start=1)}
    empty = 0
    for source in public:
        record = by_id[source["id"]]
        if adapter.field not in record:
            raise SubmissionError(f"{path.name} line {line_of[source['id']]}: no {adapter.field!r} field")
        problem = adapter.check(record[adapter.field], source)
        if problem:
            raise SubmissionError(f"{path.name} line {line_of[source['id']]} (id {source['id']!r}): {problem}")
        if adapter.empty_is_warning and not str(record[adapter.field]).strip():
            empty += 1
        ordered.append(record)
    if empty:
        warnings.append(f"{dataset}: {empty} empty predictions scored as 0")
    return ordered, warnings


def score_submission(submission: str | Path, data_dir: str | Path, registry: Registry, *,
                     system: str | None = None, require_metadata: bool = False) -> SubmissionScore:
    """Validate every prediction file and compute each dataset's metrics (partial submissions allowed)."""
    submission, data_dir = Path(submission), Path(data_dir)
    files = prediction_files(submission, registry)
    meta = read_metadata(submission, required=require_metadata)
    name = system or str(meta.get("system") or submission.name)
    datasets: dict[str, dict[str, float]] = {}
    raw: dict[str, float] = {}
    warnings: list[str] = []
    for dataset, path in files.items():
        adapter = _adapter(registry, dataset)
        public, private = _gold(data_dir, dataset)
        predictions, notes = check_predictions(path, dataset, adapter, public)
        gold_by_id = {g["id"]: g for g in private}
        gold = [gold_by_id[p["id"]] for p in public]
        values = adapter.score(predictions, gold)
        metric = registry.datasets[dataset].metric
        if not math.isfinite(values[metric]):
            raise SubmissionError(f"{dataset}: metric {metric} is not finite")
        datasets[dataset] = values
        raw[dataset] = values[metric]
        warnings.extend(notes)
        if adapter.name == "translation" and values.get("prediction_cjk_ratio", 100) < 30:
            warnings.append(f"{dataset}: predictions are mostly non-Chinese; are source and target reversed?")
    missing = [d for d in registry.datasets if d not in files]
    return SubmissionScore(name, datasets, raw, warnings, missing, meta)


def safe_extract_zip(archive: str | Path, destination: str | Path, *, max_bytes: int = MAX_UNPACKED_BYTES,
                     max_files: int = MAX_FILES) -> Path:
    """Unpack a submission zip, refusing zip-slip paths, links, nested archives and oversized content."""
    destination = Path(destination)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise SubmissionError(f"the upload is not a readable zip archive: {error}") from None
    with bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        if len(members) > max_files:
            raise SubmissionError(f"the zip holds {len(members)} files; at most {max_files} are accepted")
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise SubmissionError(f"the zip unpacks to {total} bytes; the limit is {max_bytes}")
        for member in members:
            path = PurePosixPath(member.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or member.filename.startswith(("/", "\\")):
                raise SubmissionError(f"zip member {member.filename!r} escapes the archive (zip-slip); refused")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise SubmissionError(f"zip member {member.filename!r} is a symbolic link; refused")
            if path.name.lower().endswith(ARCHIVE_SUFFIXES):
                raise SubmissionError(f"zip member {member.filename!r} is a nested archive; refused")
        destination.mkdir(parents=True, exist_ok=True)
        for member in members:
            # Files are flattened to their base name: the layout is one folder of <Dataset>.jsonl.
            target = destination / PurePosixPath(member.filename.replace("\\", "/")).name
            with bundle.open(member) as source:
                data = source.read(max_bytes + 1)
            if len(data) > member.file_size or len(data) > max_bytes:
                raise SubmissionError(f"zip member {member.filename!r} is larger than its header says; refused")
            target.write_bytes(data)
    return destination
